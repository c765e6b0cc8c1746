"""Model instances from plain SQL, for the few lookups every connect and join makes.

A `Model.objects.filter(pk=...).first()` costs about 490 µs of CPU on PostgreSQL, of which the
round trip is about 100 µs: the rest is the ORM compiling the query again (measured in a loop,
docs/performance.md). A socket's opening and its first join made six such queries, and at a
reconnect storm they were most of the server's CPU (py-spy --gil). `load` writes its SELECT
once per model and column list and runs it with new parameters; the values go through the
same converters the ORM applies (`get_db_converters`: SQLite's text datetimes and integer
booleans, a field's own `from_db_value`) and become instances through `Model.from_db`, as a
queryset's would, so the model's own `from_db` runs too.

Only for lookups by key on one table, with optional joins for a few extra columns (an edit's
or a reaction's message, chats/message_rows.py). Writes stay in the ORM or in the services'
own SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

Plan = tuple[str, list[str], list[tuple[list[Any], Any]]]  # SELECT, attribute names, converters
_PLANS: dict[tuple[str, type[Model], str, str, tuple[str, ...], bool], Plan] = {}


def _plan(model: type[Model], joins: str, where: str, extra: tuple[str, ...], lock: bool) -> Plan:
    key = (connection.vendor, model, joins, where, extra, lock)
    plan = _PLANS.get(key)
    if plan is None:
        q = connection.ops.quote_name
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(f"t.{q(f.column)}" for f in fields)
        more = "".join(f", {e}" for e in extra)
        sql = f"SELECT {columns}{more} FROM {q(model._meta.db_table)} t {joins} WHERE {where}"  # noqa: S608 (ours)
        if lock and connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF t"
        converters = []
        for field in fields:
            col = field.get_col("t")
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            converters.append((found, col))
        plan = _PLANS[key] = (sql, [f.attname for f in fields], converters)
    return plan


def load(
    model: type[Model],
    *,
    where: str,
    params: Sequence[Any] | dict[str, Any],
    joins: str = "",
    extra: Sequence[str] = (),
    lock: bool = False,
) -> list[tuple[Model, tuple[Any, ...]]]:
    """[(instance, its extra values)] for the rows of `model` (aliased `t`) matching `where`,
    with `joins` (further tables) and `extra` (more expressions to select, read as the
    database returns them). `where`, `joins` and `extra` are our own SQL, never input:
    values go in `params`. `lock`: the rows of `model` locked for the caller's transaction
    (PostgreSQL; SQLite writes one at a time anyway)."""
    sql, names, converters = _plan(model, joins, where, tuple(extra), lock)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    count = len(names)
    for row in rows:
        values = list(row[:count])
        for i, (found, col) in enumerate(converters):
            for converter in found:
                values[i] = converter(values[i], col, connection)
        out.append((model.from_db(connection.alias, names, values), tuple(row[count:])))
    return out


def table(model: type[Model]) -> str:
    """The model's table, quoted, to name in `joins`."""
    return connection.ops.quote_name(model._meta.db_table)
