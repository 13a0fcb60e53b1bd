"""Finding scratches, dust, spots and cracks on scanned photos (classical, no network).

Defects are thin or small next to the picture's own structures and stand out lighter or
darker than what surrounds them, so a morphological top-hat with a small structuring
element finds them, together with a lot of real fine detail. Every candidate therefore has
to earn its place:
  lines  must be long at one orientation (opening by line segments), must not run along an
         edge of the picture or between two different regions (outlines, rim lights), and
         must not have comparable thin structure beside them (grain, hair, weave, text), and
         must be sharp-edged on both sides for most of their length (specular highlights
         on glossy curves and creases of shadow fall off smoothly); an accepted line is then
         followed along its own direction through busy parts;
  specks must be small in every direction (residual of the supremum of line openings, which
         removes anything elongated), much stronger than anything in a ring around them
         (texture, text, stars and eyes come in crowds; dust stands alone), and sharp-edged
         (a glint on a spoon, a cup or a bubble falls off softly, or is clipped with a halo).
Contrast is measured against the local clutter level (a block quantile), so grain and
texture raise the bar where they are. Work runs in overlapping tiles: memory stays bounded
on a 24 MP scan, and each tile is a point where progress is reported and a cancel lands.
"""
from __future__ import annotations

import cv2
import numpy as np

from photoforge.engine.progress import Progress, null_progress
from photoforge.ops.mask import grow

# Tuned on bench/bench_damage.py (seeds 0–2); sizes are in pixels of the scan.
# Tiles and margins are whole blocks, so the clutter grid lines up across tiles; a margin of
# 160 px outlasts the longest reach of any decision (line growth: 127 px), so tiling does
# not change the mask.
TILE, MARGIN = 2048, 160
BLOCK, TEX_Q, FLOOR = 32, 0.75, 0.01  # clutter: 75th percentile of the top-hat per 32² block
K_LINE, K_LOW, K_SPECK, SPECK_MIN = 2.5, 2.0, 3.0, 0.05  # thresholds, scaled by sensitivity
LINE_LEN, LINE_ANGLES, MIN_LEN, GROW_STEPS, TENSOR_SIGMA = 15, 16, 30, 16, 1.0
MIN_GOOD, GOOD_FRAC = 70, 0.5  # a bridged line: how many of its pixels passed, and what share
# Side difference and parallel edge as fractions of the line's contrast; crowd: how many
# samples beside a line may reach CROWD_LEVEL of its contrast.
ASYM, PAR, PAR_ANGLE, PAR_REACH, CROWD, CROWD_LEVEL = 0.25, 0.15, 0.5, 12, 1, 0.5
SPECK_LEN, SPECK_ANGLES, RING, SPECK_R = 9, 12, 4.5, 4  # a speck beats its ring RING times
# The picture's own lines (see _not_highlights): a ridge pixel is soft when, on one side, at
# least SOFT_N of the samples 1..SOFT_REACH px out lie between SOFT_LO and SOFT_HI of its
# height; a piece is dropped when SOFT_SHARE of its ridge is soft, or when CLIP_SHARE of it
# is clipped and CLIP_SOFT of it soft (on the top-hat or, for these, on the luminance
# smoothed by SHADE_SIGMA). A rim highlight saturates only where the rim faces the light:
# the one on coffee.jpg's saucer is clipped along 11–15 % of its ridge, hence the low bar;
# the soft flank, not the clipping, is what tells it from a scratch.
SOFT_LO, SOFT_HI, SOFT_N, SOFT_REACH, SOFT_SHARE, CLIP_SHARE, CLIP_SOFT = 0.25, 0.75, 2, 5, 0.6, 0.1, 0.3
SHADE_SIGMA = 0.5  # against grain and denoiser ripple only: more blurs a scratch's own edges
# The picture's own glints (see _glints): a speck is soft when, in SPECK_SOFT of SPECK_DIRS
# directions out of its peak, its residual falls off softly (the SOFT_* test above); a
# speck on clipped pixels needs only one soft direction.
SPECK_DIRS, SPECK_SOFT, SPECK_CLIP_SOFT = 16, 0.25, 1 / 16


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx <= r * r + r).astype(np.uint8)


