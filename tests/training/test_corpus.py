"""The corpus builder's pure parts (no download): licences, Qt resource files, subject tags,
and that the committed manifest keeps its first round first and apart."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

from training import corpus, data

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: someone
License: GPL-3+

Files: src/activities/erase/resource/cat1.jpg
Copyright: someone else
License: CC-BY-SA-3.0
"""


def test_a_stanza_that_names_the_file_wins_and_the_catch_all_is_said_to_be_one():
    assert corpus.licence_for(COPYRIGHT, "gcompris/src/activities/erase/resource/cat1.jpg") == "CC-BY-SA-3.0"
    assert corpus.licence_for(COPYRIGHT, "src/activities/erase/resource/dog.webp") == "GPL-3+"
    assert corpus.licence_for(COPYRIGHT, "src/activities/erase/resource/dog.webp", catch_all=False) is None
    assert corpus._deb_licence(COPYRIGHT, "src/activities/erase/resource/cat1.jpg") == "CC-BY-SA-3.0"
    assert corpus._deb_licence(COPYRIGHT, "src/x/dog.webp").startswith("GPL-3+ (the copyright file's Files: *")


def rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A format-3 Qt resource file with one folder 'a' holding the files (name → (bytes, compressed))."""
    names, data, nodes = b"", b"", []

    def name(s: str) -> int:
        nonlocal names
        off = len(names)
        names += struct.pack(">HI", len(s), 0) + s.encode("utf-16-be")
        return off

    nodes.append(struct.pack(">IHII", 0, 2, 1, 1) + bytes(8))  # root: 1 child at 1
    nodes.append(struct.pack(">IHII", name("a"), 2, len(files), 2) + bytes(8))
    for fname, (blob, compressed) in files.items():
        stored = struct.pack(">I", len(blob)) + zlib.compress(blob) if compressed else blob
        nodes.append(struct.pack(">IHHHI", name(fname), int(compressed), 0, 0, len(data)) + bytes(8))
        data += struct.pack(">I", len(stored)) + stored
    tree = b"".join(nodes)
    head = 24
    return (b"qres" + struct.pack(">IIIII", 3, head, head + len(tree), head + len(tree) + len(data), 1)
            + tree + data + names)


def test_rcc_files_reads_plain_and_compressed_entries_with_their_paths():
    files = {"x.webp": (b"plain bytes", False), "y.png": (b"squeezed " * 50, True)}
    assert corpus.rcc_files(rcc(files)) == {"a/x.webp": b"plain bytes", "a/y.png": b"squeezed " * 50}


def test_desktop_licence_is_read_beside_the_photo(tmp_path: Path):
    (tmp_path / "bee.jpg").write_bytes(b"")
    (tmp_path / "bee.desktop").write_text("[Desktop Entry]\nName=Bee\nX-KDE-PluginInfo-License=Public Domain\n")
    assert corpus._desktop_licence(tmp_path / "bee.jpg") == "Public Domain (the puzzle's bee.desktop)"
    assert corpus._desktop_licence(tmp_path / "none.jpg") is None


def test_subject_tags_of_the_manifest_are_what_subject_of_says():
    # The second round's patterns never retag a first-round photo.
    for e in corpus.load_manifest()["photos"]:
        package, stem = e["file"].removesuffix(".jpg").split("__", 1)
        assert corpus.subject_of(stem, package) == e["subject"], e["file"]
    assert corpus.subject_of("pool", "scratch") == "landscape"  # a stem of round 2 that round 3 has too
    assert corpus.subject_of("pool", "kphotoalbum") == "people"
    assert corpus.subject_of("erase-kitten") == "animal"
    assert corpus.subject_of("explore_monuments-petra") == "building"
    assert corpus.subject_of("clickgame-sea3") == "underwater"
    assert corpus.subject_of("frozenpond") == "snow"
    assert corpus.subject_of("background", "qtbase5-examples") == "text"  # round 3's; round 4 has the stem too
    assert corpus.subject_of("background", "sddm-theme-maldives") == "landscape"
    assert corpus.subject_of("flower", "libjxl-testdata") == "plant"


def test_the_first_round_comes_first_and_alone_gives_the_tuning_photos(tmp_path: Path):
    photos = corpus.load_manifest()["photos"]
    rounds = [e.get("since", 1) for e in photos]
    assert rounds == sorted(rounds) and rounds[0] == 1
    assert len({e["file"] for e in photos}) == len(photos)
    split = data.split_photos(tmp_path)
    assert len(split["tune"]) == data.N_TUNE
    for name in ("tune", "train", "val"):  # what committed models and thresholds were chosen on
        assert all("since" not in e for e in split[name]), name
    assert all(e["since"] == 2 for name in ("train2", "check2", "val2") for e in split[name])
    assert all(e["since"] == 3 for e in split["val3"])
    assert all(e["since"] == 4 for e in split["val4"])
    assert len(split["check2"]) == data.N_CHECK2
    home = {"tune": "train", "train": "train", "val": "val", "train2": "train", "check2": "train", "val2": "val",
            "val3": "val", "val4": "val"}
    assert all(e["split"] == home[name] for name, group in split.items() for e in group)
    ids = [e["id"] for group in split.values() for e in group]
    assert len(ids) == len(set(ids)) == len(photos)


# sha256 of each split's ids, one per line in split_photos' order (a bench's --limit takes the
# first N), as they were before round 3: adding a round must change none of them.
SPLITS_BEFORE_ROUND_3 = {
    "tune": (5, "f9ff29ec26d6cc20"), "train": (57, "6d8169b7dc0b1ff2"), "val": (19, "90717665e382a588"),
    "train2": (123, "a4c6505302c77414"), "check2": (40, "fe36eee4d6baa4eb"), "val2": (40, "6302acb12bd97007"),
}


def test_the_splits_of_rounds_1_and_2_are_what_they_were_before_round_3(tmp_path: Path):
    import hashlib
    split = data.split_photos(tmp_path)
    for name, (n, digest) in SPLITS_BEFORE_ROUND_3.items():
        ids = [e["id"] for e in split[name]]
        assert (len(ids), hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]) == (n, digest), name
    # and the photos themselves: the first 284 entries of the manifest are rounds 1 and 2
    photos = corpus.load_manifest()["photos"]
    assert [e.get("since", 1) for e in photos[:284]].count(3) == 0
    assert all(e.get("since") == 3 for e in photos[284:354])


def test_round_3_is_held_out_whole_and_new():
    photos = corpus.load_manifest()["photos"]
    r3 = [e for e in photos if e.get("since") == 3]
    assert 60 <= len(r3) <= 120
    assert all(e["split"] == "val" and corpus.in_split(e, "val3") for e in r3)
    assert not any(corpus.in_split(e, s) for e in r3 for s in ("train", "val", "train2", "val2"))
    earlier = {e["package"] for e in photos if e.get("since", 1) < 3}
    assert not earlier & {e["package"] for e in r3}  # packages no earlier round used
    assert 3 in corpus.HELD_OUT_ROUNDS
    assert all(e["licence"] and e["sha256"] and e["version"] for e in r3)


def test_a_held_out_round_goes_to_validation_whole(tmp_path: Path, monkeypatch):
    """build() on a manifest of one earlier photo: the new round, all val, listed after it."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    imgs = {s: cv2.imencode(".png", rng.integers(0, 256, (64, 64, 3), np.uint8))[1].tobytes() for s in "abcd"}

    def cands(names):
        return [corpus.Candidate(f"zz{s}", "debian", "pkg", "1", f"/{s}.png", "CC0", imgs[s]) for s in names]

    for fn in ("deb_candidates", "pillow_candidates", "more_candidates", "round4_candidates"):
        monkeypatch.setattr(corpus, fn, lambda *a, **k: [])
    monkeypatch.setattr(corpus, "skimage_candidates", lambda: cands("a"))
    monkeypatch.setattr(corpus, "round3_candidates", lambda cache: cands("bcd"))
    manifest = tmp_path / "m.json"
    manifest.write_text('{"photos": [{"id": "pkg:/a.png", "split": "train", "since": 2}]}')
    monkeypatch.setattr(corpus, "HELD_OUT_ROUNDS", (3,))
    entries = corpus.build(tmp_path / "out", tmp_path / "cache", manifest)
    assert [(e["id"], e["split"], e.get("since")) for e in entries] == [
        ("pkg:/a.png", "train", 2), ("pkg:/b.png", "val", 3), ("pkg:/c.png", "val", 3), ("pkg:/d.png", "val", 3)]


