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
        stem = e["file"].split("__", 1)[1].removesuffix(".jpg")
        assert corpus.subject_of(stem) == e["subject"], e["file"]
    assert corpus.subject_of("erase-kitten") == "animal"
    assert corpus.subject_of("explore_monuments-petra") == "building"
    assert corpus.subject_of("clickgame-sea3") == "underwater"
    assert corpus.subject_of("frozenpond") == "snow"


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
    assert len(split["check2"]) == data.N_CHECK2
    home = {"tune": "train", "train": "train", "val": "val", "train2": "train", "check2": "train", "val2": "val"}
    assert all(e["split"] == home[name] for name, group in split.items() for e in group)
    ids = [e["id"] for group in split.values() for e in group]
    assert len(ids) == len(set(ids)) == len(photos)