def _lines(length: int, n: int) -> list[np.ndarray]:
    """Segments through the centre at n angles. Each is drawn from the centre outwards and
    mirrored: cv2 opens with the kernel unreflected, which is a true (anti-extensive)
    opening only for a point-symmetric kernel."""
    c = length // 2
    out = []
    for a in np.arange(n) * np.pi / n:
        k = np.zeros((length, length), np.uint8)
        cv2.line(k, (c, c), (round(c + c * np.cos(a)), round(c + c * np.sin(a))), 1)
        out.append(k | k[::-1, ::-1])
    return out


def _ring(r0: float, r1: float) -> np.ndarray:
    yy, xx = np.mgrid[-int(r1):int(r1) + 1, -int(r1):int(r1) + 1]
    rr = np.hypot(yy, xx)
    return np.stack([yy[(rr >= r0) & (rr <= r1)], xx[(rr >= r0) & (rr <= r1)]], 1)


_SE, _RING = _disk(4), _ring(5, 8)
_LINE_SES, _SPECK_SES = _lines(LINE_LEN, LINE_ANGLES), _lines(SPECK_LEN, SPECK_ANGLES)


def detect_damage(pixels: np.ndarray, sensitivity: float = 0.5, progress: Progress | None = None) -> np.ndarray:
    """H×W uint8 mask of scratches, dust, spots and cracks (255 = damaged) for H×W×C uint8 or
    uint16 pixels (C = 1 or 3). Higher `sensitivity` (0–1) flags more; it scales every
    contrast threshold by 2^(1 − 2·sensitivity). The mask is grown by 1 px to cover halos."""
    progress = progress or null_progress()
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be H×W×1 or H×W×3 uint8/uint16, not {pixels.shape} {pixels.dtype}")
    gain = 2.0 ** (1.0 - 2.0 * float(np.clip(sensitivity, 0.0, 1.0)))
    h, w = pixels.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    tiles = [(y, x) for y in range(0, h, TILE) for x in range(0, w, TILE)]
    for n, (y, x) in enumerate(tiles):

        def step(f, n=n):
            progress.check_aborted()
            progress.set((n + f) / len(tiles))

        y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
        y1, x1 = min(h, y + TILE + MARGIN), min(w, x + TILE + MARGIN)
        step(0.0)
        # Dividing (not multiplying by a reciprocal) is correctly rounded, so uint16 = 257 ×
        # uint8 gives bit-identical floats and therefore the same mask.
        chans = pixels[y0:y1, x0:x1].astype(np.float32) / np.float32(255 if pixels.dtype == np.uint8 else 65535)
        found = _detect(chans, gain, step)
        mask[y:y + TILE, x:x + TILE] = found[y - y0:y - y0 + TILE, x - x0:x - x0 + TILE]
        step(1.0)
    return grow(mask, 1) if mask.size else mask


