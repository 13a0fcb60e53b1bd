"""Scan intake (issue 13): find prints on synthetic flatbed scans with exact truth, cut them out,
and the `split` command's files, metadata and exit codes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from photoforge.ops.split import Print, extract, find_prints
from tests import scan_synth as ss

CASES = ["white_border_white_lid", "black_lid", "touching", "touching_black_lid", "dust", "glass_edge",
         "rounded_corners", "dark_and_light_white_lid", "dark_and_light_black_lid", "mixed_six"]


def edge_errors(truth, found):
    """Per side: the largest distance of the true side's end points from the found side's line."""
    f, t = np.asarray(found, float), np.asarray(truth, float)
    out = []
    for i in range(4):
        a, b = f[i], f[(i + 1) % 4]
        d = (b - a) / np.linalg.norm(b - a)
        n = np.array([-d[1], d[0]])
        out.append(max(abs((t[i] - a) @ n), abs((t[(i + 1) % 4] - a) @ n)))
    return out


@pytest.fixture(scope="module")
def cases():
    return ss.hard_cases(dpi=200)


@pytest.mark.parametrize("name", CASES)
def test_hard_case_found_in_reading_order(cases, name):
    """Every print, no extra, in reading order; angle to 0.2° and every edge to 1 px (the
    issue's goals; on the layouts and seed the method was developed on, bench_split.py
    reports held-out seeds)."""
    scan = cases[name]
    found = find_prints(scan.pixels)
    assert len(found) == len(scan.corners)
    for truth, angle, p in zip(scan.corners, scan.angles, found):  # same order = reading order
        assert abs(p.angle - angle) <= 0.2
        assert max(edge_errors(truth, p.corners)) <= 1.0


def test_extract_keeps_16_bit_and_size():
    scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5, 2.0), 7.0, seed=3)], dpi=100, size=(5, 4))
    (p,) = find_prints(scan.pixels)
    out = extract(scan.pixels, p)
    assert out.dtype == np.uint16 and out.shape[2] == 3
    assert abs(out.shape[1] - 300) <= 1 and abs(out.shape[0] - 200) <= 1
    trimmed = extract(scan.pixels, p, trim=5)
    assert trimmed.shape[:2] == (out.shape[0] - 10, out.shape[1] - 10)


def test_single_and_print_api():
    scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5, 2.0), -4.0, border=0.15, seed=4)], dpi=100, size=(5, 4))
    (p,) = find_prints(scan.pixels, single=True)
    assert abs(p.angle + 4.0) <= 0.2
    q = Print.from_corners(list(reversed(p.corners)))
    assert np.allclose(q.corners, p.corners) and abs(q.angle - p.angle) < 1e-9
    r = Print.from_rect(100, 80, 60, 40, 3.0)
    assert abs(r.size[0] - 60) < 1e-6 and abs(r.angle - 3.0) < 1e-9


def test_cli_split_keeps_format_icc_dpi_and_fails_on_blank(tmp_path):
    import tifffile
    from PIL import ImageCms

    from photoforge.cli import main
    from photoforge.core.imageio import load_image
    from photoforge.core.resolution import read_dpi

    scan = ss.make_scan([ss.PrintSpec((2.0, 1.5), (1.4, 1.2), 5.0, seed=5),
                         ss.PrintSpec((2.0, 1.5), (4.0, 1.3), -3.0, seed=6)], dpi=100, size=(5.5, 2.6))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, scan.pixels, photometric="rgb", iccprofile=icc, resolution=(100, 100),
                     resolutionunit="INCH")
    assert main(["split", str(src), "-o", str(tmp_path / "out")]) == 0
    outs = sorted((tmp_path / "out").glob("*.tif"))  # beside the batch journal
    assert [o.name for o in outs] == ["scan_1.tif", "scan_2.tif"]
    for o in outs:
        im = load_image(o)
        assert im.pixels.dtype == np.uint16 and im.icc_profile == icc
        assert read_dpi(o) == pytest.approx((100, 100))
    png = tmp_path / "p"
    assert main(["split", str(src), "-o", str(png), "--format", "png"]) == 0
    assert read_dpi(png / "scan_1.png") == pytest.approx((100, 100), abs=0.1)

    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((300, 400, 3), 235, np.uint8))
    assert main(["split", str(blank), "-o", str(tmp_path / "b")]) == 2
    assert main(["split", str(blank), str(src), "-o", str(tmp_path / "c")]) == 1


@pytest.mark.parametrize("lid", ["black", "white"])
def test_edges_carry_no_half_pixel_bias(lid):
    """Pixel centres at integers in both the synthetic truth and the detection: a print moved
    by a fraction of a pixel is found moved by that fraction (a half-pixel convention slip
    would show as a constant 0.5 px)."""
    signed = []
    for shift in (0.0, 0.25, 0.5, 0.75):
        scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5 + shift / 100, 2.0 + shift / 100), 3.0, seed=7)],
                            dpi=100, size=(5, 4), lid=lid, noise=0.002)
        (p,) = find_prints(scan.pixels)
        f, t = np.asarray(p.corners), scan.corners[0]
        for i in range(4):
            d = (f[(i + 1) % 4] - f[i]) / np.linalg.norm(f[(i + 1) % 4] - f[i])
            n = np.array([-d[1], d[0]])
            signed += [(t[i] - f[i]) @ n, (t[(i + 1) % 4] - f[i]) @ n]
    signed = np.array(signed)
    # a white lid's shadow deepens up to the paper, and read as lying beside a step it put
    # rises out of it 0.3 px inside (0.40 px at worst here before the step was corrected)
    assert np.abs(signed).max() <= (0.1 if lid == "black" else 0.3)
    assert abs(signed.mean()) <= (0.05 if lid == "black" else 0.2)


def _matches(scan, found, edge=1.5):
    """Whether the found prints are the true ones, one for one in reading order."""
    return len(found) == len(scan.corners) and all(
        max(edge_errors(t, p.corners)) <= edge for t, p in zip(scan.corners, found))


@pytest.mark.parametrize("name", ["touching_black_lid", "dark_and_light_black_lid"])
def test_weak_sides_on_a_black_lid_find_their_own_edge(name):
    """Development scans (seed 6) where a side was read 2.5–3 px off: beside a 3 px seam of
    black lid, the neighbour's white border steps far more than a darkish photo's own edge
    (the side locked onto the neighbour); and a dark print on a black lid, seen in few places
    per side, took a wrong slope from them (now re-read along the rectangle's direction)."""
    scan = ss.hard_cases(dpi=200, seed=6, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_seam_is_not_cut_on_across_a_third_print():
    """Development scan (black lid, seed 3): the stacked pair's 3 px seam, proven straight only
    over its own part, ran on across the print whose corner is 2 px from the pair and cut it
    in two; the group, far from one rectangle, is first cut where it leaves two."""
    scan = ss.hard_cases(dpi=200, seed=3, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_seam_proven_whole_is_not_cut_on_across_a_third_print():
    """Development scan (black lid, seed 14): the stacked pair's seam passed as proven over
    its whole line (straight and reaching out to an end), so the cut that leaves two
    rectangles was never tried; the seam ran on across the fifth print and each of the pair
    came out joined with half of it (2/5 +2). A group far from one rectangle is cut where it
    leaves two rectangles before any seam."""
    scan = ss.hard_cases(dpi=200, seed=14, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_seam_beside_a_dark_print_is_cut():
    """Two prints at one angle, 1 px apart, a white-bordered one beside a dark one: the lid
    in the gap is no darker than the dark photo (no valley), but the seam is straight and runs
    along both prints' sides."""
    w, dpi = 2.2, 100
    c1 = np.array([1.6, 1.9])
    th = np.radians(2.0)
    c2 = c1 + (w + 1.0 / dpi) * np.array([np.cos(th), np.sin(th)])
    scan = ss.make_scan([ss.PrintSpec((w, 3.0), tuple(c1), 2.0, border=0.15, seed=40),
                         ss.PrintSpec((w, 3.0), tuple(c2), 2.0, content="dark", seed=41)],
                        dpi=dpi, size=(5.8, 4.0), seed=2)
    assert _matches(scan, find_prints(scan.pixels))


def test_slanting_photo_line_is_not_a_seam():
    """A thin dark straight line across a photo at a slant to its sides (a wire, a wall's
    edge) is as straight and narrow as a seam, but a cut along it leaves no rectangle: the
    print stays whole."""
    import cv2

    dpi = 100
    scan = ss.make_scan([ss.PrintSpec((3.5, 2.5), (2.5, 2.0), 3.0, content="light", seed=42)],
                        dpi=dpi, size=(5.0, 4.0), seed=3)
    q = scan.corners[0]
    # two lines 16° to the sides, from the top side to the bottom one, just inside the paper
    for frac in (0.35, 0.5):
        a = q[0] + frac * (q[1] - q[0]) + 0.005 * (q[3] - q[0])
        b = q[3] + (frac + 0.2) * (q[2] - q[3]) - 0.005 * (q[3] - q[0])
        cv2.line(scan.pixels, tuple(int(v) for v in a.round()), tuple(int(v) for v in b.round()),
                 (15000, 15000, 15000), 1, cv2.LINE_AA)
    found = find_prints(scan.pixels)
    assert _matches(scan, found)


def test_a_seam_must_run_along_a_side():
    """The guard behind the test above, on its own: a cut 16° off a print's sides is no paper
    edge; one along a side (either pair) within 1.5° is."""
    from photoforge.ops.split import _along_side

    box = np.array(Print.from_rect(200, 150, 300, 200, 3.0).corners)
    for deg, ok in ((3.0, True), (93.0, True), (-87.5, True), (19.0, False), (5.0, False)):
        d = np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg))])
        assert _along_side(box, d) is ok, deg


