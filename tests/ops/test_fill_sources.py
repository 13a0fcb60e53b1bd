"""Where the content-aware fill takes its pixels from (surroundings first, the user's
sampling and exclude areas) and structure before texture (edges crossing the hole)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.ops.inpaint import InpaintOptions, MaskProblem, inpaint
from photoforge.ops.patchmatch import fill, source_area

BEIGE = np.float32((0.78, 0.74, 0.68))


def smooth_noise(n: int, rng, sigma: float = 1.2) -> np.ndarray:
    return cv2.GaussianBlur(rng.normal(0, 1, (n, n)).astype(np.float32), (0, 0), sigma)


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def share_near(colours: np.ndarray, palette: np.ndarray, delta_e: float = 5.0) -> float:
    """Share of `colours` (N×3 RGB) within ΔE `delta_e` (CIE76) of some colour of `palette`."""
    ref = np.unique(np.round(lab(palette[None])[0], 1), axis=0).astype(np.float32)
    query = lab(colours[None])[0].astype(np.float32)
    near = np.zeros(len(query), bool)
    for i in range(0, len(query), 1024):  # nearest palette colour, a block of queries at a time
        d2 = ((query[i:i + 1024, None, :] - ref[None]) ** 2).sum(axis=2)
        near[i:i + 1024] = d2.min(axis=1) < delta_e ** 2
    return float(np.mean(near))


def face_scene(seed: int, n: int = 200):
    """Beige backdrop, a face with hair 35 px left of the hole, a black table whose top edge
    the hole's bottom rests on: the layout of the astronaut photo's shuttle, where filling
    from anywhere pasted the hair and face (this scene: 6–9 % of the fill before)."""
    rng = np.random.default_rng(seed)
    noise = smooth_noise(n, rng)
    img = BEIGE + 0.05 * noise[..., None]
    yy, xx = np.mgrid[:n, :n]
    face = (yy - 70) ** 2 / 30 ** 2 + (xx - 40) ** 2 / 24 ** 2 <= 1
    hair = ((yy - 58) ** 2 / 36 ** 2 + (xx - 40) ** 2 / 30 ** 2 <= 1) & ~face & (yy < 80)
    img[hair] = (0.45, 0.3, 0.12) + 0.08 * noise[hair][:, None]
    img[face] = (0.93, 0.62, 0.55) + 0.03 * noise[face][:, None]
    for cx in (31, 49):
        img[(yy - 64) ** 2 + (xx - cx) ** 2 <= 9] = (0.1, 0.1, 0.1)
    img[(np.abs(yy - 84) <= 2) & (np.abs(xx - 40) <= 9)] = (0.7, 0.2, 0.25)
    img[150:, 60:] = (0.05, 0.05, 0.06) + 0.02 * noise[150:, 60:, None]
    hole = np.zeros((n, n), bool)
    hole[40:152, 110:185] = True
    img = np.clip(img, 0, 1).astype(np.float32)
    subject = (face | hair) & (np.abs(img - BEIGE).max(axis=2) > 0.15)
    return img, hole, subject


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_subject_beside_the_hole_is_not_pasted_into_it(seed):
    img, hole, subject = face_scene(seed)
    out = fill(img, hole, seed=seed)
    assert np.array_equal(out[~hole], img[~hole])
    assert share_near(out[hole], img[subject]) < 0.01
    # What it holds instead: the backdrop, and the table's top rows that were in the hole.
    backdrop = np.abs(out[hole] - BEIGE).max(axis=1) < 0.2
    assert backdrop.mean() > 0.97


def two_textures(seed: int, n: int = 160):
    """Warm noise on the left, cool noise on the right, a hole across the border."""
    rng = np.random.default_rng(seed)
    noise = smooth_noise(n, rng)[..., None]
    img = np.empty((n, n, 3), np.float32)
    img[:, : n // 2] = (0.8, 0.45, 0.2) + 0.06 * noise[:, : n // 2]
    img[:, n // 2:] = (0.2, 0.45, 0.8) + 0.06 * noise[:, n // 2:]
    hole = np.zeros((n, n), bool)
    hole[55:105, 55:105] = True
    return np.clip(img, 0, 1), hole


def warm(px: np.ndarray) -> np.ndarray:
    return px[:, 0] > px[:, 2]


def test_the_sampling_area_is_the_only_source():
    img, hole = two_textures(3)
    both = fill(img, hole)
    assert 0.3 < warm(both[hole]).mean() < 0.7  # without one, each side is continued
    left = np.zeros(hole.shape, bool)
    left[:, :40] = True  # a band of the warm side only, away from the hole
    out = fill(img, hole, sample=left)
    assert warm(out[hole]).all()
    right = np.fliplr(left)
    assert not warm(fill(img, hole, sample=right)[hole]).any()
    with pytest.raises(ValueError, match="sampling area"):
        fill(img, hole, sample=hole)


def test_no_fill_pixel_comes_from_the_excluded_area():
    """A stripe of colours found nowhere else touches the hole: excluded, none of them
    reaches the fill, though without the exclusion its pattern is continued into it."""
    rng = np.random.default_rng(4)
    n = 160
    img = (BEIGE + 0.05 * smooth_noise(n, rng)[..., None]).astype(np.float32)
    stripe = np.zeros((n, n), bool)
    stripe[:, 70:90] = True
    palette = np.float32([(0.9, 0.1, 0.6), (0.1, 0.8, 0.3), (0.2, 0.2, 0.9)])
    img[stripe] = palette[(np.nonzero(stripe)[0] // 5) % 3]
    hole = np.zeros((n, n), bool)
    hole[50:110, 50:110] = True
    unique = palette
    assert share_near(fill(img, hole)[hole], unique, 10) > 0.1
    exclude = stripe & ~hole
    for out in (fill(img, hole, exclude=exclude),
                fill(img, hole, exclude=exclude, sample=np.ones_like(hole))):
        assert share_near(out[hole], unique, 10) == 0


def test_inpaint_takes_sample_and_exclude_and_reaches_a_far_sampling_area():
    """inpaint() crops around each part of the mask; a sampling area in a far corner (of
    stripes, found nowhere else) is still reached, in 16 bit with alpha, and nothing
    outside the mask changes. (The seam's colour matching may shift the fill's tone
    towards the ring's, so the test looks at the stripes, not at the colour.)"""
    rng = np.random.default_rng(5)
    n = 400
    img = np.repeat(0.5 + 0.03 * smooth_noise(n, rng)[..., None], 3, axis=2)
    xx = np.arange(n)
    img[330:, 330:] = np.where(xx[330:] // 3 % 2 == 0, 0.25, 0.75)[None, :, None]
    pixels = np.rint(np.clip(img, 0, 1) * 65535).astype(np.uint16)
    alpha = np.full((n, n), 65535, np.uint16)
    mask = np.zeros((n, n), np.uint8)
    mask[150:210, 150:210] = 255
    sample = np.zeros((n, n), np.uint8)
    sample[340:, 340:] = 1
    image = ImageData(pixels, alpha=alpha.copy())

    def stripes(result: ImageData) -> float:
        grey = result.pixels[155:205, 155:205].astype(np.float64).mean(axis=2) / 65535
        return float(np.abs(np.diff(grey, axis=1)).mean())

    out = inpaint(image, mask, InpaintOptions(method="fill"), sample=sample)
    assert out.pixels.dtype == np.uint16 and out.alpha.dtype == np.uint16
    np.testing.assert_array_equal(out.pixels[mask == 0], pixels[mask == 0])
    np.testing.assert_array_equal(out.alpha, alpha)
    assert stripes(out) > 0.1  # steps of 0.5 every 3 px: 0.17 if copied without a seam
    # Default (no sampling area): the grain around the hole, not the far stripes.
    assert stripes(inpaint(image, mask, InpaintOptions(method="fill"))) < 0.03
    # Excluding the corner as well leaves nothing to sample: a clear error.
    with pytest.raises(MaskProblem, match="sampling area is empty"):
        inpaint(image, mask, InpaintOptions(method="fill"), sample=sample, exclude=sample)
    with pytest.raises(MaskProblem, match="exclude mask is 10×10"):
        inpaint(image, mask, exclude=np.zeros((10, 10), np.uint8))


def line_scene(slope: float, seed: int, n: int = 160, half_width: float = 2.5):
    """A dark line 5 px wide across grey grain; `side` = signed distance to its axis."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n].astype(np.float32)
    side = (yy - (slope * (xx - n / 2) + n / 2)) / np.sqrt(1 + slope ** 2)
    img = np.repeat(0.6 + 0.1 * smooth_noise(n, rng, 1.0)[..., None], 3, axis=2)
    img[np.abs(side) <= half_width] = (0.1, 0.1, 0.15)
    hole = (yy - n / 2) ** 2 + (xx - n / 2) ** 2 <= 36 ** 2
    return np.clip(img, 0, 1).astype(np.float32), hole, side


@pytest.mark.parametrize("slope", [0.0, 0.35, 1.0, -0.6])
def test_a_line_crossing_the_hole_is_continued(slope):
    """Before the structure pass, 24–59 % of the line's axis inside this 72 px hole came
    back dark (the texture pass alone breaks a thin line off); now all of it, within 3 px."""
    img, hole, side = line_scene(slope, seed=1)
    out = fill(img, hole, seed=1)
    dark = out.mean(axis=2) < 0.35
    assert dark[hole & (np.abs(side) <= 1.5)].mean() > 0.95
    assert dark[hole & (np.abs(side) > 2.5 + 3)].mean() < 0.01


def test_a_step_edge_between_two_textures_stays_where_it_was():
    rng = np.random.default_rng(6)
    n = 160
    yy, xx = np.mgrid[:n, :n].astype(np.float32)
    side = (yy - (0.5 * (xx - n / 2) + n / 2)) / np.sqrt(1.25)
    a, b = np.float32((0.75, 0.45, 0.2)), np.float32((0.2, 0.3, 0.65))
    img = np.clip(np.where((side < 0)[..., None], a, b) + 0.08 * smooth_noise(n, rng, 1.0)[..., None], 0, 1)
    hole = (yy - 80) ** 2 + (xx - 80) ** 2 <= 32 ** 2
    out = fill(img.astype(np.float32), hole)
    on_a = np.linalg.norm(out - a, axis=2) < np.linalg.norm(out - b, axis=2)
    far = hole & (np.abs(side) > 3)
    assert (on_a[far] == (side[far] < 0)).mean() > 0.99


def test_same_seed_same_fill_with_areas_and_structure():
    img, hole, _ = line_scene(0.35, seed=2)
    exclude = np.zeros(hole.shape, bool)
    exclude[:20] = True
    sample = np.ones(hole.shape, bool)
    sample[:, :10] = False
    runs = [fill(img, hole, exclude=exclude, sample=sample, seed=s) for s in (3, 3, 4)]
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def grain(n: int = 256) -> np.ndarray:
    return np.repeat(0.5 + 0.05 * smooth_noise(n, np.random.default_rng(0), 1.0)[..., None], 3, axis=2)


def test_the_automatic_source_area_grows_only_as_the_texture_needs():
    n = 256
    hole = np.zeros((n, n), bool)
    hole[104:152, 104:152] = True
    away = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, 5)
    plain = grain().astype(np.float32)
    allowed, reach = source_area(plain, hole)
    assert np.array_equal(allowed, away <= reach)
    assert reach == 28  # grain: near patches match as well as any, the floor of 4 patches of 7 px
    # Red dots on the hole's border and 45 px or more away, none in between: the border's
    # dotted patches find their like only farther out, and the area grows to take them.
    dotted = plain.copy()
    ys, xs = np.nonzero((away > 4) & (away <= 5))  # a ring of dots just outside the hole
    for cy, cx in zip(ys[::8], xs[::8]):
        cv2.circle(dotted, (int(cx), int(cy)), 3, (0.9, 0.2, 0.2), -1)
    for cy in range(6, n, 12):
        for cx in range(6, n, 12):
            if away[cy, cx] >= 45:
                cv2.circle(dotted, (cx, cy), 3, (0.9, 0.2, 0.2), -1)
    dotted[hole] = plain[hole]
    assert all(source_area(dotted, hole, seed=s)[1] >= 56 for s in range(3))
    # A user's sampling area is taken as it is.
    corner = np.zeros((n, n), bool)
    corner[:30, :30] = True
    allowed, reach = source_area(plain, hole, sample=corner)
    assert np.array_equal(allowed, corner) and reach == pytest.approx(away[corner].max())


def test_cli_inpaint_sample_and_exclude_masks(tmp_path):
    import subprocess
    import sys

    from PIL import Image

    from photoforge.core.imageio import load_image
    from tests.conftest import ROOT

    rng = np.random.default_rng(7)
    n = 160
    img = np.repeat(0.5 + 0.03 * smooth_noise(n, rng)[..., None], 3, axis=2)
    img[120:, 120:] = np.where(np.arange(n)[120:] // 3 % 2 == 0, 0.25, 0.75)[None, :, None]
    photo = np.rint(img * 255).astype(np.uint8)
    mask = np.zeros((n, n), np.uint8)
    mask[50:90, 50:90] = 255
    corner = np.zeros((n, n), np.uint8)
    corner[125:, 125:] = 255
    for name, a in (("photo.png", photo), ("mask.png", mask), ("corner.png", corner),
                    ("small.png", corner[:20, :30])):
        Image.fromarray(a).save(tmp_path / name)

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "photoforge", "inpaint", tmp_path / "photo.png", "--mask",
                               tmp_path / "mask.png", "--method", "fill", *extra], capture_output=True, text=True,
                              cwd=ROOT, timeout=300, check=False)

    result = run("--sample-mask", tmp_path / "corner.png", "--exclude-mask", tmp_path / "mask.png",
                 "-o", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr
    out = load_image(tmp_path / "out.png").pixels
    np.testing.assert_array_equal(out[mask == 0], photo[mask == 0])
    steps = np.abs(np.diff(out[55:85, 55:85].astype(float).mean(axis=2), axis=1)).mean()
    assert steps > 25  # the corner's stripes (128 every 3 px), not the grain around the hole
    result = run("--exclude-mask", tmp_path / "small.png", "-o", tmp_path / "o2.png")
    assert result.returncode == 2 and "small.png" in result.stderr and "30×20" in result.stderr
    result = run("--sample-mask", tmp_path / "mask.png", "-o", tmp_path / "o3.png")
    assert result.returncode == 2 and "mask.png: the sampling area is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_corner_hidden_by_the_hole_is_drawn_from_its_two_edges():
    """A dark table on a grainy backdrop; the hole hides its top-left corner. The structure
    pass joins the table's top and side edges, which enter the hole at right angles, at a
    corner: what it draws is dark inside the table and light outside, within 3 px; the
    whole fill then keeps the table's outline."""
    from photoforge.ops.structure import continue_edges

    rng = np.random.default_rng(8)
    n = 160
    img = np.repeat(0.75 + 0.04 * smooth_noise(n, rng, 1.0)[..., None], 3, axis=2).astype(np.float32)
    img[90:, 60:] = 0.08 + 0.02 * smooth_noise(n, rng, 1.0)[90:, 60:, None]
    yy, xx = np.mgrid[:n, :n]
    hole = (yy - 92) ** 2 + (xx - 64) ** 2 <= 30 ** 2
    inside = (yy >= 90 + 3) & (xx >= 60 + 3)
    outside = (yy < 90 - 3) | (xx < 60 - 3)
    work = img.copy()
    work[hole] = 1.0
    valid = cv2.erode((~hole).view(np.uint8), np.ones((7, 7), np.uint8), borderType=cv2.BORDER_CONSTANT,
                      borderValue=0) > 0
    drawn = continue_edges(work, hole, ~hole, valid, 7)
    assert drawn[90, 70:90].all() and drawn[100:115, 60].all()  # both edges, up to near the corner
    assert not (drawn & ~hole).any()
    dark = work.mean(axis=2) < 0.4
    assert dark[drawn & inside].all() and not dark[drawn & outside].any()
    out = fill(img, hole, seed=1)
    dark = out.mean(axis=2) < 0.4
    assert dark[hole & inside].mean() > 0.97 and dark[hole & outside].mean() < 0.01


def test_a_sampling_area_inside_the_grown_mask_is_a_clear_error():
    image = ImageData(np.full((80, 80, 3), 128, np.uint8))
    mask = np.zeros((80, 80), np.uint8)
    mask[30:50, 30:50] = 255
    ring = np.zeros((80, 80), np.uint8)
    ring[29:51, 29:51] = 1
    ring[30:50, 30:50] = 0  # one pixel around the mask: inside the 2 px it is grown by
    with pytest.raises(MaskProblem, match="sampling area is empty"):
        inpaint(image, mask, InpaintOptions(method="fill"), sample=ring)