def _detect(chans: np.ndarray, gain: float, step) -> np.ndarray:
    lum = chans[..., 0].copy() if chans.shape[2] == 1 else cv2.cvtColor(chans, cv2.COLOR_RGB2GRAY)
    colour = cv2.GaussianBlur(chans, (0, 0), 1.0).reshape(chans.shape)
    # The picture without its thin and small parts; its (colour) edges tell outlines apart.
    base = cv2.morphologyEx(cv2.morphologyEx(chans, cv2.MORPH_OPEN, _SE), cv2.MORPH_CLOSE, _SE)
    base = cv2.GaussianBlur(base, (0, 0), 1.0).reshape(chans.shape)
    # Some channel at the top of the range (channel by channel: numpy's reduction over a
    # 3-wide last axis costs ten times more).
    top = chans[..., 0].copy()
    for c in range(1, chans.shape[2]):
        np.maximum(top, chans[..., c], out=top)
    clipped = top >= 1.0
    del top
    # The luminance itself, lightly smoothed against grain, for the flanks of clipped lines
    # (see _not_highlights): the top-hat cuts a highlight's halo off, the luminance keeps it.
    shade = cv2.GaussianBlur(lum, (0, 0), SHADE_SIGMA)
    del chans
    grads = [cv2.Sobel(base, cv2.CV_32F, dx, 1 - dx, ksize=3).reshape(base.shape) * np.float32(2.5 / 8)
             for dx in (1, 0)]  # × 2.5/8: about the height of the step edge they come from
    del base
    step(0.2)
    specks = []
    for op, pick in ((cv2.MORPH_OPEN, np.maximum), (cv2.MORPH_CLOSE, np.minimum)):
        sup = cv2.morphologyEx(lum, op, _SPECK_SES[0])
        for k in _SPECK_SES[1:]:
            pick(sup, cv2.morphologyEx(lum, op, k), out=sup)
        specks.append(np.abs(lum - sup))
    both = np.maximum(*specks)
    out = np.zeros(lum.shape, np.uint8)
    for i, op in enumerate((cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT)):
        step(0.4 + 0.3 * i)
        t = cv2.morphologyEx(lum, op, _SE)
        tex = np.maximum(_block_level(t), FLOOR)
        cand = (t > K_LINE * gain * tex).astype(np.uint8)
        lines = np.zeros_like(cand)
        for k in _LINE_SES:
            lines |= cv2.morphologyEx(cand, cv2.MORPH_OPEN, k)
        # Orientation from the structure tensor of the top-hat, not from which segment fits:
        # it must not change with the threshold, or a higher sensitivity could flag less.
        tx, ty = cv2.Sobel(t, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(t, cv2.CV_32F, 0, 1, ksize=3)
        jxx, jyy, jxy = (cv2.GaussianBlur(v, (0, 0), TENSOR_SIGMA) for v in (tx * tx, ty * ty, tx * ty))
        normal = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
        del tx, ty, jxx, jyy, jxy
        kept = _keep_lines(lines, normal, t, colour, grads, (clipped, shade) if op == cv2.MORPH_TOPHAT else None)
        out |= _extend(kept, normal, (t > K_LOW * gain * tex).astype(np.uint8))
        r = specks[i]
        out |= _keep_specks(r > gain * np.maximum(K_SPECK * _block_level(r), SPECK_MIN), r, both, gain,
                            clipped if op == cv2.MORPH_TOPHAT else None)
    return out * np.uint8(255)


def _block_level(x: np.ndarray) -> np.ndarray:
    """TEX_Q-quantile of `x` per BLOCK² block (from every other row and column: defects are
    sparse, the level is a statistic), bilinearly interpolated at exactly BLOCK× scale."""
    h, w = x.shape
    bh, bw = -(-h // BLOCK), -(-w // BLOCK)
    pad = np.pad(x, ((0, bh * BLOCK - h), (0, bw * BLOCK - w)), mode="symmetric")
    blocks = pad[::2, ::2].reshape(bh, BLOCK // 2, bw, BLOCK // 2).transpose(0, 2, 1, 3).reshape(bh, bw, -1)
    k = int(TEX_Q * (blocks.shape[2] - 1))
    level = np.partition(blocks, k, axis=2)[:, :, k]
    return cv2.resize(level, (bw * BLOCK, bh * BLOCK), interpolation=cv2.INTER_LINEAR)[:h, :w]


def _keep_lines(lines, normal, t, colour, grads, light) -> np.ndarray:
    """Line pixels that pass the tests below, in pieces at least MIN_LEN long. Every
    test is per pixel against quantities that do not depend on the threshold, so a higher
    sensitivity keeps a superset."""
    h, w = lines.shape
    ys, xs = _nonzero(lines)
    a = normal[ys, xs]
    nx, ny = np.cos(a), np.sin(a)

    def at(d):
        return np.clip(ys + np.rint(ny * d).astype(int), 0, h - 1), np.clip(xs + np.rint(nx * d).astype(int), 0, w - 1)

    contrast = np.max([t[at(d)] for d in (-2, -1, 0, 1, 2)], axis=0)  # across the line's width
    # A scratch shows the same picture on both sides; at some offset both samples clear it
    # however wide it is, while a line between two different regions stays lopsided.
    asym = np.full(len(ys), np.inf, np.float32)
    for d in (3, 5, 8):
        asym = np.minimum(asym, np.abs(colour[at(d)] - colour[at(-d)]).max(axis=1))
    crowd = np.zeros(len(ys), np.int16)  # grain, hair, weave, text: more of the same beside it
    for d in (*range(-12, -3, 2), *range(4, 13, 2)):
        crowd += t[at(d)] > CROWD_LEVEL * contrast
    good = (asym < ASYM * contrast) & (crowd <= CROWD)
    # The strongest edge within PAR_REACH running alongside. It gathers two C-channel
    # gradients at 13 offsets, the dearest test here, so it runs only on the pixels the cheap
    # tests left standing (the same decisions, a fraction of the work); flat indices, because
    # np.take on rows is several times faster than 2-D fancy indexing.
    sel = np.flatnonzero(good)
    sy, sx, snx, sny = ys[sel], xs[sel], nx[sel, None], ny[sel, None]
    gflat = [g.reshape(h * w, -1) for g in grads]
    par = np.zeros(len(sel), np.float32)
    for d in range(-PAR_REACH, PAR_REACH + 1, 2):
        flat = np.clip(sy + np.rint(sny[:, 0] * d).astype(int), 0, h - 1) * w + \
            np.clip(sx + np.rint(snx[:, 0] * d).astype(int), 0, w - 1)
        gx, gy = np.take(gflat[0], flat, axis=0), np.take(gflat[1], flat, axis=0)
        across = np.abs(gx * snx + gy * sny)
        along = np.abs(gx * sny - gy * snx)  # edges crossing the line do not count
        par = np.maximum(par, np.where(along < PAR_ANGLE * across, across, 0).max(axis=1))
    good[sel] = par < PAR * contrast[sel]
    kept = np.zeros_like(lines)
    kept[ys[good], xs[good]] = 1
    # A scratch beside an edge or across grain passes here and there only: bridge the gaps
    # between passing pixels along their own direction (through line pixels), then judge
    # the whole piece by its length and how many of its pixels passed.
    bridged = kept.copy()
    bins = _bins(a[good])
    for j, k in enumerate(_LINE_SES):
        sel = (bins - j + 1) % LINE_ANGLES <= 2
        if sel.any():
            y, x = ys[good][sel], xs[good][sel]
            y0, y1 = max(0, y.min() - LINE_LEN), min(h, y.max() + LINE_LEN + 1)
            x0, x1 = max(0, x.min() - LINE_LEN), min(w, x.max() + LINE_LEN + 1)
            m = np.zeros((y1 - y0, x1 - x0), np.uint8)
            m[y - y0, x - x0] = 1
            bridged[y0:y1, x0:x1] |= cv2.dilate(m, k) & lines[y0:y1, x0:x1]
    n, labels, stats, _ = cv2.connectedComponentsWithStats(kept, connectivity=8)
    ok = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= MIN_LEN
    ok[0] = False
    whole = ok[labels].astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8)
    passed = np.bincount(labels[kept > 0], minlength=n)
    ok = (np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= MIN_LEN) & (passed >= MIN_GOOD)
    ok &= passed >= GOOD_FRAC * stats[:, cv2.CC_STAT_AREA]
    ok[0] = False
    out = whole | ok[labels].astype(np.uint8)
    return _not_highlights(out, labels, n, normal, t, light)


def _not_highlights(kept, labels, n, normal, t, light) -> np.ndarray:
    """`kept` without the pieces (by `labels`, n of them) that are the picture's own light
    or shade rather than marks on the medium. A scratch, a hair or a crack is a thing lying
    on the print or film: its edges are sharp on both sides (the top-hat drops from its
    height to the background within a pixel or so of anti-aliasing or scan blur). A specular
    highlight on a curved glossy surface (a saucer's rim, a spoon, a lip) or a crease of
    shadow is shading: on at least one side it falls off over several pixels. So a piece
    whose ridge is mostly soft-sided is dropped; and for light lines, a core clipped at the
    top of the range (the sensor saturated on the light source's reflection) together with a
    soft flank (on the top-hat or on the luminance) over a good share of the ridge is
    dropped too, while a clipped line sharp on
    both sides (a scratch showing the clear base of a slide) stays. Judged per piece on its
    ridge pixels (the top-hat's crest across the line), where the profile is measured.
    `light` is (clipped, smoothed luminance) for light lines, None for dark ones."""
    ys, xs = _nonzero(kept)
    if not len(ys):
        return kept
    a = normal[ys, xs]
    nx, ny = np.cos(a), np.sin(a)

    def along_normal(img, d):  # bilinear: rounded offsets would step √2 px on diagonals
        return _sample(img, xs + nx * d, ys + ny * d)

    prof = {d: along_normal(t, d) for d in range(-SOFT_REACH, SOFT_REACH + 1)}
    height = np.maximum(prof[0], 1e-6)
    ridge = (prof[0] >= prof[-1]) & (prof[0] >= prof[1])
    soft = np.zeros(len(ys), bool)
    for side in (-1, 1):
        mid = [(prof[side * d] > SOFT_LO * height) & (prof[side * d] < SOFT_HI * height)
               for d in range(1, SOFT_REACH + 1)]
        soft |= np.sum(mid, axis=0) >= SOFT_N
    lab = labels[ys, xs]
    n_ridge = np.maximum(np.bincount(lab[ridge], minlength=n), 1)
    soft_share = np.bincount(lab[ridge & soft], minlength=n) / n_ridge
    drop = soft_share >= SOFT_SHARE
    if light is not None:
        clipped, shade = light
        clip = np.max([along_normal(clipped.view(np.uint8), d) for d in (-1, 0, 1)], axis=0) > 0
        clip_share = np.bincount(lab[ridge & clip], minlength=n) / n_ridge
        # The flank of a clipped line, on the luminance: a highlight on a glossy rim that is
        # only a few pixels wide looks flat-topped and sharp-edged on the top-hat (whose
        # disk cuts its halo off), but on the luminance it falls from the clipped core over
        # several pixels on its lit side; a scratch drops to the picture beside it within
        # its anti-aliasing on both. Each side's height is down to its own lowest sample:
        # the picture differs from one side of a rim to the other.
        lp = {d: along_normal(shade, d) for d in range(-SOFT_REACH, SOFT_REACH + 1)}
        peak = np.max([lp[-1], lp[0], lp[1]], axis=0)
        for side in (-1, 1):
            flank = np.array([lp[side * d] for d in range(1, SOFT_REACH + 1)])
            base = flank.min(axis=0)
            h = np.maximum(peak - base, 1e-6)
            soft |= (((flank > base + SOFT_LO * h) & (flank < base + SOFT_HI * h)).sum(axis=0) >= SOFT_N)
        soft_share = np.bincount(lab[ridge & soft], minlength=n) / n_ridge
        drop |= (clip_share >= CLIP_SHARE) & (soft_share >= CLIP_SOFT)
    drop[0] = False
    out = kept.copy()
    out[ys[drop[lab]], xs[drop[lab]]] = 0
    return out


SAMPLE_ROW = 4096  # points per row of the maps handed to cv2.remap


def _sample(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of `img` at the points (xs, ys) (any shape; edges replicated).
    cv2.remap refuses maps with a side of 32,767 or more, and a heavily damaged photo has
    more ridge pixels or specks than that, so the points go in rows of SAMPLE_ROW."""
    shape, n = xs.shape, xs.size
    if n == 0:
        return np.zeros(shape, img.dtype)
    cols = min(n, SAMPLE_ROW)
    rows = -(-n // cols)
    grid = [np.pad(v.astype(np.float32).ravel(), (0, rows * cols - n), mode="edge").reshape(rows, cols)
            for v in (xs, ys)]
    out = cv2.remap(img, grid[0], grid[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.ravel()[:n].reshape(shape)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a 2-D uint8 mask, in the same (row-major) order, by cv2.findNonZero:
    about four times faster, and it runs on whole 2048² tiles several times per tile."""
    points = cv2.findNonZero(mask)
    if points is None:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    points = points.reshape(-1, 2)  # (x, y) pairs; N×1×2, or N×2 when N is 1
    return points[:, 1].astype(np.intp), points[:, 0].astype(np.intp)


def _bins(normal: np.ndarray) -> np.ndarray:
    """Index of the line segment in _LINE_SES closest to the direction along the line."""
    return np.rint((normal + np.pi / 2) * (LINE_ANGLES / np.pi)).astype(np.int64) % LINE_ANGLES


def _extend(kept, normal, low) -> np.ndarray:
    """Grow each kept line along its own orientation through weaker line-shaped evidence at
    that orientation: a scratch keeps its direction across busy parts of the picture, where
    on its own it could not be told from detail."""
    out = kept.copy()
    reach = GROW_STEPS * (LINE_LEN // 2) + LINE_LEN
    ys_all, xs_all = _nonzero(kept)
    bins = _bins(normal[ys_all, xs_all])
    for j, k in enumerate(_LINE_SES):
        sel = (bins - j + 1) % LINE_ANGLES <= 2
        ys, xs = ys_all[sel], xs_all[sel]
        if not len(ys):
            continue
        y0, y1 = max(0, ys.min() - reach), min(kept.shape[0], ys.max() + reach + 1)
        x0, x1 = max(0, xs.min() - reach), min(kept.shape[1], xs.max() + reach + 1)
        seed = np.zeros((y1 - y0, x1 - x0), np.uint8)
        seed[ys - y0, xs - x0] = 1
        along = cv2.morphologyEx(low[y0:y1, x0:x1], cv2.MORPH_OPEN, k)
        grown = seed
        for _ in range(GROW_STEPS):
            nxt = cv2.dilate(grown, k) & along | seed
            if np.array_equal(nxt, grown):  # a fixed point: the remaining steps change nothing
                break
            grown = nxt
        out[y0:y1, x0:x1] |= grown
    return out


def _keep_specks(cand, r, both, gain, clipped=None) -> np.ndarray:
    """Local maxima of the speck residual above threshold that are much stronger than
    anything in a ring around them (texture, text, the stars of a flag and eyes come in
    crowds; dust stands alone; anything elongated or large reaches into the ring itself)
    and are not glints (_glints; `clipped` for light specks, None for dark ones)."""
    h, w = r.shape
    py, px = _nonzero((cand & (r >= cv2.dilate(r, np.ones((3, 3), np.uint8)))).view(np.uint8))
    peak = r[py, px]
    around = both[np.clip(py[:, None] + _RING[:, 0], 0, h - 1), np.clip(px[:, None] + _RING[:, 1], 0, w - 1)].max(1)
    ok = peak > RING * gain * around
    py, px = py[ok], px[ok]
    ok = ~_glints(py, px, r, clipped)
    seeds = np.zeros((h, w), np.uint8)
    seeds[py[ok], px[ok]] = 1
    return cv2.dilate(seeds, _disk(SPECK_R)) & cand.astype(np.uint8)


def _glints(py, px, r, clipped) -> np.ndarray:
    """Which speck peaks (py, px) are the picture's own light rather than dust: the physics
    of _not_highlights, around a point instead of across a line. Dust lies on the print; its
    residual keeps its height to its rim and drops to nothing within a pixel or so of blur
    (bench dust as found: soft in a quarter of the directions for 0.6 % of specks, in none
    for 72 %). A specular glint is the light source's image spread by the surface's
    roughness and the lens, so it falls off over several pixels (the glints of coffee.jpg's
    handle, saucer and crema). A glint clipped at the top of the range has a saturated core
    whose edge can look sharp, but a soft halo shows on some side, and dust is rarely
    clipped (none of the bench's), so there one soft direction is enough. `clipped` is None
    for dark specks. Each peak is judged on its own profile, not on the threshold, so a
    higher sensitivity still flags a superset."""
    n = len(py)
    if not n:
        return np.zeros(0, bool)
    a = np.arange(SPECK_DIRS) * (2 * np.pi / SPECK_DIRS)
    d = np.arange(1, SOFT_REACH + 1)
    xs = (px[:, None, None] + np.cos(a)[None, :, None] * d).astype(np.float32).reshape(n, -1)
    ys = (py[:, None, None] + np.sin(a)[None, :, None] * d).astype(np.float32).reshape(n, -1)
    # bilinear samples at 1..SOFT_REACH px out along SPECK_DIRS rays (rounding would step
    # √2 px on diagonals)
    prof = _sample(r, xs, ys).reshape(n, SPECK_DIRS, len(d))
    height = np.maximum(r[py, px], 1e-6)[:, None, None]
    mid = (prof > SOFT_LO * height) & (prof < SOFT_HI * height)
    soft_share = (mid.sum(2) >= SOFT_N).mean(1)
    glint = soft_share >= SPECK_SOFT
    if clipped is not None:  # some channel saturated at the peak or a neighbour
        h, w = r.shape
        near = clipped[np.clip(py[:, None] + np.array([-1, -1, -1, 0, 0, 0, 1, 1, 1]), 0, h - 1),
                       np.clip(px[:, None] + np.array([-1, 0, 1] * 3), 0, w - 1)].any(1)
        glint |= near & (soft_share >= SPECK_CLIP_SOFT)
    return glint
