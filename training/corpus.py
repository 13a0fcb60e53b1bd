"""Public photo corpus for training and validating the damage detector.

    python -m training.corpus build [--out DIR] [--cache DIR] [--manifest PATH]

Sources (only package registries are reachable here, so every photo comes from a package):
  * Debian wallpaper packages (fetched with `apt-get download`, unpacked with `dpkg-deb -x`);
  * scikit-image's bundled `skimage.data` photos (the `train` extra installs it);
  * the photos among the test images in Pillow's sdist (`pip download --no-binary`);
  * the photos among OpenCV's sample data (Debian `opencv-doc`, examples/data and text/).
Each stored file is recorded in training/corpus_manifest.json with its package, version,
path inside the package, licence (from the package's copyright file or the library's own
notes), sha256 of the stored file, subject tag and split. The same command on another
machine rebuilds the same files, so the manifest is what is committed, not the photos.

Vector and abstract art is left out: it has none of the fine texture that makes a
detector over-fire, and its flat gradients teach the network that anything sharp is
damage. A curated list (looked at once, by eye) does the work, and a statistic (share of
pixels with fine detail) backs it up for packages that change between versions.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "training" / "corpus_manifest.json"
DEFAULT_OUT = Path.home() / ".cache" / "photoforge-corpus"
MAX_SIDE = 1600
VAL_SHARE = 0.2

DEB_PACKAGES = (
    "plasma-workspace-wallpapers", "ukui-wallpapers", "gnome-backgrounds", "sway-backgrounds",
    "lomiri-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds",
)
PILLOW_VERSION = "13.0.0"
# OpenCV's sample photos, by path inside opencv-doc (Debian keeps the non-free Lena out of it).
# Left out: renders, charts, chessboards, logos, a painting (starry_night) and a press photo
# of a footballer (messi5), whose copyright the package's licence cannot cover.
OPENCV_DOC = "opencv-doc"
OPENCV_EXAMPLES = "usr/share/doc/opencv-doc/examples"
OPENCV_PHOTOS = (
    "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg", "data/baboon.jpg",
    "data/basketball1.png", "data/board.jpg", "data/box_in_scene.png", "data/building.jpg",
    "data/butterfly.jpg", "data/chicky_512.png", "data/ela_original.jpg", "data/fruits.jpg",
    "data/graf1.png", "data/HappyFish.jpg", "data/home.jpg", "data/leuvenA.jpg", "data/orange.jpg",
    "data/rubberwhale1.png", "data/smarties.png", "data/squirrel_cls.jpg", "data/stuff.jpg",
    "text/scenetext01.jpg", "text/scenetext02.jpg", "text/scenetext03.jpg", "text/scenetext04.jpg",
    "text/scenetext05.jpg", "text/scenetext06.jpg", "alphamat/input_images/plant.jpg", "hfs/data/000.jpg",
)

# Not photos (rendered, vector or abstract art), by file stem; chosen by eye from a contact sheet.
EXCLUDE = {
    # plasma-workspace-wallpapers: rendered or painted
    "Altai", "Autumn", "Canopee", "Cascade", "Cluster", "Elarun", "Flow", "FlyingKonqui",
    "Honeywave", "IceCold", "Kay", "Kokkini", "MilkyWay", "Opal", "PastelHills", "Patak",
    "SafeLanding", "Shell", "Volna",
    # ukui-wallpapers: all rendered
    "2004default", "calla", "city", "desert", "firstgeneration", "fluent-color",
    "focal-ubuntukylin", "goldfish", "rhythm", "rollpaper", "string", "the-mouse",
    # gnome-backgrounds 43: all rendered
    "adwaita-d", "adwaita-l", "grid-d", "grid-l", "licorice-d", "licorice-l", "pixels-d",
    "pixels-l", "symbolic-d", "symbolic-l", "truchet-d", "truchet-l", "vnc-d", "vnc-l",
    "wood-d", "wood-l",
    # lomiri: gradients, renders, composites
    "lomiri-default-background", "warty-final-ubuntu", "analogpattern_by_Peter_Nerlich",
    "free_by_Peter_Nerlich", "greentock_by_Peter_Nerlich", "umang_by_Abhishek_Mudgal",
    "Fossa_by_Jasper_Roks", "Infinite-Sea_by_Aury88", "Painting-Colors_by__herobrine7gamer",
    # mate-backgrounds: abstract and desktop art
    "Elephants", "Elephants_3840x2160", "Elephants_5640x3172", "Gulp", "Silk", "Spring",
    "Waves", "Arc-Colors-Transparent-Wallpaper", "Float-into-MATE", "GreenTraditional",
    "MATE-Stripes-Dark", "MATE-Stripes-Light", "Stripes", "Ubuntu-Mate-Cold-no-logo",
    "Ubuntu-Mate-Dark-no-logo", "Ubuntu-Mate-Radioactive-no-logo", "Ubuntu-Mate-Warm-no-logo",
    # sway-backgrounds: one logo on a gradient, at several sizes
    "Sway_Wallpaper_Blue_1136x640", "Sway_Wallpaper_Blue_1136x640_Portrait",
    "Sway_Wallpaper_Blue_1366x768", "Sway_Wallpaper_Blue_1920x1080", "Sway_Wallpaper_Blue_2048x1536",
    "Sway_Wallpaper_Blue_2048x1536_Portrait", "Sway_Wallpaper_Blue_768x1024",
    "Sway_Wallpaper_Blue_768x1024_Portrait",
}

# Subject tags by stem (regex); everything else is "landscape", which dominates wallpapers.
SUBJECTS = (
    (r"^(chelsea|Kleiber.*|Dragonfly.*|LadyBird|TwoWings|friends_by.*|baboon|squirrel_cls|chicky_512|HappyFish|butterfly)$", "animal"),
    (r"^(camera|hopper)$", "portrait"),
    (r"^(brick|grass|gravel|Wood|RainDrops|Blinds|OneStandsOut|graf1)$", "texture"),
    (r"^(page|text|scenetext\d+)$", "text"),
    (r"^(hubble_deep_field|DarkestHour|summer_1am)$", "night"),
    (r"^(Grey|Bridge_by.*|building|leuvenA|home)$", "building"),
    (r"^(ColorfulCups|clock_motion|rocket|motorcycle_left|coins|Wine_by.*|moon|Picture_.*|fruits|orange|apple|smarties|stuff|board|box_in_scene|basketball1|rubberwhale1|ela_original)$", "object"),
    (r"^(flower|flower2|FreshFlower|YellowFlower|FallenLeaf|Garden|seeding_by.*|aloeL|plant)$", "plant"),
)

# scikit-image photos: file in skimage/data → licence from the library's docstrings.
# astronaut and coffee are the README samples (resources/samples): held out entirely.
SKIMAGE = {
    "brick.png": "CC0 (CC0Textures)", "camera.png": "CC0 (Lav Varshney)",
    "chelsea.png": "CC0 (Stefan van der Walt)", "clock_motion.png": "public domain (Stefan van der Walt)",
    "coins.png": "no known copyright restrictions", "grass.png": "CC0 (CC0Textures)",
    "gravel.png": "CC0 (CC0Textures)", "hubble_deep_field.jpg": "public domain (NASA)",
    "moon.png": "no known copyright restrictions", "motorcycle_left.png": "Middlebury stereo data, research use",
    "page.png": "no known copyright restrictions", "rocket.jpg": "public domain (SpaceX)",
    "text.png": "public domain",
}
HELD_OUT = ("astronaut", "coffee")
# Pillow's test photos (hopper = Grace Hopper, US Navy, public domain).
PILLOW = {
    "Tests/images/hopper.png": "public domain (US Navy photo); file from Pillow, MIT-CMU",
    "Tests/images/flower.jpg": "Pillow test image, MIT-CMU",
    "Tests/images/flower2.jpg": "Pillow test image, MIT-CMU",
}


@dataclass
class Candidate:
    stem: str
    source: str
    package: str
    version: str
    path: str
    licence: str
    data: bytes = field(repr=False)


# --- Debian packages ---------------------------------------------------------------------

def fetch_debs(cache: Path) -> dict[str, Path]:
    """Downloads (once) and unpacks each package; returns package → unpacked root."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in (*DEB_PACKAGES, OPENCV_DOC) if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "download", *missing], check=True, cwd=debs)
    roots = {}
    for pkg in (*DEB_PACKAGES, OPENCV_DOC):
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        root = cache / "x" / pkg
        if not root.exists():
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        roots[pkg] = root
    return roots