def test_photo_line_inside_a_white_border_is_not_a_seam():
    """A dark straight line in a bordered photo, along the print's sides (a shelf, a window
    frame): straight and narrow like the lid in a seam, but it stops at the white border,
    where a seam runs on to the print's ends. The print stays whole."""
    import cv2

    scan = ss.make_scan([ss.PrintSpec((3.5, 3.0), (2.5, 2.0), 2.0, border=0.2, content="light", seed=43)],
                        dpi=100, size=(5.0, 4.0), seed=4)
    q = scan.corners[0]
    for frac in (0.45, 0.55):
        left = q[0] + frac * (q[3] - q[0]) + 0.06 * (q[1] - q[0])
        right = q[1] + frac * (q[2] - q[1]) - 0.06 * (q[1] - q[0])
        cv2.line(scan.pixels, tuple(int(v) for v in left.round()), tuple(int(v) for v in right.round()),
                 (15000, 15000, 15000), 1, cv2.LINE_AA)
    assert _matches(scan, find_prints(scan.pixels))


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_touching_prints_on_a_white_lid_keep_their_own_paper(seed):
    """Development scans (touching, white lid) that were 27–30 px off or split a print. Seed 7:
    cut from its neighbour, a white-bordered print kept only its photo, as its shadow outline,
    thin, was dropped with the specks (now a long piece is kept however thin). Seed 8: the
    shadowed 3 px gap between a photo and a white border was not proven straight (the
    strongest step hopped between the gap's two sides), so the cut went along the photo inside
    the border; the steps nearest one straight lane through the gap are now tried too. Seed 9:
    a motion-blurred guard rail across a photo, straight and dark, was cut as a seam; its
    soft steps are no cut paper edge."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["touching"])["touching"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.5 if seed == 8 else 1.0)


def test_a_soft_photo_stripe_is_no_paper_edge():
    """_sharp on its own: a step within a pixel is a paper edge, a ramp over 6 px is not."""
    from photoforge.ops.split import _sharp

    rows = np.arange(20, dtype=np.float64)[:, None].repeat(30, axis=1)
    for g, ok in (((rows >= 10) * 0.5, True), (np.clip((rows - 7) / 6, 0, 1) * 0.5, False)):
        signed = (g[2:] - g[:-2]) / 2
        peaks = np.argmax(signed, axis=0)
        assert _sharp(signed, peaks) is ok


def test_sharpness_is_judged_at_the_same_millimetres_at_any_resolution():
    """A 600 dpi scan's paper edge, blurred by the scanner's optics over three times the
    pixels of a 200 dpi one, is still cut paper; the photo stripe's ramp, three times as
    wide too, still is not. (At a fixed 2 px the blurred edge failed: seams on real
    high-resolution scans would never be proven and touching prints stay merged.)"""
    import math

    import cv2

    from photoforge.ops.split import PROXY_PIXELS, SHARP_REACH, _sharp

    f600 = math.sqrt(round(8.27 * 600) * round(11.69 * 600) / PROXY_PIXELS)  # A4 at 600 dpi
    reach = max(2, round(SHARP_REACH * f600))
    assert reach == 6
    rows = np.arange(80, dtype=np.float64)[:, None].repeat(30, axis=1)
    edge = cv2.GaussianBlur((rows >= 40) * 0.5, (0, 0), sigmaX=0.01, sigmaY=2.0)
    ramp = np.clip((rows - 31) / 18, 0, 1) * 0.5
    for g, ok in ((edge, True), (ramp, False)):
        signed = (g[2:] - g[:-2]) / 2
        peaks = np.argmax(signed, axis=0)
        assert _sharp(signed, peaks, reach) is ok
    signed = (edge[2:] - edge[:-2]) / 2
    assert not _sharp(signed, np.argmax(signed, axis=0))  # what a fixed 2 px made of it


@pytest.mark.parametrize("seed, name", [(3, "dark_and_light_white_lid"), (9, "rounded_corners")])
def test_a_shadow_beside_the_paper_sets_its_edge(seed, name):
    """Development scans with a side 1.3–2.8 px out on a white lid. Seed 3: a faded print
    differs from the lid a little in colour, and its side was read along that colour
    difference, where the grey shadow outlining it vanishes (now the axis with the stronger
    steps is read). Seed 9: beside a photo darker than the lid, the rise from the deep shadow
    to the paper was under 30 % of the fall into the shadow, and the side was put on that
    fall, 1.3 px out."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_sliver_along_a_photo_stripe_is_no_print():
    """A straight light stripe across a photo near its bottom edge (a bumper's chrome) makes a
    narrow straight valley along the print's side like a seam; the sliver it would cut off is
    14 times as long as it is wide, which no print is: the print stays whole."""
    scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5, 2.0), 7.0, seed=3)], dpi=100, size=(5, 4))
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_print_against_the_glass_edge_keeps_its_paper_edge():
    """Development scan (glass edge, seed 30): the print pushed into the scan's corner had its
    free side put 2.1 px inside, as the weak rise out of a deep shadow (the rule that finds a
    darkish photo's edge on a white lid) was a step in the photo just inside the paper in
    some columns. The points that rule moves must lie on a line of their own, as a paper edge
    does; else the side is fitted to the points without it. (Keeping whichever set lies
    straighter, as first tried, put sides beside a deep shadow back on the fall into it:
    development touching seed 4 0.53 -> 0.89 px, rounded corners seed 13 0.37 -> 0.69 px.)"""
    scan = ss.hard_cases(dpi=200, seed=30, names=["glass_edge"])["glass_edge"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed", [10, 14, 17])
def test_a_dark_print_in_pieces_on_a_black_lid_is_one_print(seed):
    """Development scans (dark and light, black lid): a dark photo differs from a black lid
    only in places, and its evidence fell apart into rectangle pieces side by side. Seed 10:
    only the largest was refined (the print found 166 px narrow); seed 14: two pieces were
    found as two prints. Pieces that make one rectangle, with no straight paper edge between
    them, are one print. Seed 17 (right before) guards the rule: a block beside the print's
    corner, joined to it, made a rectangle 6 % and 16 % larger each way (159 px out); pieces
    lie side by side, so their union keeps one of the larger piece's lengths."""
    name = "dark_and_light_black_lid"
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_side_with_no_line_of_its_own_is_read_along_the_rectangle():
    """Development scan (dark and light, black lid, seed 30): a dark print's top side showed
    its edge in under a fifth of its profiles, too few to fit a line, and kept the proxy's
    outline, 4.1 px out at one end. It is read again along the direction the other sides
    set, only its offset fitted."""
    name = "dark_and_light_black_lid"
    scan = ss.hard_cases(dpi=200, seed=30, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_skewed_side_of_a_touching_print_is_read_again():
    """Development scan (touching, white lid, seed 30): the side of the stacked pair's upper
    print that faces the corner of the print 2 px away took that print's edge near the
    corner, and its line came out 1.3° off the rectangle's. Fitted as one rectangle, all of
    its points were trimmed as outliers, its offset was left to nothing, and the whole
    refinement fell back to the proxy's outline (2.7 px out). The side is read again along
    the rectangle's direction."""
    scan = ss.hard_cases(dpi=200, seed=30, names=["touching"])["touching"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed", [21, 23])
def test_a_shadowed_gap_beside_a_photo_darker_than_its_shadow_is_the_cut(seed):
    """Development scans (touching, white lid): the stacked pair's 3 px gap, between a white
    border and a photo as dark as the gap's shadow, falls twice (into the shadow, then into
    the photo). The border's fall into the gap was judged no sharp step, as 2 rows on the
    photo's fall went on, and the cut went along the photo inside the lower print's border
    (both prints 24–27 px off). A step into a gap is judged sharp on its paper side, and the
    lane next best to the gap's best-voted one is tried too."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["touching"])["touching"]
    found = find_prints(scan.pixels)
    assert len(found) == len(scan.corners)
    errors = [max(edge_errors(t, p.corners)) for t, p in zip(scan.corners, found)]
    assert max(errors[2:4]) <= 1.0  # the stacked pair
    assert max(errors) <= 1.5


@pytest.mark.parametrize("seed", [19, 29])
def test_a_dark_print_does_not_bend_a_black_lid_model(seed):
    """Development scans (dark and light, black lid): the dark photo's pixels, as dark as the
    lid, were taken as lid for its fall-off model, which bent down under the print; the bare
    lid beside it rose above the model and counted as print, and the dark print came out
    100–180 px too large. The model is fitted to the glass's outer band."""
    name = "dark_and_light_black_lid"
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed", [45, 59])
def test_a_dark_print_with_one_side_seen_well_is_read_along_it(seed):
    """Development scans (dark and light, black lid, seeds 45 and 59): a dark print showed its
    top side well and the others barely. Seed 59: its left side had an edge in 3 % of its
    profiles, under the 5 % a re-read along the rectangle needed, and kept the proxy's
    outline (5.8 px out); a few points that agree on one offset are enough. Seed 45: its
    bottom side took a slope of its own, skewed from the top's, and a re-read needed two
    sides that set the direction (7.8 px out at one end); the one seen well sets it."""
    name = "dark_and_light_black_lid"
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed, name", [(31, "touching"), (29, "touching_black_lid")])
def test_a_seam_is_a_candidate_beside_a_photo_full_of_parallel_lines(seed, name):
    """Development scans where touching prints were left as one (3/5 found): a photo's
    stripes gave the group's strongest Hough lines, all at one direction, and took every
    candidate's place, the seam's among them. A few lines per direction are kept."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed", [21, 28])
def test_a_dark_print_whose_top_is_as_dark_as_the_lid_is_one_print(seed):
    """Development scans (black lid, seeds 21 and 28): with the lid modelled right, the top of
    the dark print is as dark as the lid, and its evidence fell into a main piece and a corner
    piece more than 20 proxy px apart. The main piece's top side was read on a photo boundary
    205–221 px inside and the corner counted as a print (2/3 found +2). Two prints at one
    angle, a side of each on one line, with evidence of print in the gap between them, are
    one print's pieces."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["black_lid"])["black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("content", ["photo", "dark"])
def test_prints_one_after_another_on_a_black_lid_stay_apart(content):
    """Guards the rule above: two prints of one width at one angle, their sides on one line,
    with bare black lid between them (0.3 in), are two prints."""
    scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5, 1.6), 2.0, content=content, seed=46),
                         ss.PrintSpec((3.0, 2.0), (2.5 - 2.3 * math.sin(math.radians(2.0)),
                                                   1.6 + 2.3 * math.cos(math.radians(2.0))), 2.0, seed=45)],
                        dpi=100, size=(5.0, 5.0), lid="black", seed=5)
    assert _matches(scan, find_prints(scan.pixels), edge=1.5)


