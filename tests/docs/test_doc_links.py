"""Every relative link and image in README.md and docs/*.md points at a file and heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_helpers import ROOT, anchors, doc_id, doc_paths, prose, slug, without_code_spans

LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = ("http://", "https://", "mailto:")


def links(path: Path) -> list[str]:
    # `[z]` or `pip install 'x[plot]'` in code is no link
    text = without_code_spans(prose(path))
    return [t for t in LINK.findall(text) if not t.startswith(EXTERNAL)]


@pytest.mark.parametrize("path", doc_paths(), ids=doc_id)
def test_relative_links_resolve(path: Path):
    broken = []
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, "\n".join(broken)


def test_readme_links_every_doc_and_shows_the_picture():
    readme = links(ROOT / "README.md")
    for doc in (ROOT / "docs").glob("*.md"):
        if doc.name != "TEAM.md":
            assert f"docs/{doc.name}" in readme, f"README does not link docs/{doc.name}"
    assert "docs/images/pcb442.png" in readme


def test_the_picture_is_a_small_png():
    png = ROOT / "docs" / "images" / "pcb442.png"
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(data) < 150_000


def test_slug_matches_github():
    assert slug("Gaps and proofs") == "gaps-and-proofs"
    assert slug("`solve` options") == "solve-options"
    assert slug("Leader election and fencing") == "leader-election-and-fencing"
    assert slug("What is fenced, and why") == "what-is-fenced-and-why"