# The same, as they were before round 4 (val3 included), and val4 as round 4 built it.
SPLITS_BEFORE_ROUND_4 = {**SPLITS_BEFORE_ROUND_3, "val3": (70, "47f491278c014c9a")}
VAL4 = (45, "02e3d66dd27903e4")


def _digest(entries: list[dict]) -> tuple[int, str]:
    import hashlib
    ids = [e["id"] for e in entries]
    return len(ids), hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def test_the_splits_of_rounds_1_to_3_are_what_they_were_before_round_4(tmp_path: Path):
    split = data.split_photos(tmp_path)
    for name, pinned in SPLITS_BEFORE_ROUND_4.items():
        assert _digest(split[name]) == pinned, name
    assert _digest(split["val4"]) == VAL4
    # the first 354 entries of the manifest are rounds 1-3, the rest round 4
    photos = corpus.load_manifest()["photos"]
    assert [e.get("since", 1) for e in photos[:354]].count(4) == 0
    assert all(e.get("since") == 4 for e in photos[354:])


def test_round_4_is_held_out_whole_and_new():
    photos = corpus.load_manifest()["photos"]
    r4 = [e for e in photos if e.get("since") == 4]
    assert 40 <= len(r4) <= 120
    assert all(e["split"] == "val" and corpus.in_split(e, "val4") for e in r4)
    assert not any(corpus.in_split(e, s) for e in r4 for s in ("train", "val", "train2", "val2", "val3"))
    earlier = {e["package"] for e in photos if e.get("since", 1) < 4}
    assert not earlier & {e["package"] for e in r4}  # packages no earlier round used
    assert {3, 4} <= set(corpus.HELD_OUT_ROUNDS)
    assert all(e["licence"] and e["sha256"] and e["version"] for e in r4)


def test_a_second_held_out_round_goes_to_validation_whole_after_the_first(tmp_path: Path, monkeypatch):
    """build() on a manifest of rounds 2 and 3: round 4's newcomers all val, listed last, and a
    near-duplicate of an earlier photo is the newcomer that is dropped."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(1)
    imgs = {s: cv2.imencode(".png", rng.integers(0, 256, (64, 64, 3), np.uint8))[1].tobytes() for s in "abcd"}

    def cands(names, pkg="pkg"):
        return [corpus.Candidate(f"zz{s}", "debian", pkg, "1", f"/{s}.png", "CC0", imgs[s]) for s in names]

    for fn in ("deb_candidates", "pillow_candidates", "more_candidates"):
        monkeypatch.setattr(corpus, fn, lambda *a, **k: [])
    monkeypatch.setattr(corpus, "skimage_candidates", lambda: cands("a"))
    monkeypatch.setattr(corpus, "round3_candidates", lambda cache: cands("b"))
    monkeypatch.setattr(corpus, "round4_candidates", lambda cache: cands("cb", "new") + cands("d", "new"))
    manifest = tmp_path / "m.json"
    manifest.write_text('{"photos": [{"id": "pkg:/a.png", "split": "train", "since": 2},'
                        ' {"id": "pkg:/b.png", "split": "val", "since": 3}]}')
    monkeypatch.setattr(corpus, "HELD_OUT_ROUNDS", (3, 4))
    entries = corpus.build(tmp_path / "out", tmp_path / "cache", manifest)
    assert [(e["id"], e["split"], e.get("since")) for e in entries] == [
        ("pkg:/a.png", "train", 2), ("pkg:/b.png", "val", 3), ("new:/c.png", "val", 4), ("new:/d.png", "val", 4)]
