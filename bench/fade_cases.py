"""Clean and faded test photos for the fade/colour bench, made deterministically from the
public corpus (training/corpus_manifest.json, files in ~/.cache/photoforge-corpus).

The corpus is mostly well-exposed daylight landscapes, so every base photo also gives
variants the corpus lacks, each a fixed operation (no randomness):

  as-is        the photo
  golden       golden-hour white balance: linear-light gains R 1.12, G 0.97, B 0.68
  tungsten     uncorrected tungsten (≈ 2900 K on a daylight balance): R 1.30, G 0.95, B 0.45
  cool         shade / blue hour: R 0.78, G 0.96, B 1.30
  snow         high-key (overexposed snow): linear × 2 through a soft shoulder, cool tint
               (not desaturated: that is what fading does, not snow)
  night        low-key: linear × 0.12 (−3 stops), with a sodium-warm tint
  mono         black and white: CIE L* of the photo, as grey
  sepia        sepia toning of the mono variant: channel powers (0.80, 1.0, 1.45) on its grey

and, for scenes the fade correction must also leave alone though their blacks are lifted as
a compressed print's are, hazy versions (atmospheric scattering in linear light,
I = J·t + A·(1 − t), the same t everywhere: a flat veil, the hardest case to tell from fading):

  mist         t 0.85, airlight A (0.86, 0.90, 0.96)
  haze         t 0.70, A as mist
  fog          t 0.55, A (0.88, 0.90, 0.92)
  warm-haze    t 0.70, A (0.96, 0.86, 0.70) (a low sun through dust)

and, for tuning only (tune_fade.py, train photos; bench_fade.py's tables do not use them),
traps: clean scenes with what the fade measure reads as fading (TRAPS):

  red-crop     the quarter of the photo (half its width and height) with the most red in
               it (linear R beyond max(G, B)): red sweets, flowers, a sunset, a warm
               interior filling the frame, which a lost cyan dye's evidence is read off;
               the photos with little red (mean below RED_CROP_MIN) give none
  red-crop-tungsten  the same crop under tungsten light
  red-crop-wb  the same crop white-balanced on its brightest pixels (a camera's auto white
               balance on a sunset or a warm interior: the highlights neutral, the rest red)
  veiled-mono  the mono variant under the warm haze (a grey scene whose warm veil tints
               every tone, as a yellowed paper does)

with the red crops' cyan-loss and compressed fades (trap_fade_cases), which must still be
corrected and not made worse.

And there are the faded versions, each from one fade model in the density domain
(D = −log10 of linear transmittance, floor 10^-2.5), at a strength s in [0.35, 1] drawn
from a generator seeded by the photo's name and the model (so the set is fixed):

  cyan-loss    colour photo: cyan dye lost first, yellow next: densities × (1 − s·(0.5, 0.12, 0.3))
               (R, G, B) + a fog of s·(0.02, 0.05, 0.03): a red-magenta cast in the shadows
  yellow-base  colour photo: a yellowed base adds density s·(0.03, 0.08, 0.28) everywhere and
               dulls the range a little (× 1 − 0.12 s)
  compressed   colour photo: the density range compressed × (1 − 0.5 s) with fog 0.04 s
  silver       mono photo: a silver print fading: density × (1 − 0.45 s) + 0.03 s and a warm
               stain s·(0.01, 0.04, 0.12); the original is the mono variant
  sepia        sepia print (the sepia variant) fading: density × (1 − 0.45 s) + 0.03 s and a
               yellow stain s·(0, 0.02, 0.08); the original is the sepia variant
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.corpus import in_split

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "training" / "corpus_manifest.json"
CORPUS = Path.home() / ".cache" / "photoforge-corpus"

VARIANTS = ("as-is", "golden", "tungsten", "cool", "snow", "night", "mono", "sepia")
HAZES = ("mist", "haze", "fog", "warm-haze")
FADES = ("cyan-loss", "yellow-base", "compressed", "silver", "sepia")
TRAPS = ("red-crop", "red-crop-tungsten", "red-crop-wb", "veiled-mono")
TRAP_FADES = ("cyan-loss", "compressed")
RED_CROP_MIN = 0.15
_LUM = np.array([0.2126729, 0.7151522, 0.0721750], np.float32)


def decode(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def encode(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(np.asarray(lin, np.float32), 0, 1)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055).astype(np.float32)


def to_uint8(f: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(f, 0, 1) * 255).astype(np.uint8)


def photos(split: str) -> list[dict]:
    """Manifest entries of one split whose files are present."""
    manifest = json.loads(MANIFEST.read_text())
    return [p for p in manifest["photos"] if in_split(p, split) and (CORPUS / p["file"]).exists()]


def load(entry: dict, max_side: int) -> np.ndarray:
    """RGB uint8, area-downsized so the long side is at most max_side."""
    bgr = cv2.imread(str(CORPUS / entry["file"]), cv2.IMREAD_COLOR)
    h, w = bgr.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1:
        bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


def _gains(f: np.ndarray, gains) -> np.ndarray:
    return encode(decode(f) * np.array(gains, np.float32))


def _mono(f: np.ndarray) -> np.ndarray:
    y = decode(f) @ _LUM
    return np.repeat(encode(y)[..., None], 3, axis=2)


def variant(pixels: np.ndarray, name: str) -> np.ndarray:
    f = pixels.astype(np.float32) / 255
    if name == "as-is":
        return pixels
    if name == "golden":
        out = _gains(f, (1.12, 0.97, 0.68))
    elif name == "tungsten":
        out = _gains(f, (1.30, 0.95, 0.45))
    elif name == "cool":
        out = _gains(f, (0.78, 0.96, 1.30))
    elif name == "snow":
        lin = decode(f) * 2.0
        lin = lin / (1 + 0.35 * lin) * 1.35  # soft shoulder: 1 → 1
        out = encode(lin * np.array([0.96, 1.0, 1.06], np.float32))
    elif name == "night":
        out = _gains(f, (0.12 * 1.15, 0.12, 0.12 * 0.8))
    elif name == "mono":
        out = _mono(f)
    elif name == "sepia":
        g = _mono(f)[..., :1]
        out = np.concatenate([g ** 0.80, g, g ** 1.45], axis=2)
    else:
        raise ValueError(name)
    return to_uint8(out)


_HAZE = {"mist": (0.85, (0.86, 0.90, 0.96)), "haze": (0.70, (0.86, 0.90, 0.96)),
         "fog": (0.55, (0.88, 0.90, 0.92)), "warm-haze": (0.70, (0.96, 0.86, 0.70))}


def hazy(pixels: np.ndarray, name: str) -> np.ndarray:
    t, airlight = _HAZE[name]
    lin = decode(pixels.astype(np.float32) / 255)
    return to_uint8(encode(lin * t + np.array(airlight, np.float32) * (1 - t)))


def _density_fade(pixels: np.ndarray, scale, fog, stain=(0, 0, 0)) -> np.ndarray:
    lin = np.maximum(decode(pixels.astype(np.float32) / 255), 10 ** -2.5)
    d = -np.log10(lin) * np.array(scale, np.float32) + np.array(fog, np.float32) + np.array(stain, np.float32)
    return to_uint8(encode(10.0 ** -d))


def strength(name: str, model: str) -> float:
    seed = int.from_bytes(hashlib.sha256(f"{name}/{model}".encode()).digest()[:8], "little")
    return float(np.random.default_rng(seed).uniform(0.35, 1.0))


def faded(pixels: np.ndarray, model: str, s: float) -> tuple[np.ndarray, np.ndarray]:
    """(original, faded) for a fade model at strength s, from a clean colour photo."""
    if model == "cyan-loss":
        k = 1 - s * np.array([0.5, 0.12, 0.3])
        return pixels, _density_fade(pixels, k, s * np.array([0.02, 0.05, 0.03]))
    if model == "yellow-base":
        return pixels, _density_fade(pixels, [1 - 0.12 * s] * 3, [0, 0, 0], s * np.array([0.03, 0.08, 0.28]))
    if model == "compressed":
        return pixels, _density_fade(pixels, [1 - 0.5 * s] * 3, [0.04 * s] * 3)
    if model == "silver":
        mono = variant(pixels, "mono")
        return mono, _density_fade(mono, [1 - 0.45 * s] * 3, [0.03 * s] * 3, s * np.array([0.01, 0.04, 0.12]))
    if model == "sepia":
        sepia = variant(pixels, "sepia")
        return sepia, _density_fade(sepia, [1 - 0.45 * s] * 3, [0.03 * s] * 3, s * np.array([0, 0.02, 0.08]))
    raise ValueError(model)


@dataclass
class Case:
    name: str  # photo stem
    kind: str  # variant or fade model
    original: np.ndarray
    input: np.ndarray  # what the correction sees (== original for clean cases)
    s: float = 0.0


def _bases(split: str, max_side: int):
    for entry in photos(split):
        yield Path(entry["file"]).stem, load(entry, max_side)


def clean_cases(split: str, max_side: int) -> list[Case]:
    return [Case(stem, v, img, img) for stem, base in _bases(split, max_side)
            for v, img in ((v, variant(base, v)) for v in VARIANTS)]


def haze_cases(split: str, max_side: int) -> list[Case]:
    """Hazy colour scenes (HAZES): clean photos, so the input is the original."""
    return [Case(stem, h, img, img) for stem, base in _bases(split, max_side)
            for h, img in ((h, hazy(base, h)) for h in HAZES)]


def fade_cases(split: str, max_side: int) -> list[Case]:
    out = []
    for stem, base in _bases(split, max_side):
        for model in FADES:
            s = strength(stem, model)
            out.append(Case(stem, model, *faded(base, model, s), s))
    return out


BORDER_VARIANTS = ("as-is", "golden", "tungsten", "cool", "mono", "sepia")
_PAPERS = ((246, 245, 241), (251, 251, 250), (238, 238, 235), (243, 242, 236))  # white print papers


def bordered(pixels: np.ndarray, stem: str) -> np.ndarray:
    """The photo as a print with its white paper border, as a scan that kept it shows it:
    3–8 % of the short side, one of a few papers, with the scan's grain on it (seeded by the stem)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{stem}/border".encode()).digest()[:8], "little"))
    h, w = pixels.shape[:2]
    b = max(3, round(rng.uniform(0.03, 0.08) * min(h, w)))
    out = np.empty((h + 2 * b, w + 2 * b, 3), np.float32)
    out[:] = _PAPERS[int(rng.integers(len(_PAPERS)))]
    out[b:b + h, b:b + w] = pixels
    out[:b] += rng.normal(0, 1.2, out[:b].shape)
    out[-b:] += rng.normal(0, 1.2, out[-b:].shape)
    out[:, :b] += rng.normal(0, 1.2, out[:, :b].shape)
    out[:, -b:] += rng.normal(0, 1.2, out[:, -b:].shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def bordered_clean_cases(split: str, max_side: int) -> list[Case]:
    """Clean prints with a white border (BORDER_VARIANTS of the photo inside it: the light
    fell on the scene, not on the paper): the input is the original."""
    return [Case(stem, v, img, img) for stem, base in _bases(split, max_side)
            for v, img in ((v, bordered(variant(base, v), stem)) for v in BORDER_VARIANTS)]


def bordered_fade_cases(split: str, max_side: int) -> list[Case]:
    """The fade models over a whole bordered print: its paper aged with the picture."""
    out = []
    for stem, base in _bases(split, max_side):
        print_ = bordered(base, stem)
        for model in FADES:
            s = strength(stem, model)
            out.append(Case(stem, model, *faded(print_, model, s), s))
    return out


def redness(pixels: np.ndarray) -> np.ndarray:
    """Per pixel: how far linear red exceeds green and blue, against red (0 where it does not)."""
    lin = decode(pixels.astype(np.float32) / 255)
    return np.maximum(lin[..., 0] - np.maximum(lin[..., 1], lin[..., 2]), 0) / (lin[..., 0] + 0.02)


def red_crop(pixels: np.ndarray) -> np.ndarray | None:
    """The half-width, half-height window with the most redness, or None if it has little."""
    h, w = pixels.shape[:2]
    ch, cw = max(16, h // 2), max(16, w // 2)
    ii = cv2.integral(redness(pixels).astype(np.float64))
    sums = ii[ch:, cw:] - ii[:-ch, cw:] - ii[ch:, :-cw] + ii[:-ch, :-cw]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    if sums[y, x] / (ch * cw) < RED_CROP_MIN:
        return None
    return np.ascontiguousarray(pixels[y:y + ch, x:x + cw])


def white_balanced(pixels: np.ndarray) -> np.ndarray:
    """Linear gains (none above 1) that make the brightest 0.5 % of the pixels neutral."""
    lin = decode(pixels.astype(np.float32) / 255)
    y = lin @ _LUM
    white = lin[y >= np.percentile(y, 99.5)].mean(axis=0)
    return to_uint8(encode(lin * (white.min() / np.maximum(white, 1e-6))))


def trap_cases(split: str, max_side: int) -> list[Case]:
    """TRAPS: clean photos, so the input is the original."""
    out = []
    for stem, base in _bases(split, max_side):
        crop = red_crop(base)
        if crop is not None:
            out.append(Case(stem, "red-crop", crop, crop))
            warm = variant(crop, "tungsten")
            out.append(Case(stem, "red-crop-tungsten", warm, warm))
            balanced = white_balanced(crop)
            out.append(Case(stem, "red-crop-wb", balanced, balanced))
        veiled = hazy(variant(base, "mono"), "warm-haze")
        out.append(Case(stem, "veiled-mono", veiled, veiled))
    return out


def trap_fade_cases(split: str, max_side: int) -> list[Case]:
    """TRAP_FADES of the red crops: a red scene that faded must still be corrected."""
    out = []
    for stem, base in _bases(split, max_side):
        crop = red_crop(base)
        if crop is None:
            continue
        for model in TRAP_FADES:
            s = strength(stem + "/red-crop", model)
            out.append(Case(stem, model, *faded(crop, model, s), s))
    return out
