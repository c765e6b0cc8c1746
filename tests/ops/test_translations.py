"""locale/ko/LC_MESSAGES/django.po is the source of the Korean translation: every msgid in it
is translated, and every translatable string of the code and templates is in it (checked by
running makemessages on a copy of the sources, so the repository is left alone)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PO = BASE_DIR / "locale" / "ko" / "LC_MESSAGES" / "django.po"
# What makemessages reads (and the Makefile's `translations` target ignores the same).
SKIP = {".venv", ".git", "tests", "bench", "staticfiles", "media", "node_modules", "docs", "deploy", "static"}


def _untranslated(po: polib.POFile) -> list[str]:
    return [e.msgid for e in po if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]


def test_every_msgid_of_the_po_file_is_translated():
    assert _untranslated(polib.pofile(str(PO))) == []


def test_the_compiled_catalogue_is_up_to_date():
    mo = polib.mofile(str(PO.with_suffix(".mo")))
    compiled = {e.msgid: e.msgstr for e in mo}
    entries = [e for e in polib.pofile(str(PO)) if not e.obsolete and not e.msgid_plural]
    missing = [e.msgid for e in entries if e.msgid not in compiled]
    assert missing == [], "run `make translations` (or compilemessages -l ko) and commit the .mo"


@pytest.mark.timeout(300)
def test_every_translatable_string_of_the_sources_is_in_the_po_file(tmp_path):
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is needed: apt-get install gettext")
    copy = tmp_path / "src"
    copy.mkdir()
    for item in BASE_DIR.iterdir():
        if item.name in SKIP or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, copy / item.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif item.suffix in (".py", ".html", ".txt"):
            shutil.copy2(item, copy / item.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(DJANGO_SETTINGS_MODULE="chatty.settings", DEBUG="1", SECRET_KEY="translations-check-" + "x" * 40)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-obsolete", "-v0"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )
    fresh = polib.pofile(str(copy / "locale" / "ko" / "LC_MESSAGES" / "django.po"))
    known = {e.msgid for e in polib.pofile(str(PO)) if not e.obsolete}
    missing = sorted(e.msgid for e in fresh if e.msgid not in known)
    assert missing == [], f"strings missing from {PO.relative_to(BASE_DIR)} (add them, translated): {missing}"
    assert _untranslated(fresh) == []
