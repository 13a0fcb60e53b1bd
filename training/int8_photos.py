"""The small photo sets the int8 builds use (photoforge/engine/int8.py), cut from the corpus.

    python -m training.int8_photos [--corpus DIR]

Calibration crops come from the corpus's train split and probe crops (the int8 verdict's
fixed photos) from its val split, so a build is never judged on the photos it was
calibrated on; the held-out photos (astronaut, coffee) stay for the benches. Only photos
whose licence allows shipping a crop (public domain, CC0, CC-BY with the credit recorded,
MIT-CMU) are used, one or two per subject so portraits, night, text and texture are there
beside the landscapes. Each crop is the 64×64 window with the most detail among a fixed
grid (a flat sky teaches the quantiser nothing); the result is written into the package
with a JSON record of every crop's source, licence and position.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.corpus import DEFAULT_OUT, MANIFEST

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "photoforge" / "models" / "int8_photos.npz"
SIDE = 64
PER_PHOTO = 1
SHIPPABLE = ("CC0", "public domain", "MIT-CMU", "no known copyright restrictions", "CC-BY-4.0")


def shippable(photo: dict) -> bool:
    licence = photo["licence"]
    return any(word.lower() in licence.lower() for word in SHIPPABLE) and "research use" not in licence


def detail(window: np.ndarray) -> float:
    grey = window.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def crops_of(path: Path, count: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """The `count` most detailed windows of a 6×6 grid over the photo (distinct windows)."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    h, w = pixels.shape[:2]
    spots = [(int(y), int(x)) for y in np.linspace(0, h - SIDE, 6) for x in np.linspace(0, w - SIDE, 6)]
    ranked = sorted(spots, key=lambda s: -detail(pixels[s[0]:s[0] + SIDE, s[1]:s[1] + SIDE]))
    return [(pixels[y:y + SIDE, x:x + SIDE], (y, x)) for y, x in ranked[:count]]


def pick(photos: list[dict], split: str) -> list[dict]:
    """At most two photos per subject, in manifest order."""
    chosen: dict[str, list[dict]] = {}
    for photo in photos:
        if photo["split"] == split and shippable(photo) and len(chosen.setdefault(photo["subject"], [])) < 2:
            chosen[photo["subject"]].append(photo)
    return [p for group in chosen.values() for p in group]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    arrays, record = {}, {}
    for split, name in (("train", "calibration"), ("val", "probe")):
        stack, sources = [], []
        for photo in pick(manifest["photos"], split):
            for pixels, (y, x) in crops_of(args.corpus / photo["file"], PER_PHOTO):
                stack.append(pixels)
                sources.append({"file": photo["id"], "licence": photo["licence"], "y": y, "x": x})
        arrays[name] = np.stack(stack)
        record[name] = sources
    np.savez_compressed(OUT, **arrays)
    OUT.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{OUT}: {len(arrays['calibration'])} calibration and {len(arrays['probe'])} probe crops")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
