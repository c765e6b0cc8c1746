"""`manage.py backup_sqlite DEST`: a consistent copy of the SQLite database while Chatty runs.

SQLite's online backup API copies the database page by page under its own locking, so writers
go on meanwhile and the copy is one consistent state (WAL content included) — unlike `cp`,
which can catch a file in the middle of a write. The copy is checked (`PRAGMA
integrity_check`) and then moved into place, so DEST is never a half-written file. PostgreSQL
is backed up with pg_dump instead (docs/deploy.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

PAGES_PER_STEP = 1024  # copy in steps so that writers are not held up for the whole copy


class Command(BaseCommand):
    help = "Copy the SQLite database to DEST (a file, or a directory for a time-stamped file) with SQLite's backup API."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("dest", help="Backup file to write, or an existing directory to write it in.")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args: Any, dest: str, database: str, **options: Any) -> None:
        settings_dict = connections[database].settings_dict
        if settings_dict["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError(
                f"The {database!r} database is not SQLite ({settings_dict['ENGINE']}); back PostgreSQL up with "
                "pg_dump (docs/deploy.md)."
            )
        source = Path(settings_dict["NAME"])
        if not source.is_file():
            raise CommandError(f"There is no SQLite database at {source}.")
        target = Path(dest)
        if target.is_dir():
            target = target / f"chatty-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite3"
        if not target.parent.is_dir():
            raise CommandError(f"The folder {target.parent} does not exist.")
        if target.resolve() == source.resolve():
            raise CommandError("DEST is the database itself.")
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=PAGES_PER_STEP)
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise CommandError(f"The copy failed SQLite's integrity check: {check}")
                # A self-contained file: no -wal beside it is needed to read it.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            src.close()
        os.chmod(partial, 0o600)  # it holds every message
        os.replace(partial, target)
        self.stdout.write(json.dumps({"path": str(target), "bytes": target.stat().st_size}))