@pytest.mark.parametrize("seed", [13, 19])
def test_a_side_beside_a_shadow_or_a_gap_keeps_its_paper_edge(seed):
    """Development touching scans, white lid. Seed 13: a photo darker than its own shadow
    along the top of the right print, read along a colour axis that still held the shadow's
    fall (1.18 px; now the colour axis leaves out the lid's colour, which a shadow only
    darkens). Seed 19: the lower of the stacked pair, its white border 3 px from a near-black
    photo, whose step into the gap outweighed this print's shadow and the rise to its paper
    (2.80 px; a rise to the lid's level is now followed past the gap)."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["touching"])["touching"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed, name", [(8, "touching"), (8, "mixed_six"), (13, "mixed_six")])
def test_a_shadow_deepening_to_the_paper_does_not_tilt_a_side(seed, name):
    """Development scans, white lid, 1.03–1.25 px: a side's points out of its shadow (rises)
    lay 0.3 px inside the paper and those into a photo darker than the shadow (falls) up to
    1 px outside, so a side whose photo changes from light to dark along it was fitted
    tilted; each step is now read with the shadow's slope beside it taken into account."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_straight_photo_line_off_the_prints_angle_is_no_seam():
    """A plain two-print black-lid scan whose upper print was cut in two along a straight
    bright stripe in its photo (no valley of lid along it; straight, sharp and reaching an
    end, it passed as the edge two prints at one angle share): the stripe runs 1° off the
    pieces' sides, where two prints' shared edge runs along them."""
    scan = ss.make_scan([ss.PrintSpec((3.0, 2.0), (2.5, 1.6), 2.0, seed=44),
                         ss.PrintSpec((3.0, 2.0), (2.5 - 2.3 * math.sin(math.radians(2.0)),
                                                   1.6 + 2.3 * math.cos(math.radians(2.0))), 2.0, seed=45)],
                        dpi=100, size=(5.0, 5.0), lid="black", seed=5)
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_seam_along_the_groups_sides_is_a_candidate_whatever_else_the_photos_hold():
    """Development scan (black lid, seed 25): a butterfly's wings and a striped leaf gave
    Hough lines at three directions that took all the candidates' places, the seam of the
    touching pair (along the group's sides) among them, and the pair was found as one (3/5 +1).
    A few places are kept for lines along the group's sides."""
    scan = ss.hard_cases(dpi=200, seed=25, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_plank_gap_short_of_a_black_lid_is_no_seam():
    """Development scan (black lid, seed 11): a dark gap between planks in a photo, as narrow,
    sharp and straight as a seam and running along the print's sides end to end, cut the
    print in two (4/5 +2). Between prints on a black lid lies the lid: the gap's floor went
    only 0.7 of the way down to it, a seam's at least about half way."""
    scan = ss.hard_cases(dpi=200, seed=11, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_side_3_px_from_a_white_border_on_a_black_lid_keeps_its_edge():
    """Development scan (black lid, seed 12): the upper print of the stacked pair, its photo
    3 px from the lower one's white border, was read along the colour difference of its two
    sides, on which the lid and that border are one level: the side came out on the border's
    edge, 3 px out. The colour axis is taken only where the strip's outer side is lid."""
    scan = ss.hard_cases(dpi=200, seed=12, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("seed", [11, 29])
def test_a_print_against_the_glass_edge_lies_flush_with_it(seed):
    """Development scans (glass edge, seeds 11 and 29): the print pushed into the corner has
    two sides on the scan's border and two fitted, whose photo, about as dark as the shadow
    along part of a side, left points on two parallel lines; the fit tilted 0.02–0.04° and
    a corner came out 1.13–1.21 px off. Sides square to the border to 0.2° are made square."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["glass_edge"])["glass_edge"]
    found = find_prints(scan.pixels)
    assert _matches(scan, found, edge=1.0)
    assert abs(found[0].angle) < 1e-9


@pytest.mark.parametrize("seed", [12, 24])
def test_a_line_the_photo_runs_on_across_is_no_seam(seed):
    """Development scans (touching, white lid): seed 12, a dark gap between planks ran the whole
    height of the stacked pair's upper print, proven a seam (straight, sharp, a narrow dark
    valley, out to both ends); seed 24, a door frame's edge in the lower print, straight from
    its top border to its bottom one. Each print was cut in two (4/5 +2). Across a seam lie two
    prints with unrelated photos; across these lines the photo runs on (the planks' ends, the
    towel, the white border cross them at the same places on both sides)."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=["touching"])["touching"]
    assert _matches(scan, find_prints(scan.pixels))


@pytest.mark.parametrize("seed, name", [(70, "rounded_corners"), (72, "mixed_six")])
def test_wires_slanting_across_a_sky_are_no_seam(seed, name):
    """Spent held-out scans (seeds 70, 72): power lines across a sky, thin, dark, straight and
    sharp, were cut as seams (2/3 +5, one side 174 px off; 5/6 +3). Each cut leaves trapezoids,
    and a trapezoid's minimum-area rectangle lies along its longest side, the cut, so the cut
    passed as running along a piece's side. The piece a seam runs along must be a rectangle."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_seam_runs_along_a_rectangle():
    """The guard behind the test above: a print's evidence fills its rectangle (rounded
    corners too); a print cut 25° off its sides leaves a piece that does not."""
    from photoforge.ops.split import _rectangular

    box = np.array(Print.from_rect(200, 150, 300, 200, 3.0).corners)
    assert _rectangular(box)
    t = math.tan(math.radians(25))
    assert not _rectangular(np.array([[0, 0], [300, 0], [300, 60], [0, 60 + 300 * t]]))


def test_a_side_whose_photo_hides_its_rise_out_of_the_shadow_keeps_its_paper_edge():
    """Spent held-out scan (mixed six, seed 70): the aloe print's top side, its photo about as
    dark as its shadow, gave points on three lines (the fall into the shadow, the paper's edge,
    the photo's steps just inside it) and was fitted 1.55 px inside. The shadow has one width
    along a side: where the rise out of it shows, it places the paper where it does not."""
    scan = ss.hard_cases(dpi=200, seed=70, names=["mixed_six"])["mixed_six"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("case, seed", [("glass_edge", 55), ("touching", 29)])
def test_photo_steps_inside_the_paper_do_not_widen_the_shadow(case, seed):
    """Development scans the shadow-width rule took over 1 px (0.54 → 1.64 and 0.65 → 1.12 px):
    a photo about as bright as a thin shadow steps 1–3 px inside the paper, and those steps,
    read as rises out of the shadow, made the median width 2.4 px. The paper's own rise is the
    first inside the fall, so the width is read at the lower quartile."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[case])[case]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_seam_across_lines_along_the_other_side_is_a_candidate():
    """Spent held-out scan (touching on a black lid, seed 73): inside the 1 px pair, lines
    along the group's long sides (the white border's rim, the notebook's edges in the other
    photo) took all four places kept for lines along the sides, and the seam across them was
    never tried (4/5 +1). Two places are kept per side."""
    scan = ss.hard_cases(dpi=200, seed=73, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_rectangle_cut_along_an_edge_a_dark_photo_hides_in_part():
    """Spent held-out scan (touching on a black lid, seed 75): the stacked pair and the print
    whose corner is 2 px from it are one group, cut where it leaves two rectangles, along the
    pair's side; along half of it the upper print's photo (dark grass) is as dark as the lid
    and no edge shows, so the cut was not proven straight and the three were found as one
    (2/5 +1). The edge where it shows is enough."""
    scan = ss.hard_cases(dpi=200, seed=75, names=["touching_black_lid"])["touching_black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("case, seed", [("touching", 12), ("touching", 17), ("touching", 32), ("dust", 20)])
def test_a_shadow_under_a_pixel_wide_still_sets_the_paper_edge(case, seed):
    """Development scans (touching, white lid) 1.02–1.21 px out: a shadow (or a 1 px seam)
    under a pixel wide beside a photo about as dark, its rise into the paper seen in 30–50 %
    of the profiles. The falls, 60 % of the points, passed as the side's one line, and a fall
    0.7–0.9 px from the shadow's width was within the 1 px let pass as that width. Dust seed
    20 (passing before): a dark photo's own falls, two thirds on one line with its steps read
    as rises in 15 %, stay where they are."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[case])[case]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


def test_a_side_across_a_gap_from_a_border_finds_a_photo_darker_than_a_black_lid():
    """Development scan (touching on a black lid, seed 55): the stacked pair's upper print, 3 px
    from the lower one's white border, has a night photo darker than the lid along half its
    bottom side. Its own edge there is a weak fall from the lid, not a rise, and the side was
    read on the border's step over that half: a line 3–4 px out at one end, the print turned
    0.19° (2.86 px)."""
    scan = ss.hard_cases(dpi=200, seed=55, names=["touching_black_lid"])["touching_black_lid"]
    found = find_prints(scan.pixels)
    assert _matches(scan, found, edge=1.0)
    assert max(abs(p.angle - a) for p, a in zip(found, scan.angles)) <= 0.05


def test_a_dark_print_joined_from_pieces_reads_its_sides_along_them():
    """Development scan (black lid, seed 58): the dark print, joined from a main piece and a
    corner piece, shows no side well enough for a line of its own; its outline stayed the
    joined guess (1.0–1.6 px off). Each side is read for its offset along the pieces' direction
    (without it 0.76 px), and a side seen nowhere takes the rectangle's direction (without it
    1.1 px): 0.3 px with both."""
    scan = ss.hard_cases(dpi=200, seed=58, names=["black_lid"])["black_lid"]
    assert _matches(scan, find_prints(scan.pixels), edge=0.5)


@pytest.mark.parametrize("seed, name", [(16, "touching"), (50, "touching_black_lid")])
def test_a_side_on_a_neighbours_edge_is_read_past_it(seed, name):
    """Development scans: across the 1 px seam from the left print's white border, the right
    print's photo is about as dark as the gap (its shadow on a white lid, the lid on a black
    one), and its side was read on the border's step, 1.0–1.2 px out. Two prints do not share
    an edge. On the black lid (seed 50) the seam itself, beside a photo a little above the lid,
    was neither ridge nor rim of content over two thirds of it and was never tried (3/5 +1):
    the border's bright step along the group's sides is a seam's support there."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[name])[name]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)


@pytest.mark.parametrize("case, seed", [("rounded_corners", 23), ("mixed_six", 28)])
def test_a_shadow_as_dark_as_the_photo_ends_at_the_paper(case, seed):
    """Development scan (rounded corners, seed 23): the square print's left side has a photo as
    dark as the deepest part of its shadow, so the paper makes no step of its own and the edge
    was read at the centroid of the shadow's fall, 0.4 of its width outside (1.03 px). A
    shadow is darkest at the paper: a fall spread over three pixels or more ends there, where
    it does so along most of the side. Mixed six seed 28 (0.80 px before) guards that last
    part: a blurred step into a photo a little darker than the shadow looks the same in a
    third of a side's profiles, and read there the side came out 1.05 px off."""
    scan = ss.hard_cases(dpi=200, seed=seed, names=[case])[case]
    assert _matches(scan, find_prints(scan.pixels), edge=1.0)
