"""Set-based writes: one statement for many rows.

On PostgreSQL each helper sends ONE statement whose rows travel as arrays
(``INSERT ... SELECT FROM unnest(...)``, ``UPDATE ... FROM unnest(...)``): no per-row SQL is
built in Python, which is what keeps a 10,000-follower fan-out near the speed of COPY.
Elsewhere (SQLite for ``make run``) they fall back to Django's bulk_create / bulk_update,
which are correct but slower. Both paths run under the same tests.

These helpers never round or validate money: callers pass final values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.db import connection, models
from django.db.models import Case, F, Value, When
from django.utils import timezone


def _is_pg() -> bool:
    return connection.vendor == "postgresql"


def _pg_execute(sql: str, params: list, *, fetch: bool) -> tuple[list, int]:
    """Run one statement with server-side, binary parameter binding. Django's own cursor
    quotes every array element into the SQL text on the client (regex escaping per value),
    which costs more than the database's whole insert for thousands of rows."""
    import psycopg

    connection.ensure_connection()
    start = time.monotonic()
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, params, binary=True)
        rows = cur.fetchall() if fetch else []
        count = cur.rowcount
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": f"{sql} /* {len(params)} array parameters */",
                "time": f"{time.monotonic() - start:.3f}",
            }
        )
    return rows, count


def _concrete_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _fill_row(model, fields, row: Mapping, now) -> list:
    values = []
    for f in fields:
        if f.attname in row:
            v = row[f.attname]
        elif f.name in row:
            v = row[f.name]
            if isinstance(v, models.Model):
                v = v.pk
        else:
            v = _default(model, f, now)
        values.append(v)
    return values


def _default(model, f: models.Field, now):
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return now
    v = f.get_default()  # the declared default, "" for text, None for nullable
    if v is None and not f.null:
        raise ValueError(f"{model.__name__}.{f.name} needs a value")
    return v


def _columns(model, fields, rows: Sequence[Mapping], now) -> list[list]:
    """Column-oriented values; rows may omit keys (their default applies)."""
    present = set().union(*(r.keys() for r in rows))
    columns = []
    for f in fields:
        key = f.attname if f.attname in present else f.name if f.name in present else None
        if key is None:
            columns.append([_default(model, f, now)] * len(rows))
            continue
        missing = object()
        col = [r.get(key, missing) for r in rows]
        if col.count(missing):
            default = _default(model, f, now)
            col = [default if v is missing else v for v in col]
        if key == f.name and f.is_relation:
            col = [v.pk if isinstance(v, models.Model) else v for v in col]
        columns.append(col)
    return columns


def _pg_array_type(field: models.Field) -> str:
    t = field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
    if t.startswith("varchar") or t.startswith("character varying"):
        return "text"
    if t == "serial" or t == "bigserial":
        return "bigint"
    return t.split(" CHECK")[0].split(" check")[0]


def _pg_value(field: models.Field, v):
    if v is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(v, default=str)
    return v


def bulk_insert(
    model: type[models.Model], rows: Sequence[Mapping], *, returning: str | None = "id"
) -> list:
    """Insert ``rows`` (dicts of field name or attname -> value). Returns the ``returning``
    column of each row in order (or [] when returning is None).

    On PostgreSQL a column whose value is the same in every row (the instrument, the lead
    event, the price of a fan-out) travels as one scalar parameter instead of an array: the
    per-value cost of adapting parameters is most of the client's share of a big insert."""
    if not rows:
        return []
    now = timezone.now()
    fields = _concrete_fields(model)
    if not _is_pg():
        data = [_fill_row(model, fields, r, now) for r in rows]
        objs = [model(**{f.attname: v for f, v in zip(fields, vals, strict=True)}) for vals in data]
        model.objects.bulk_create(objs, batch_size=500)
        return [getattr(o, returning) for o in objs] if returning else []
    sql, params = _pg_insert_sql(model, fields, rows, now)
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(model._meta.get_field(returning).column)}"
    rows_out, _ = _pg_execute(sql, params, fetch=bool(returning))
    return [r[0] for r in rows_out]


def _pg_insert_sql(model, fields, rows: Sequence[Mapping], now) -> tuple[str, list]:
    columns = _columns(model, fields, rows, now)
    n = len(rows)
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays, array_names, select = [], [], []
    for i, (f, col) in enumerate(zip(fields, columns, strict=True)):
        first = col[0]
        if col.count(first) == n:
            select.append(("scalar", f"%b::{_pg_array_type(f)}", _pg_value(f, first)))
        else:
            arrays.append([_pg_value(f, v) for v in col])
            array_names.append((f"c{i}", f"%b::{_pg_array_type(f)}[]"))
            select.append(("array", f"u.c{i}", None))
    # Scalars come first in the parameter list: they appear in the SELECT list, which
    # precedes FROM unnest(...).
    select_sql = ", ".join(expr for _, expr, _ in select)
    params = [v for kind, _, v in select if kind == "scalar"]
    if arrays:
        names = ", ".join(name for name, _ in array_names)
        unnest = ", ".join(cast for _, cast in array_names)
        sql = (
            f"INSERT INTO {table} ({cols}) SELECT {select_sql} FROM unnest({unnest}) AS u({names})"
        )
        params += arrays
    else:
        sql = f"INSERT INTO {table} ({cols}) SELECT {select_sql} FROM generate_series(1, {n})"
    return sql, params


