"""Row locks, taken in one global order (after saleor/saleor ``saleor/giftcard/lock_objects.py``).

Every money service locks the rows it will change with ``SELECT ... FOR UPDATE`` before it reads
the figures it decides on, and always in this order, so that two services can never wait on each
other in a cycle (a deadlock):

    1. idempotency record of the request (apps.core.idempotency), if any
    2. the acting user (``lock_user``): serializes one person's money services
    3. the lead trader row (lead trading; copy start locks the lead it copies)
    4. copy rows, by primary key (``lock_rows`` on a Copy queryset)
    5. the lead sub-position, then follower positions, by primary key
    6. ledger accounts, by primary key (inside ``apps.ledger.services``; always last)

Mirroring a lead event takes 4 -> 5 -> 6 for a range of copies; stop copying and Modify take
2 -> 4 -> 5 -> 6 for one copy, so a stop racing a mirror waits on the copy row and then sees
what the mirror did. A service never locks a row of an earlier level after one of a later level.

Locks are ``FOR NO KEY UPDATE`` on PostgreSQL: they serialize the services exactly as
``FOR UPDATE`` would, but do not block the foreign-key checks (``FOR KEY SHARE``) that
inserting a row referencing a locked one takes. With ``FOR UPDATE``, a transaction that wrote
a copy row twice re-checked the copy's lead-trader key at commit and waited on a lead row that
another service held: a deadlock (found by tests/fees' funding-versus-stop race).

This module imports no app: callers pass their own querysets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.contrib.auth import get_user_model
from django.db import connection, models

from apps.core.exceptions import NotFound

M = TypeVar("M", bound=models.Model)


def for_update(queryset: models.QuerySet[M], **kwargs) -> models.QuerySet[M]:
    """``select_for_update``, as ``FOR NO KEY UPDATE`` where the database has it."""
    no_key = connection.features.has_select_for_no_key_update
    return queryset.select_for_update(no_key=no_key, **kwargs)


def lock_user(user) -> None:
    """Level 2: the acting user's row."""
    for_update(get_user_model().objects.filter(pk=user.pk)).exists()


def lock_rows(queryset: models.QuerySet[M]) -> list[int]:
    """Lock every row of ``queryset`` in primary-key order; returns their ids. Only the rows of
    the queryset's own table are locked (``of=("self",)``), not those it joins."""
    return list(for_update(queryset, of=("self",)).order_by("pk").values_list("pk", flat=True))


def lock_one(queryset: models.QuerySet[M], pk, *, missing: str) -> M:
    """Lock and return one row, or refuse with ``NotFound(missing)`` (a bad or foreign id is
    "not found", never a 500 and never a hint that the row exists)."""
    try:
        return for_update(queryset, of=("self",)).get(pk=int(pk))
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(missing) from None


def pks(objects: Iterable[models.Model | int]) -> list[int]:
    """Primary keys of instances or ids, sorted: the order rows are locked in."""
    return sorted({o.pk if isinstance(o, models.Model) else int(o) for o in objects})
