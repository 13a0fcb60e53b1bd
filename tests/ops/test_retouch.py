"""Clone stamp and healing brush maths (ops/retouch.py)."""
from __future__ import annotations

import numpy as np

from photoforge.core.document import CoverageStroke
from photoforge.ops.retouch import clone_region, heal_region


def stroke(shape, points, radius=12, hardness=1.0, opacity=1.0) -> CoverageStroke:
    s = CoverageStroke(shape, opacity, hardness)
    s.dab(*points[0], radius)
    for x, y in points[1:]:
        s.line_to(x, y, radius)
    s.end()
    return s


def textured(h=160, w=240, seed=0) -> np.ndarray:
    """16-bit: a left-to-right tone ramp plus fine texture."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.15, 0.75, w)[None, :, None]
    texture = rng.normal(0, 0.04, (h, w, 3))
    return (np.clip(ramp + texture, 0, 1) * 65535).round().astype(np.uint16)


def test_a_hard_clone_copies_the_source_exactly_and_blends_its_rim():
    pixels = textured()
    s = stroke(pixels.shape[:2], [(180, 80), (200, 80)])
    (y0, y1, x0, x1), alpha = s.rect, s.coverage()
    out = clone_region(pixels, s.rect, alpha, (0, -150))
    assert out.dtype == np.uint16 and out.shape == (y1 - y0, x1 - x0, 3)
    full = alpha == 1.0
    src = pixels[y0:y1, x0 - 150:x1 - 150]
    np.testing.assert_array_equal(out[full], src[full])
    np.testing.assert_array_equal(out[alpha == 0], pixels[y0:y1, x0:x1][alpha == 0])
    rim = (alpha > 0.2) & (alpha < 0.8)
    assert rim.any()
    between = (out[rim].astype(int) - src[rim]) * (out[rim].astype(int) - pixels[y0:y1, x0:x1][rim])
    assert (between <= 0).all()  # a blend lies between the two


def test_a_source_off_the_image_changes_nothing_there():
    pixels = textured()
    s = stroke(pixels.shape[:2], [(30, 80)])
    out = clone_region(pixels, s.rect, s.coverage(), (0, -100))  # source x < 0
    y0, y1, x0, x1 = s.rect
    np.testing.assert_array_equal(out, pixels[y0:y1, x0:x1])


def test_healing_keeps_the_source_texture_and_takes_the_destination_tone():
    pixels = textured()
    s = stroke(pixels.shape[:2], [(190, 80), (215, 80)], radius=14)
    (gy0, gy1, gx0, gx1), healed = heal_region(pixels, s.rect, s.coverage(), (0, -160))
    assert healed.dtype == np.uint16
    y0, y1, x0, x1 = s.rect
    alpha = np.zeros((gy1 - gy0, gx1 - gx0))
    alpha[y0 - gy0:y1 - gy0, x0 - gx0:x1 - gx0] = s.coverage()
    core = alpha == 1.0
    dst = pixels[gy0:gy1, gx0:gx1].astype(float)
    src = pixels[gy0:gy1, gx0 - 160:gx1 - 160].astype(float)
    out = healed.astype(float)
    clone_shift = abs((src - dst)[core].mean()) / 65535
    heal_shift = abs((out - dst)[core].mean()) / 65535
    assert clone_shift > 0.3 and heal_shift < 0.02  # cloning would be far darker; healing is not
    detail = lambda a: a - a.mean(axis=(0, 1))  # noqa: E731
    corr = np.corrcoef(detail(out[core]).ravel(), detail(src[core]).ravel())[0, 1]
    assert corr > 0.9  # …and it is the source's texture


def test_healing_flat_onto_flat_gives_the_destination():
    pixels = np.full((80, 120, 3), 40000, np.uint16)
    pixels[:, :40] = 10000
    s = stroke(pixels.shape[:2], [(90, 40)], radius=10, hardness=0.5)
    grown, healed = heal_region(pixels, s.rect, s.coverage(), (0, -70))
    y0, y1, x0, x1 = grown
    assert np.abs(healed.astype(int) - pixels[y0:y1, x0:x1]).max() <= 1
