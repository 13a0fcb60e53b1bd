"""Docs name commands a user can run from a clone: no path from the machine they were
written on."""
from __future__ import annotations

import re

from tests.conftest import ROOT


def test_no_document_names_an_absolute_machine_path():
    found = []
    for doc in [ROOT / "README.md", *ROOT.glob("bench/*.md"), *ROOT.glob("resources/**/*.md")]:
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            if re.search(r"(?<![\w.])/(work|root|home/\w+)/", line):
                found.append(f"{doc.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []
