"""Grouped sums of money, exact on every database.

PostgreSQL sums ``numeric`` exactly, so there the database does the GROUP BY and only one row
per group travels. SQLite's SUM over decimals is binary floating point (0.3 - 0.1 - 0.2 is not
0 there), so elsewhere the same rows are fetched and added in Python with Decimal. Both paths
run the same queryset (same filters, same groups): only where the addition happens differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import connection
from django.db.models import Count, QuerySet, Sum

ZERO = Decimal(0)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def sum_by(
    qs: QuerySet, keys: Sequence[str], fields: Sequence[str], *, count: bool = False
) -> dict[tuple, dict[str, Decimal | int]]:
    """``{(key values...): {field: sum, ..., "n": rows}}`` over ``qs`` grouped by ``keys``
    (field names or annotations). Groups without rows are absent; a field of a group whose
    values are all NULL sums to 0."""
    out: dict[tuple, dict[str, Decimal | int]] = {}
    if on_postgres():
        aggregates = {f"sum_{f}": Sum(f) for f in fields}
        if count:
            aggregates["n"] = Count("*")
        for row in qs.order_by().values(*keys).annotate(**aggregates):
            group = {f: row[f"sum_{f}"] or ZERO for f in fields}
            if count:
                group["n"] = row["n"]
            out[tuple(row[k] for k in keys)] = group
        return out
    width = len(keys)
    for row in qs.order_by().values_list(*keys, *fields):
        group = out.setdefault(row[:width], {f: ZERO for f in fields} | ({"n": 0} if count else {}))
        for f, value in zip(fields, row[width:], strict=True):
            if value is not None:
                group[f] += value
        if count:
            group["n"] += 1
    return out