def deb_version(cache: Path, pkg: str) -> str:
    deb = sorted((cache / "debs").glob(f"{pkg}_*.deb"))[-1]
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True,
                          capture_output=True, text=True).stdout.strip()


def licence_for(copyright_text: str, path: str) -> str:
    """DEP-5: the last stanza whose Files pattern matches wins; else the 'Licensed under'
    sentence of a free-form file; else the first License field."""
    found = None
    for stanza in re.split(r"\n\s*\n", copyright_text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", stanza, re.M)
        lic = re.search(r"^License:\s*(\S.*)$", stanza, re.M)
        # Source trees and installed trees differ in folders (16.04/x.jpg installs as
        # backgrounds/x.jpg), so a pattern with a folder also matches by its file name.
        if files and lic and any(pat == "*" or fnmatch.fnmatch(path, "*" + pat.lstrip("*"))
                                 or ("/" in pat and "*" not in pat and Path(path).name == Path(pat).name)
                                 for pat in files.group(1).split()):
            found = lic.group(1).strip()
    if found:
        return found
    m = re.search(r"Licensed under ([^\n.]+)", copyright_text)
    if m:
        return m.group(1).strip()
    m = re.search(r"^License:\s*(\S.*)$", copyright_text, re.M)
    return m.group(1).strip() if m else "see package copyright file"


def _wh(name: str) -> int:
    m = re.match(r"(\d+)x(\d+)", name)
    return int(m.group(1)) * int(m.group(2)) if m else 0


def deb_candidates(cache: Path) -> list[Candidate]:
    out = []
    roots = fetch_debs(cache)
    out += opencv_candidates(cache, roots.pop(OPENCV_DOC))
    for pkg, root in roots.items():
        version = deb_version(cache, pkg)
        copyright_text = (root / "usr/share/doc" / pkg / "copyright").read_text(errors="replace")
        share = root / "usr/share"
        files = []
        # Plasma: one image per wallpaper, the largest light variant (others are rescales).
        for d in sorted((share / "wallpapers").glob("*/contents/images")):
            imgs = sorted(d.iterdir(), key=lambda p: _wh(p.name))
            if imgs:
                files.append((d.parents[1].name, imgs[-1]))
        for p in sorted((share / "backgrounds").rglob("*")) if (share / "backgrounds").exists() else []:
            if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
                files.append((p.stem, p))
        for stem, p in files:
            rel = str(p.relative_to(root))
            out.append(Candidate(stem, "debian", pkg, version, "/" + rel,
                                 licence_for(copyright_text, rel), p.read_bytes()))
    return out


def opencv_candidates(cache: Path, root: Path) -> list[Candidate]:
    version = deb_version(cache, OPENCV_DOC)
    copyright_text = (root / "usr/share/doc" / OPENCV_DOC / "copyright").read_text(errors="replace")
    out = []
    for rel in OPENCV_PHOTOS:
        p = root / OPENCV_EXAMPLES / rel
        if p.exists():  # samples come and go between versions
            # Debian's copyright names the upstream tree (samples/...), not the installed one.
            lic = licence_for(copyright_text, "samples/" + rel)
            out.append(Candidate(p.stem, "debian", OPENCV_DOC, version, f"/{OPENCV_EXAMPLES}/{rel}", lic, p.read_bytes()))
    return out


def skimage_candidates() -> list[Candidate]:
    import skimage
    import skimage.data

    d = Path(skimage.data.__file__).parent
    return [Candidate(Path(f).stem, "pypi", "scikit-image", skimage.__version__,
                      f"skimage/data/{f}", lic, (d / f).read_bytes())
            for f, lic in SKIMAGE.items() if (d / f).exists()]


def pillow_candidates(cache: Path) -> list[Candidate]:
    sdist_dir = cache / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    sdists = list(sdist_dir.glob(f"pillow-{PILLOW_VERSION}.tar.gz"))
    if not sdists:
        subprocess.run(["pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"pillow=={PILLOW_VERSION}", "-d", str(sdist_dir)], check=True)
        sdists = list(sdist_dir.glob(f"pillow-{PILLOW_VERSION}.tar.gz"))
    out = []
    with tarfile.open(sdists[0]) as tf:
        for m in tf.getmembers():
            rel = m.name.split("/", 1)[-1]
            if rel in PILLOW:
                out.append(Candidate(Path(rel).stem, "pypi", "pillow (sdist)", PILLOW_VERSION, rel,
                                     PILLOW[rel], tf.extractfile(m).read()))
    return out


# --- selection, storage, split -----------------------------------------------------------

def decode(data: bytes) -> np.ndarray | None:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:  # webp/16-bit oddities: let Pillow try
        try:
            from PIL import Image
            img = cv2.cvtColor(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), cv2.COLOR_RGB2BGR)
        except Exception:
            return None
    return img


def detail_share(bgr: np.ndarray) -> float:
    """Share of pixels with fine detail (|g − blur(g)| ≥ 2/255): photos have grain and
    texture almost everywhere, rendered art has it only along a few edges."""
    g = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    f = 512 / max(g.shape)
    if f < 1:
        g = cv2.resize(g, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return float((np.abs(g - cv2.GaussianBlur(g, (0, 0), 1.0)) >= 2).mean())


def thumb_key(bgr: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)


def subject_of(stem: str) -> str:
    for pat, tag in SUBJECTS:
        if re.match(pat, stem):
            return tag
    return "landscape"


def shrink(bgr: np.ndarray) -> np.ndarray:
    f = MAX_SIDE / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else bgr


def assign_splits(entries: list[dict]) -> None:
    """Per subject, the photos whose id hashes lowest go to validation (≥ 1 of any subject
    with ≥ 2 photos), so rare subjects land on both sides and the split never changes
    when a photo is added elsewhere."""
    by_subject: dict[str, list[dict]] = {}
    for e in entries:
        by_subject.setdefault(e["subject"], []).append(e)
    for group in by_subject.values():
        group.sort(key=lambda e: hashlib.sha256(e["id"].encode()).hexdigest())
        n_val = max(1, round(VAL_SHARE * len(group))) if len(group) >= 2 else 0
        for i, e in enumerate(group):
            e["split"] = "val" if i < n_val else "train"


def build(out: Path, cache: Path, manifest: Path = MANIFEST, min_detail: float = 0.005) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    # A photo keeps the split it had in the committed manifest, so a model trained on an
    # earlier corpus is never scored on photos it was trained on; new photos are split
    # among themselves.
    known = {e["id"]: e["split"] for e in load_manifest(manifest)["photos"]} if manifest.exists() else {}
    cands = deb_candidates(cache) + skimage_candidates() + pillow_candidates(cache)
    entries, keys, skipped = [], [], []
    for c in cands:
        if c.stem in EXCLUDE or c.stem in HELD_OUT:
            skipped.append((c.stem, "excluded"))
            continue
        bgr = decode(c.data)
        if bgr is None:
            skipped.append((c.stem, "undecodable"))
            continue
        if detail_share(bgr) < min_detail:
            skipped.append((c.stem, "no fine detail"))
            continue
        key = thumb_key(bgr)
        if any(np.abs(key - k).mean() < 4 for k in keys):  # same picture from another package
            skipped.append((c.stem, "duplicate"))
            continue
        keys.append(key)
        bgr = shrink(bgr)
        name = f"{c.package.split()[0]}__{c.stem}.jpg"
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        (out / name).write_bytes(buf.tobytes())
        entries.append({
            "id": f"{c.package}:{c.path}", "file": name, "source": c.source, "package": c.package,
            "version": c.version, "path": c.path, "licence": c.licence,
            "sha256": hashlib.sha256(buf.tobytes()).hexdigest(), "subject": subject_of(c.stem),
            "width": int(bgr.shape[1]), "height": int(bgr.shape[0]),
        })
    new = [e for e in entries if e["id"] not in known]
    assign_splits(new)
    for e in entries:
        e["split"] = known.get(e["id"], e.get("split"))
    entries.sort(key=lambda e: e["file"])
    doc = {"max_side": MAX_SIDE, "held_out": list(HELD_OUT), "photos": entries,
           "skipped": sorted({f"{s} ({why})" for s, why in skipped})}
    manifest.write_text(json.dumps(doc, indent=1) + "\n")
    return entries


def load_manifest(path: Path = MANIFEST) -> dict:
    return json.loads(path.read_text())


def photos(split: str, corpus: Path = DEFAULT_OUT, manifest: Path = MANIFEST) -> list[tuple[dict, Path]]:
    return [(e, corpus / e["file"]) for e in load_manifest(manifest)["photos"] if e["split"] == split]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Build the public photo corpus")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "photoforge-corpus-src")
    b.add_argument("--manifest", type=Path, default=MANIFEST)
    args = ap.parse_args(argv)
    entries = build(args.out, args.cache, args.manifest)
    counts: dict[tuple[str, str], int] = {}
    for e in entries:
        counts[(e["subject"], e["split"])] = counts.get((e["subject"], e["split"]), 0) + 1
    print(f"{len(entries)} photos in {args.out}")
    for subj in sorted({s for s, _ in counts}):
        print(f"  {subj:<10} train {counts.get((subj, 'train'), 0):3d}  val {counts.get((subj, 'val'), 0):3d}")


if __name__ == "__main__":
    main()