def bulk_upsert(
    model: type[models.Model],
    rows: Sequence[Mapping],
    *,
    unique: Sequence[str],
    update: Sequence[str],
) -> int:
    """Insert ``rows``; a row whose ``unique`` fields match an existing row (a unique
    constraint on exactly those fields) overwrites that row's ``update`` fields instead
    (``INSERT ... ON CONFLICT (...) DO UPDATE``). One statement on PostgreSQL. Returns the
    number of rows given. Two rows of one call must not share a key."""
    if not rows:
        return 0
    now = timezone.now()
    fields = _concrete_fields(model)
    if not _is_pg():
        data = [_fill_row(model, fields, r, now) for r in rows]
        objs = [model(**{f.attname: v for f, v in zip(fields, vals, strict=True)}) for vals in data]
        model.objects.bulk_create(
            objs,
            batch_size=500,
            update_conflicts=True,
            unique_fields=list(unique),
            update_fields=list(update),
        )
        return len(objs)
    sql, params = _pg_insert_sql(model, fields, rows, now)
    quote = connection.ops.quote_name
    conflict = ", ".join(quote(model._meta.get_field(f).column) for f in unique)
    sets = ", ".join(
        f"{quote(model._meta.get_field(f).column)} = EXCLUDED.{quote(model._meta.get_field(f).column)}"
        for f in update
    )
    _pg_execute(f"{sql} ON CONFLICT ({conflict}) DO UPDATE SET {sets}", params, fetch=False)
    return len(rows)


def bulk_increment(model: type[models.Model], field: str, deltas: Mapping[int, Decimal]) -> int:
    """``field = field + delta`` for each pk in ``deltas``, in one statement. Rows should be
    locked by the caller (lock order is the caller's business). Returns rows updated."""
    deltas = {pk: d for pk, d in deltas.items() if d}
    if not deltas:
        return 0
    if not _is_pg():
        updated = 0
        items = list(deltas.items())
        out_field = model._meta.get_field(field)
        for start in range(0, len(items), 400):
            part = items[start : start + 400]
            case = Case(
                *[When(pk=pk, then=Value(d, output_field=out_field)) for pk, d in part],
                output_field=out_field,
            )
            updated += model.objects.filter(pk__in=[pk for pk, _ in part]).update(
                **{field: F(field) + case}
            )
        return updated
    table = connection.ops.quote_name(model._meta.db_table)
    f = model._meta.get_field(field)
    col = connection.ops.quote_name(f.column)
    pk_col = connection.ops.quote_name(model._meta.pk.column)
    sql = (
        f"UPDATE {table} AS t SET {col} = t.{col} + v.d "
        f"FROM unnest(%b::bigint[], %b::{_pg_array_type(f)}[]) AS v(id, d) "
        f"WHERE t.{pk_col} = v.id"
    )
    _, count = _pg_execute(sql, [list(deltas.keys()), list(deltas.values())], fetch=False)
    return count


def bulk_set(model: type[models.Model], rows: Iterable[Mapping], fields: Sequence[str]) -> int:
    """Set ``fields`` to each row's own values (rows carry ``id``), in one statement."""
    rows = list(rows)
    if not rows:
        return 0
    if not _is_pg():
        objs = []
        for r in rows:
            obj = model(pk=r["id"])
            for name in fields:
                setattr(obj, model._meta.get_field(name).attname, r[name])
            objs.append(obj)
        return model.objects.bulk_update(objs, list(fields), batch_size=400)
    table = connection.ops.quote_name(model._meta.db_table)
    pk_col = connection.ops.quote_name(model._meta.pk.column)
    mfields = [model._meta.get_field(n) for n in fields]
    sets = ", ".join(
        f"{connection.ops.quote_name(f.column)} = v.c{i}" for i, f in enumerate(mfields)
    )
    casts = ["%b::bigint[]"] + [f"%b::{_pg_array_type(f)}[]" for f in mfields]
    names = ", ".join(["id"] + [f"c{i}" for i in range(len(mfields))])
    sql = (
        f"UPDATE {table} AS t SET {sets} FROM unnest({', '.join(casts)}) AS v({names}) "
        f"WHERE t.{pk_col} = v.id"
    )
    params = [[r["id"] for r in rows]] + [[_pg_value(f, r[f.name]) for r in rows] for f in mfields]
    _, count = _pg_execute(sql, params, fetch=False)
    return count
