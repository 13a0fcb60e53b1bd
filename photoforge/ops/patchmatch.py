"""Content-aware fill: Wexler et al. 2007 ("Space-time completion of video") with the
nearest-neighbour field found by PatchMatch (Barnes et al. 2009).

Coarse to fine, each hole pixel becomes the weighted average of the source pixels that the
patches covering it were matched to; the matches are recomputed against the new estimate
a few times per level (EM). Sources are patches entirely outside hole ∪ exclude. Patches
carry Newson et al.'s texture features as extra channels, so grain is not filled with flat.

That average blurs wherever the overlapping patches come from different places (about half
of neighbouring matches are not coherent), so at the finest level each estimate is split:
its low frequencies are those of the average (smooth, seamless structure) and its detail
is copied from the best-weighted patches covering the pixel (a softmax over their weights),
taken as each source pixel's deviation from its own neighbourhood's mean, and kept within
what those patches propose (flat stays exactly flat). Copying detail rather than pixels
from the best patch adds no colour steps where the choice of patch changes, so the grain
comes back without the blocky seams of a best-patch-only vote; and matching against a
textured estimate keeps EM from drifting to ever smoother sources (bench_inpaint, blob
masks: texture ratio 0.59 → 0.73, PSNR 15.18 → 15.26 dB; best-patch-only: 0.68, 15.03 dB).

Where sources come from. Filling from anywhere in the crop pasted whole subjects into
holes beside them (the astronaut's face and hair in place of the shuttle: 10 % of the
fill in colours found nowhere around the hole; bench/bench_object_removal.py). Sources
now come from the surroundings first: without a sampling area from the user, from an
area around the hole that starts at the hole's own scale and grows only while the
texture asks for it (`source_area`); with one, from inside it. Either way a source pays
a penalty growing with the square of its distance from the hole, so of two equally good
patches the nearer wins. `exclude` pixels are never copied nor matched against.

Structure before texture: edges that cross the hole's border are first continued across
it by copying patches along them (photoforge.ops.structure); the texture pass then fills
the rest with those pixels as fixed context. The coarsest level starts from the border
inwards, a ring of best-matching pixels at a time (`_onion_peel`), not from a diffusion.

The search and voting kernels are numba-compiled (cache=True): PatchMatch propagation is
a sequential scan, and a vectorised numpy variant (jump flooding) measured 30–60× slower
per sweep and 60–150× slower to the same match quality (bench/bench_patchmatch.py).
Callers import this module lazily, so numba loads only when a fill is asked for.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from numba import njit

from photoforge.ops.structure import continue_edges

GAMMA = 1.3  # Wexler's confidence decay per pixel of depth into the hole
TEXTURE_WEIGHT = 15.0  # λ of the texture features against colour (Newson et al. use 50 on [0, 255])
SIGMA_PERCENTILE = 75  # Wexler: σ² of the vote weights is this percentile of the distances
COARSE_STEPS = 2  # coarse levels are cheap and settle the structure: this many times the EM steps
DETAIL_SIGMA = 8.0  # px: Gaussian splitting the finest level's vote (below) from copied detail (above)
DETAIL_SHARPNESS = 32.0  # the detail's vote weights are the patch weights to this power (∞: best only)
_SWEEPS_RANDOM, _SWEEPS_UPSAMPLED, _SWEEPS_NEXT = 4, 2, 2  # PatchMatch sweeps per EM step
# Where sources come from (source_area, _auto_reach) and how much nearness counts:
REACH_MIN = 4  # patches: the automatic source area reaches at least this far from the hole
REACH_DEPTH = 1.0  # × the hole's largest inscribed radius: where the automatic area starts
AREA_FACTOR = 1.5  # it grows until it holds this many source patches per hole pixel
REACH_GAIN = 0.8  # it doubles while that lowers the border patches' median match cost below this share
REACH_SWEEPS = 2
REACH_PERCENTILE = 75  # of the border patches' match costs, the one compared
PENALTY_RMS = 0.03  # a source at the reach pays what this RMS colour error on every pixel costs
STRUCTURE = True  # continue the edges that cross the hole first (photoforge.ops.structure)


@njit(cache=True)
def _next(state):
    # xorshift64: a private, seedable stream, so results do not depend on numba's global RNG.
    state ^= state << np.uint64(13)
    state ^= state >> np.uint64(7)
    state ^= state << np.uint64(17)
    return state


@njit(cache=True, fastmath=True)
def _dist(img, care, ty, tx, sy, sx, r, bound):
    # care is 0 on excluded pixels: they may hold what is being removed, so no context either.
    d = np.float32(0.0)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            q = np.float32(0.0)
            for c in range(img.shape[2]):
                e = img[ty + dy, tx + dx, c] - img[sy + dy, sx + dx, c]
                q += e * e
            d += care[ty + dy, tx + dx] * q
        if d >= bound:  # already worse than the best: stop early (the usual big saving)
            return d
    return d


@njit(cache=True, fastmath=True)
def _try(img, care, pen, y, x, cy, cx, valid, r, by, bx, bd):
    # pen: each source's distance penalty (module docstring), added before the pixels are compared
    if valid[cy, cx] and (cy != by or cx != bx) and pen[cy, cx] < bd:
        d = pen[cy, cx] + _dist(img, care, y, x, cy, cx, r, bd - pen[cy, cx])
        if d < bd:
            return cy, cx, d
    return by, bx, bd


@njit(cache=True, fastmath=True)
def _patchmatch(img, care, pen, targets, valid, nnf, cost, sweeps, seed, r):
    h, w = targets.shape
    state = _next(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x2545F4914F6CDD1D))
    for y in range(h):  # the image changed since the last call: re-score the current matches
        for x in range(w):
            if targets[y, x]:
                sy, sx = nnf[y, x, 0], nnf[y, x, 1]
                cost[y, x] = pen[sy, sx] + _dist(img, care, y, x, sy, sx, r, np.inf)
    for it in range(sweeps):
        s = 1 if it % 2 == 0 else -1  # alternate scan order so information flows both ways
        for yi in range(h):
            y = yi if s == 1 else h - 1 - yi
            for xi in range(w):
                x = xi if s == 1 else w - 1 - xi
                if not targets[y, x]:
                    continue
                by, bx, bd = nnf[y, x, 0], nnf[y, x, 1], cost[y, x]
                if 0 <= x - s < w and targets[y, x - s] and 0 <= nnf[y, x - s, 1] + s < w:
                    by, bx, bd = _try(img, care, pen, y, x, nnf[y, x - s, 0], nnf[y, x - s, 1] + s,
                                      valid, r, by, bx, bd)
                if 0 <= y - s < h and targets[y - s, x] and 0 <= nnf[y - s, x, 0] + s < h:
                    by, bx, bd = _try(img, care, pen, y, x, nnf[y - s, x, 0] + s, nnf[y - s, x, 1],
                                      valid, r, by, bx, bd)
                rad = max(h, w)
                while rad >= 1:  # random search, radius halving down to one pixel
                    state = _next(state)
                    cy = by + np.int64(state % np.uint64(2 * rad + 1)) - rad
                    state = _next(state)
                    cx = bx + np.int64(state % np.uint64(2 * rad + 1)) - rad
                    cy, cx = min(max(cy, r), h - 1 - r), min(max(cx, r), w - 1 - r)
                    by, bx, bd = _try(img, care, pen, y, x, cy, cx, valid, r, by, bx, bd)
                    rad //= 2
                nnf[y, x, 0], nnf[y, x, 1], cost[y, x] = by, bx, bd


@njit(cache=True, fastmath=True)
def _vote(img, hole, targets, nnf, weight, r):
    h, w, ch = img.shape
    acc = np.zeros((h, w, ch))
    total = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            if not targets[y, x]:
                continue
            wt, sy, sx = weight[y, x], nnf[y, x, 0], nnf[y, x, 1]
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    if hole[y + dy, x + dx]:
                        total[y + dy, x + dx] += wt
                        for c in range(ch):
                            acc[y + dy, x + dx, c] += wt * img[sy + dy, sx + dx, c]
    for y in range(h):
        for x in range(w):
            if hole[y, x] and total[y, x] > 0:
                for c in range(ch):
                    img[y, x, c] = acc[y, x, c] / total[y, x]


@njit(cache=True, fastmath=True)
def _vote_detail(img, detail, low, hole, targets, nnf, logw, r, power):
    """img ← low + the detail of the patches covering each hole pixel, weighted
    exp(power·logw) (normalised per pixel by the largest, so deep in a big hole nothing
    underflows), kept within the range of the values those patches propose there widened
    by its width on each side: where they all agree (a flat area) that value comes back
    exactly, whatever texture lies near the sources, and the detail cannot overshoot."""
    h, w, ch = img.shape
    acc = np.empty(ch)
    lo = np.empty(ch)
    hi = np.empty(ch)
    for y in range(h):
        for x in range(w):
            if not hole[y, x]:
                continue
            top = -np.inf
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    ty, tx = y - dy, x - dx
                    if 0 <= ty < h and 0 <= tx < w and targets[ty, tx] and logw[ty, tx] > top:
                        top = logw[ty, tx]
            if top == -np.inf:
                continue
            tot = 0.0
            acc[:] = 0.0
            lo[:] = np.inf
            hi[:] = -np.inf
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    ty, tx = y - dy, x - dx
                    if 0 <= ty < h and 0 <= tx < w and targets[ty, tx]:
                        wt = math.exp(power * (logw[ty, tx] - top))
                        tot += wt
                        sy, sx = nnf[ty, tx, 0] + dy, nnf[ty, tx, 1] + dx
                        for c in range(ch):
                            acc[c] += wt * detail[sy, sx, c]
                            lo[c] = min(lo[c], img[sy, sx, c])
                            hi[c] = max(hi[c], img[sy, sx, c])
            for c in range(ch):
                m = hi[c] - lo[c]
                img[y, x, c] = min(max(low[y, x, c] + acc[c] / tot, lo[c] - m), hi[c] + m)


class _Level:
    """One pyramid level: masks, which patch centres are targets / sources, and pixels.

    `allowed` is where sources may lie (the sampling area, automatic or the user's): a
    source patch lies wholly inside it, outside the hole and the excluded pixels."""

    def __init__(self, hole: np.ndarray, exclude: np.ndarray, allowed: np.ndarray, p: int, scale: int):
        self.hole, self.exclude, self.allowed, self.scale, self.img = hole, exclude, allowed, scale, None
        h, w = hole.shape
        box = np.ones((p, p), np.uint8)
        inner = np.zeros((h, w), bool)
        inner[p // 2:h - p // 2, p // 2:w - p // 2] = True  # centres whose patch fits
        # Clamping any pixel's coordinates into `inner` gives a centre whose patch holds it,
        # so interior targets still cover hole pixels on the image border.
        self.targets = (cv2.dilate(hole.view(np.uint8), box) > 0) & inner
        self.valid = (cv2.erode((allowed & ~(hole | exclude)).view(np.uint8), box,
                                borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0) & inner
        self.depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, 3)
        self.log_conf = -math.log(GAMMA) * self.depth  # boundary patches are the trustworthy ones
        # px from the hole, for the sources' distance penalty
        self.away = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, 5)


def _blocks(a: np.ndarray) -> np.ndarray:
    """Sums of 2×2 blocks, the odd last row/column repeated."""
    a = np.pad(a, ((0, a.shape[0] % 2), (0, a.shape[1] % 2)) + ((0, 0),) * (a.ndim - 2), mode="edge")
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2, *a.shape[2:]).sum(axis=(1, 3))


def _pyramid(hole: np.ndarray, exclude: np.ndarray, allowed: np.ndarray, p: int) -> list[_Level]:
    # A coarse pixel is hole/excluded if any of its fine pixels is, and allowed if all are,
    # so coarse sources are made of clean, allowed fine pixels only.
    levels = [_Level(hole, exclude, allowed, p, 1)]
    while levels[-1].depth.max() > p and min(levels[-1].hole.shape) >= 6 * p:  # hole still wide
        top = levels[-1]
        nxt = _Level(_blocks(top.hole.view(np.uint8)) > 0, _blocks(top.exclude.view(np.uint8)) > 0,
                     _blocks((~top.allowed).view(np.uint8)) == 0, p, 2 * top.scale)
        if nxt.valid.sum() < max(16, nxt.hole.sum()):  # too little left to copy from
            break
        levels.append(nxt)
    return levels


def _down(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    known = (~hole).astype(np.float32)[..., None]  # hole content must not leak into sources
    return (_blocks(img * known) / np.maximum(_blocks(known), 1)).astype(np.float32)


def _texture(img: np.ndarray, unknown: np.ndarray, window: int) -> np.ndarray:
    """Newson et al. 2014's texture features: local mean |∂x|, |∂y| of the grey image.

    Coarse levels average fine texture away, so colour alone matches grain to flat areas
    (and the fill comes out smooth); these features keep "how textured" at every scale."""
    grey = img[..., :3].mean(axis=2)
    known = (~unknown).astype(np.float32)
    box = lambda a: cv2.boxFilter(a, -1, (window, window), normalize=False, borderType=cv2.BORDER_REFLECT)
    feats = []
    for axis in (1, 0):
        both = np.zeros_like(known)
        grad = np.zeros_like(grey)
        sl = (slice(None), slice(None, -1)) if axis == 1 else (slice(None, -1), slice(None))
        both[sl] = known[sl] * np.delete(known, 0, axis=axis)
        grad[sl] = np.abs(np.diff(grey, axis=axis)) * both[sl]
        feats.append(box(grad) / np.maximum(box(both), 1e-3))
    return np.stack(feats, axis=2) * np.float32(math.sqrt(TEXTURE_WEIGHT))


def _telea(img: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    # cv2's float Telea overshoots far outside the data's range; 16-bit per channel does not.
    out = np.empty_like(img)
    mask = unknown.view(np.uint8)
    for c in range(img.shape[2]):
        top = max(float(img[..., c].max()), 1e-6)
        chan = np.rint(np.clip(img[..., c] / top, 0, 1) * 65535).astype(np.uint16)
        out[..., c] = cv2.inpaint(chan, mask, 3, cv2.INPAINT_TELEA) * np.float32(top / 65535)
    return out


def _onion_peel(lv: _Level, care: np.ndarray, pen: np.ndarray, r: int, rng) -> np.ndarray:
    """The coarsest level's first estimate, from the border inwards, a ring of pixels at a
    time: each takes the centre of the source patch that best matches what is already
    known around it. Diffusing the border inwards instead (Telea) turned a dark strip on
    one side of a wide hole into a dark blob reaching far into it, which EM then matched
    with whatever dark subject lay near (the astronaut's hair)."""
    img = lv.img.copy()
    h, w = lv.hole.shape
    left = lv.hole.copy()
    cross = np.ones((3, 3), np.uint8)
    while left.any():
        ring = left & (cv2.dilate((~left).view(np.uint8), cross) > 0)
        if not ring.any():  # nothing known touches what is left (cannot happen with any source)
            ring = left
        ys, xs = np.nonzero(ring)
        cy, cx = np.clip(ys, r, h - 1 - r), np.clip(xs, r, w - 1 - r)  # centres whose patch fits
        targets = np.zeros((h, w), bool)
        targets[cy, cx] = True
        nnf = np.zeros((h, w, 2), np.int64)
        _random_sources(lv, targets, nnf, rng)
        cost = np.zeros((h, w), np.float32)
        seen = care * (~left).astype(np.float32)
        _patchmatch(img, seen, pen, targets, lv.valid, nnf, cost, _SWEEPS_RANDOM, int(rng.integers(0, 2 ** 63)), r)
        img[ys, xs] = img[nnf[cy, cx, 0] + ys - cy, nnf[cy, cx, 1] + xs - cx]
        left &= ~ring
    return img


def _random_sources(lv: _Level, where: np.ndarray, nnf: np.ndarray, rng) -> None:
    sy, sx = np.nonzero(lv.valid)
    pick = rng.integers(0, len(sy), int(where.sum()))
    nnf[where, 0], nnf[where, 1] = sy[pick], sx[pick]


def _upsample_nnf(coarse: np.ndarray, lv: _Level, rng) -> np.ndarray:
    """Twice the coarse match plus the sub-block position; re-draw where that is no source."""
    h, w = lv.hole.shape
    yy, xx = np.mgrid[:h, :w]
    c = coarse[yy // 2, xx // 2]
    nnf = np.stack([2 * c[..., 0] + yy % 2, 2 * c[..., 1] + xx % 2], axis=2)
    nnf[..., 0] = np.clip(nnf[..., 0], 0, h - 1)
    nnf[..., 1] = np.clip(nnf[..., 1], 0, w - 1)
    bad = lv.targets & ~lv.valid[nnf[..., 0], nnf[..., 1]]
    _random_sources(lv, bad, nnf, rng)
    return nnf


def _log_weights(lv: _Level, cost: np.ndarray | None) -> np.ndarray:
    logw = lv.log_conf.astype(np.float64)
    if cost is not None:
        sigma2 = max(float(np.percentile(cost[lv.targets], SIGMA_PERCENTILE)), 1e-6)
        logw -= cost / (2 * sigma2)
    logw[~lv.targets] = -np.inf
    return logw - logw[lv.targets].max()


def _weights(lv: _Level, cost: np.ndarray | None) -> np.ndarray:
    return np.exp(_log_weights(lv, cost))


def _blur(a: np.ndarray) -> np.ndarray:
    out = cv2.GaussianBlur(a, (0, 0), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    return out.reshape(a.shape)


def _source_detail(lv: _Level) -> np.ndarray:
    """Each known pixel minus the Gaussian mean of the known pixels around it (normalised
    convolution, so what the hole holds does not leak in). Only sources are ever read."""
    known = (~(lv.hole | lv.exclude)).astype(np.float32)
    mean = _blur(lv.img * known[..., None]) / np.maximum(_blur(known), 1e-6)[..., None]
    return np.ascontiguousarray(lv.img - mean, dtype=np.float32)


def _vote_sharp(img: np.ndarray, detail: np.ndarray, lv: _Level, nnf: np.ndarray,
                cost: np.ndarray, r: int) -> None:
    """The finest level's vote: low frequencies of the weighted average, detail of the
    best-weighted patches (module docstring)."""
    logw = _log_weights(lv, cost)
    mean = img.copy()
    _vote(mean, lv.hole, lv.targets, nnf, np.exp(logw), r)
    _vote_detail(img, detail, np.ascontiguousarray(_blur(mean)), lv.hole, lv.targets, nnf, logw, r,
                 DETAIL_SHARPNESS)


def _band_cost(colour: np.ndarray, care: np.ndarray, band: np.ndarray, valid: np.ndarray,
               p: int, seed: int) -> float:
    """The REACH_PERCENTILE-th percentile of the costs of the best match of each patch in
    `band` among `valid` centres: a high one, so a minority of distinct border patches (a
    sparse pattern) counts."""
    h, w = band.shape
    ys, xs = np.nonzero(valid)
    rng = np.random.default_rng(seed)
    nnf = np.zeros((h, w, 2), np.int64)
    pick = rng.integers(0, len(ys), int(band.sum()))
    nnf[band, 0], nnf[band, 1] = ys[pick], xs[pick]
    cost = np.zeros((h, w), np.float32)
    _patchmatch(colour, care, np.zeros((h, w), np.float32), band, valid, nnf, cost, REACH_SWEEPS, seed, p // 2)
    return float(np.percentile(cost[band], REACH_PERCENTILE))


def _auto_reach(colour: np.ndarray, hole: np.ndarray, exclude: np.ndarray, away: np.ndarray, p: int,
                seed: int) -> float:
    """How far from the hole (px) sources are taken when the user gives no sampling area.

    It starts at the hole's own scale (REACH_DEPTH × its largest inscribed radius, at
    least REACH_MIN patches), grows until the patches there number AREA_FACTOR × the hole's
    pixels, and then doubles only while the texture asks for it: while the patches on the
    hole's border find clearly better matches in the doubled area (their REACH_PERCENTILE-th
    percentile patch distance below REACH_GAIN × the current one). Uniform or fine
    surroundings keep a near source area; a coarse texture or sparse pattern earns a wider one."""
    far = float(away.max())
    depth = float(cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, 3).max())
    reach = min(far, max(REACH_MIN * p, REACH_DEPTH * depth))
    known = ~(hole | exclude)
    h, w = hole.shape
    inner = np.zeros((h, w), bool)
    inner[p // 2:h - p // 2, p // 2:w - p // 2] = True
    box = np.ones((p, p), np.uint8)

    def centres(within: float, beyond: float = 0.0) -> np.ndarray:
        region = known & (away <= within) & (away > beyond)
        return (cv2.erode(region.view(np.uint8), box, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0) & inner

    need = AREA_FACTOR * hole.sum()
    while reach < far and centres(reach).sum() < need:
        reach = min(far, 1.25 * reach)
    band = known & (away <= p // 2 + 1) & inner  # patches reaching into the hole (that part ignored)
    beyond = 2 * p  # sources that share no pixel with any band patch
    if not band.any() or not centres(reach, beyond).any():
        return reach
    care = known.astype(np.float32)
    current = _band_cost(colour, care, band, centres(reach, beyond), p, seed)
    while reach < far:
        wider = min(far, 2 * reach)
        better = _band_cost(colour, care, band, centres(wider, beyond), p, seed)
        if better >= REACH_GAIN * current:
            break
        reach, current = wider, better
    return reach


def source_area(image: np.ndarray, hole: np.ndarray, *, exclude: np.ndarray | None = None,
                sample: np.ndarray | None = None, patch_size: int = 7, seed: int = 0) -> tuple[np.ndarray, float]:
    """Where `fill` may take sources from (H×W bool, before the hole and `exclude` are taken
    out) and the distance (px) at which a source's penalty reaches PENALTY_RMS: the user's
    `sample` area and its farthest pixel from the hole, or the automatic area around the hole."""
    hole = np.asarray(hole, dtype=bool)
    exclude = np.zeros_like(hole) if exclude is None else np.asarray(exclude, dtype=bool) & ~hole
    away = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, 5)
    if sample is not None:
        allowed = np.asarray(sample) != 0
        usable = allowed & ~hole & ~exclude
        return allowed, max(float(away[usable].max()) if usable.any() else 1.0, 1.0)
    colour = np.ascontiguousarray(image[..., :min(3, image.shape[2])], dtype=np.float32)
    reach = _auto_reach(colour, np.ascontiguousarray(hole), exclude, away, patch_size, seed)
    return away <= reach, reach


def fill(image: np.ndarray, hole: np.ndarray, *, exclude: np.ndarray | None = None,
         sample: np.ndarray | None = None, patch_size: int = 7, iterations: int = 3, seed: int = 0,
         progress=None) -> np.ndarray:
    """Fill `hole` (H×W bool) of `image` (H×W×C float32 in [0, 1]) from the rest of it.

    `exclude` (H×W, non-zero = excluded) marks pixels that must not be copied (nor matched
    against). `sample` (H×W, non-zero = allowed) is the sampling area: every source patch
    lies wholly inside it; without it, sources come from an area around the hole that
    grows only as far as the texture needs (`source_area`). Either way nearer sources are
    preferred (a penalty growing with the square of their distance from the hole).
    `iterations` is the number of EM steps at the finest level; coarser ones, being cheap,
    get twice as many. `progress` (`set`, `check_aborted`) may be None. Pixels outside
    `hole` come back bit-identical. Same inputs and seed, same result."""
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be H×W×C with C in 1, 3, 4, not {image.shape}")
    for name, m in (("exclude", exclude), ("sample", sample)):
        if hole.shape != image.shape[:2] or (m is not None and m.shape != hole.shape):
            raise ValueError(f"hole and {name} must be H×W like the image")
    if patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd and at least 3, not {patch_size}")
    hole = np.ascontiguousarray(hole, dtype=bool)
    exclude = np.zeros_like(hole) if exclude is None else np.asarray(exclude, dtype=bool) & ~hole
    out = np.array(image, dtype=np.float32, copy=True)
    if not hole.any():
        return out
    if (hole | exclude).all():
        raise ValueError("nothing outside the hole to fill it from")
    r = patch_size // 2
    allowed, reach = source_area(out, hole, exclude=exclude, sample=sample, patch_size=patch_size, seed=seed)
    if sample is not None and not (allowed & ~hole & ~exclude).any():
        raise ValueError("the sampling area holds nothing outside the hole and the excluded area")
    if STRUCTURE:
        box = np.ones((patch_size, patch_size), np.uint8)
        structure_sources = cv2.erode((allowed & ~(hole | exclude)).view(np.uint8), box,
                                      borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
        drawn = continue_edges(out, hole, ~(hole | exclude), structure_sources, patch_size)
        if drawn.any() and (hole & ~drawn).any():
            # The continued edges are fixed: known context for the texture, never a source.
            hole, allowed = hole & ~drawn, allowed & ~drawn
    levels = _pyramid(hole, exclude, np.ascontiguousarray(allowed), patch_size)
    feats = _texture(out, hole | exclude, 2 ** (len(levels) - 1) + 1)  # extra channels, voted too
    levels[0].img = np.ascontiguousarray(np.concatenate([out, feats], axis=2))
    for fine, coarse in zip(levels, levels[1:]):
        coarse.img = _down(fine.img, fine.hole)
    steps = [iterations if i == 0 else COARSE_STEPS * iterations for i in range(len(levels))]
    work = [s * int(lv.targets.sum()) for s, lv in zip(steps, levels)]
    done, rng = 0, np.random.default_rng(seed)
    img = nnf = None
    for li in range(len(levels) - 1, -1, -1):
        lv = levels[li]
        h, w = lv.hole.shape
        if not lv.valid.any():  # the image is smaller than a patch or all hole: smooth fill
            img = _telea(lv.img, lv.hole | lv.exclude)
            break
        care = (~lv.exclude).astype(np.float32)
        # A source at the reach costs as much as PENALTY_RMS of colour error on every pixel.
        pen = (patch_size ** 2 * out.shape[2] * PENALTY_RMS ** 2 / (reach / lv.scale) ** 2
               * lv.away.astype(np.float32) ** 2).astype(np.float32)
        if img is None:
            img = _onion_peel(lv, care, pen, r, rng)  # the coarsest hole is a few px wide
            nnf = np.zeros((h, w, 2), np.int64)
            _random_sources(lv, lv.targets, nnf, rng)
        else:
            up = cv2.resize(img, (2 * img.shape[1], 2 * img.shape[0]), interpolation=cv2.INTER_LINEAR)
            up = up.reshape(*up.shape[:2], -1)[:h, :w]
            img = lv.img.copy()
            img[lv.hole] = up[lv.hole]
            nnf = _upsample_nnf(nnf, lv, rng)
            # Rebuild from full-resolution sources: matching against the blurry upsampled
            # estimate alone would favour smooth sources and lose texture at every level.
            _vote(img, lv.hole, lv.targets, nnf, _weights(lv, None), r)
        cost = np.zeros((h, w), np.float32)
        detail = _source_detail(lv) if li == 0 else None
        for it in range(steps[li]):
            if progress is not None:
                progress.check_aborted()
            sweeps = _SWEEPS_NEXT if it else _SWEEPS_RANDOM if li == len(levels) - 1 else _SWEEPS_UPSAMPLED
            _patchmatch(img, care, pen, lv.targets, lv.valid, nnf, cost, sweeps, int(rng.integers(0, 2 ** 63)), r)
            if detail is None:
                _vote(img, lv.hole, lv.targets, nnf, _weights(lv, cost), r)
            else:
                _vote_sharp(img, detail, lv, nnf, cost, r)
            done += work[li] / steps[li]
            if progress is not None:
                progress.set(done / sum(work))
    out[hole] = img[hole, :out.shape[2]]
    return out
