"""A print's paper border: found on a scan that kept it, not on a backdrop or a sky; a
yellowed one takes its cast out of the whole print, a white one leaves a warm-lit picture
warm, and the report says where the cast was read."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.core.imageio import load_image
from photoforge.ops.color import correct_color, measure_fading
from photoforge.ops.paper_border import find_border, inside
from tests.conftest import SAMPLES
from tests.ops.test_color import as_float, as_uint8, decode, encode, psnr
from tests.ops.test_color_scenes import warm_scene

PAPER = (244, 243, 239)


@pytest.fixture(scope="module", params=["astronaut", "coffee"])
def sample(request) -> np.ndarray:
    return load_image(SAMPLES / f"{request.param}.jpg").pixels


def bordered(pixels: np.ndarray, frac: float = 0.05, paper=PAPER, seed: int = 0) -> np.ndarray:
    h, w = pixels.shape[:2]
    b = round(frac * min(h, w))
    out = np.empty((h + 2 * b, w + 2 * b, 3), np.float64)
    out[:] = paper
    out[b:b + h, b:b + w] = pixels
    out += np.random.default_rng(seed).normal(0, 1.2, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def yellowed(pixels: np.ndarray, stain=(0.02, 0.07, 0.25)) -> np.ndarray:
    """A yellowed base: the same density added to every tone (a gain in linear light)."""
    return as_uint8(encode(decode(as_float(pixels)) * 10.0 ** -np.array(stain, np.float32)))


def lab(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(as_float(pixels), cv2.COLOR_RGB2Lab)


def test_a_border_is_found_with_its_colour_and_depth(sample):
    scan = bordered(sample, 0.05)
    border = find_border(scan.astype(np.float32) / 255)
    assert border is not None and border.sides == 4
    assert np.allclose(np.array(border.colour) * 255, PAPER, atol=1.5)
    assert abs(border.depth - round(0.05 * min(sample.shape[:2]))) <= 1


def test_inside_is_the_picture_without_its_border(sample):
    scan = bordered(sample, 0.05).astype(np.float32) / 255
    b = round(0.05 * min(sample.shape[:2]))
    picture = inside(scan, find_border(scan))
    assert np.array_equal(picture, scan[b + 2:-(b + 2), b + 2:-(b + 2)])
    h, w = scan.shape[:2]
    turned = cv2.warpAffine(scan, cv2.getRotationMatrix2D((w / 2, h / 2), 1.2, 1.0), (w, h),
                            borderValue=(0.35, 0.35, 0.35))
    picture = inside(turned, find_border(turned))
    rim = np.concatenate([picture[:2].reshape(-1, 3), picture[-2:].reshape(-1, 3),
                          picture[:, :2].reshape(-1, 3), picture[:, -2:].reshape(-1, 3)])
    paper_like = np.abs(rim * 255 - np.array(PAPER)).max(axis=1) < 8
    assert paper_like.mean() < 0.02  # a tilted border's far end is cut off too


def test_a_crooked_print_on_a_grey_lid_still_shows_its_border(sample):
    scan = bordered(sample, 0.06)
    h, w = scan.shape[:2]
    turned = cv2.warpAffine(scan, cv2.getRotationMatrix2D((w / 2, h / 2), 1.2, 1.0), (w, h),
                            borderValue=(90, 90, 90))
    border = find_border(turned.astype(np.float32) / 255)
    assert border is not None and border.sides >= 3


def test_no_border_on_a_photo_or_on_a_backdrop_that_does_not_end_in_straight_lines(sample):
    assert find_border(sample.astype(np.float32) / 255) is None
    # An object on a seamless white backdrop: even and light at every edge, but the picture
    # starts along a curve, not at one depth along each side.
    h, w = sample.shape[:2]
    backdrop = np.full(sample.shape, PAPER, np.uint8)
    blob = np.zeros((h, w), np.uint8)
    cv2.ellipse(blob, (w // 2, h // 2), (int(w * 0.42), int(h * 0.4)), 0, 0, 360, 255, -1)
    scene = np.where(blob[..., None] > 0, sample, backdrop)
    assert find_border(scene.astype(np.float32) / 255) is None


def test_a_yellowed_print_comes_back_with_its_paper_and_its_colours(sample):
    original = bordered(sample)
    aged = yellowed(original)
    report = measure_fading(aged)
    assert report.cast == "yellow" and report.from_border
    assert report.describe().endswith("(paper border)")
    out = correct_color(aged)
    b = round(0.05 * min(sample.shape[:2]))
    paper = lab(out)[:b].reshape(-1, 3).mean(axis=0)
    # all but 3 of the border's chroma goes (a cream paper keeps its tint): measured 3.3
    assert 2.5 < np.hypot(paper[1], paper[2]) < 4.0
    before = np.abs(lab(aged) - lab(original))[..., 2].mean()
    after = np.abs(lab(out) - lab(original))[..., 2].mean()
    assert after < 0.15 * before  # measured astronaut 10.8 → 0.8, coffee 6.6 → 0.6


def test_a_warm_lit_picture_on_white_paper_stays_warm(sample):
    """The light of the scene never fell on the border: a golden picture on white paper is
    a golden picture, not a yellowed print."""
    golden = as_uint8(encode(decode(as_float(sample)) * np.array([1.12, 0.97, 0.68], np.float32)))
    scan = bordered(golden)
    assert measure_fading(scan).is_identity
    np.testing.assert_array_equal(correct_color(scan), scan)


def test_a_yellowed_16_bit_print_stays_16_bit(sample):
    aged = yellowed(bordered(sample)).astype(np.uint16) * 257
    out = correct_color(aged)
    assert out.dtype == np.uint16 and out.shape == aged.shape
    assert measure_fading(aged).from_border


def test_a_grey_print_on_yellowed_paper_is_left_to_the_stain_measure(sample):
    """A monochrome print's yellowing is read by its stain measure, which wants the range
    lost with it (README, "Fade correction"): stained but with its blacks, it is left."""
    from photoforge.ops.color import is_monochrome

    grey = np.repeat(np.rint(sample @ np.array([0.2126, 0.7152, 0.0722])).astype(np.uint8)[..., None], 3, axis=2)
    aged = yellowed(bordered(grey))
    assert is_monochrome(aged) == (True, "sepia")
    assert measure_fading(aged).is_identity


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_warm_scene_on_white_paper_is_no_lost_dye(seed):
    """A lost cyan dye is told from a red-shadowed scene partly by its paper staying
    neutral; a white border is always neutral (the base carries no dye), so it is no
    evidence, and the picture inside it is measured as it would be without it. Before, these
    scenes with a border read as a lost dye at confidence up to 0.57."""
    warm = warm_scene(seed)
    on_paper = bordered(warm)
    report = measure_fading(on_paper)
    assert report.confidence <= measure_fading(warm).confidence + 0.05
    assert psnr(correct_color(on_paper), on_paper) >= 35


def _grey(pixels: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    y = (pixels.astype(np.float64) / 255) @ np.array([0.2126, 0.7152, 0.0722])
    y = lo + (hi - lo) * (y - y.min()) / max(y.max() - y.min(), 1e-6)
    return np.repeat(np.rint(255 * y).astype(np.uint8)[..., None], 3, axis=2)


def test_a_soft_grey_print_on_warm_paper_is_not_a_stained_one():
    """A stain yellows the picture's light tones with its paper; a neutral grey picture in a
    warm white border is a grey print on warm paper. Before, the border's warmth read as the
    stain of a silver print that had lost its range (this one: mild, confidence 0.11), and
    soft grey prints were stretched."""
    coffee = load_image(SAMPLES / "coffee.jpg").pixels
    scan = bordered(_grey(coffee, 0.45, 0.85), paper=(243, 242, 236))
    assert measure_fading(scan).is_identity
    np.testing.assert_array_equal(correct_color(scan), scan)


def test_a_stained_soft_grey_print_is_still_one(sample):
    """The stain on the picture too (the whole print yellowed): the stain measure reads it."""
    scan = yellowed(bordered(_grey(sample, 0.3, 0.8), paper=(246, 245, 241)), stain=(0.01, 0.04, 0.12))
    report = measure_fading(scan)
    assert report.faded != "none"
    assert not np.array_equal(correct_color(scan), scan)
