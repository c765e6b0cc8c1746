"""`manage.py backup_sqlite DEST`: a consistent copy of a live SQLite database."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from django.core.management import CommandError, call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_backup_is_a_consistent_copy_taken_while_a_writer_is_busy(tmp_path, make_user, befriend):
    if connection.vendor != "sqlite":
        with pytest.raises(CommandError, match="pg_dump"):
            call_command("backup_sqlite", str(tmp_path / "x.sqlite3"))
        return
    from chats.services import message_send, room_create

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[str(bob.pk)])
    for n in range(30):
        message_send(sender=alice, room_id=room.pk, text=f"message {n}")

    # Another process in the middle of a write: the backup neither waits for it nor copies it.
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE chats_message SET text = 'half-done' WHERE room_id = ?", [room.pk])
    try:
        out = io.StringIO()
        call_command("backup_sqlite", str(tmp_path), stdout=out)
    finally:
        writer.rollback()
        writer.close()
    path = json.loads(out.getvalue())["path"]
    assert path.startswith(str(tmp_path)) and path.endswith(".sqlite3")

    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = [t for (t,) in copy.execute("SELECT text FROM chats_message WHERE room_id = ? ORDER BY id", [room.pk])]
        assert texts == [f"message {n}" for n in range(30)]
        assert copy.execute("SELECT COUNT(*) FROM accounts_user").fetchone()[0] >= 2
    finally:
        copy.close()
    assert list(tmp_path.glob(".*partial")) == []


def test_a_missing_folder_is_a_clear_error(tmp_path, db):
    if connection.vendor != "sqlite":
        return
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup_sqlite", str(tmp_path / "no" / "such" / "backup.sqlite3"))
