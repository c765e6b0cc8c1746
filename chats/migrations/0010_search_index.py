# The index behind message search (chats/search.py): substring search, case-insensitive.
# PostgreSQL: pg_trgm's GIN index on UPPER(text) with every character written three times
# ("회의" -> "회회회의의의"): a trigram index holds nothing for a word of one or two characters,
# which Korean words often are, but their tripled form has whole trigrams. Longer words use the
# same index; chats/search.py writes each word's condition on this same expression.
# SQLite: an FTS5 table with the trigram tokenizer over chats_message (external content: the
# text is not stored twice), filled now and kept by triggers on insert, update and delete.
# Other databases get no index; search still works (a scan).
#
# SQLite drops a table's triggers when Django rebuilds the table (an AlterField on SQLite copies
# it into a new one): a later migration that rebuilds chats_message must come before this one
# or recreate the triggers. tests/chats/test_search.py catches a missing trigger.

from django.db import migrations

FTS = "chats_message_fts"

SQLITE_FORWARD = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='chats_message', content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
    f"""CREATE TRIGGER {FTS}_insert AFTER INSERT ON chats_message BEGIN
        INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text);
    END""",
    f"""CREATE TRIGGER {FTS}_delete AFTER DELETE ON chats_message BEGIN
        INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    f"""CREATE TRIGGER {FTS}_update AFTER UPDATE OF text ON chats_message BEGIN
        INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TABLE IF EXISTS {FTS}",
]
POSTGRES_FORWARD = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS chats_message_text_trgm ON chats_message"
    " USING gin (regexp_replace(UPPER(text), '(.)', '\\1\\1\\1', 'g') gin_trgm_ops)",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS chats_message_text_trgm"]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("chats", "0004_conversations"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
            elidable=False,
        ),
    ]
