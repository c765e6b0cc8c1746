"""README and docs/ stand on their own: no pointer outside the repository, and every relative
link names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
DOCS = [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").glob("*.md"))]


def test_docs_never_point_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text()
        for outside in ("SPEC.md", "SPEC §", "SPEC section", "/work/", "shared folder"):
            assert outside not in text, f"{doc.relative_to(BASE_DIR)} points outside the repository: {outside!r}"


def test_relative_links_resolve():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(BASE_DIR)} links to missing {target}"


def test_the_readme_links_the_reference():
    readme = (BASE_DIR / "README.md").read_text()
    for link in ("chatty/openapi.json", "/api/docs", "docs/websocket.md"):
        assert link in readme
