"""`manage.py cleanup_uploads [--hours 24]`: remove uploads never sent after a day (and those
whose message was deleted), rows and files. Run it from a timer (docs/deploy.md)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from chats.uploads import UNSENT_MAX_AGE, cleanup_uploads


class Command(BaseCommand):
    help = "Remove uploads that were never sent (older than --hours, default 24) and those of deleted messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=UNSENT_MAX_AGE.total_seconds() / 3600)

    def handle(self, *args: object, hours: float, **options: object) -> None:
        if hours < 0:
            self.stderr.write("--hours must not be negative.")
            raise SystemExit(2)
        removed = cleanup_uploads(older_than=timedelta(hours=hours))
        self.stdout.write(f"removed {removed} upload(s)")
