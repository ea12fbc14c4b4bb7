"""Helpers for the admin list tests (tests/<app>/test_admin_lists.py): a trading world that
grows through the real services, and the number of queries one changelist page costs.

``world_grow(n)`` adds one lead trader with ``n`` copies and, through the services: a lead open
mirrored to every copy (positions, fills, copy events, lead event, notices), a half close
(fills, realized PnL), a weekly profit-share run (one settlement per copy), a funding round on a
past slot (one settlement per instrument and slot), the last copy stopped, ``n`` deposits
reversed (entries that point at the entry they reverse) and one more instrument priced. Every
money row therefore grows with ``n``; a changelist that costs the same number of queries after a second
``world_grow`` makes no query per row.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.copies.services import copy_stop
from apps.fees.services import funding_settle, funding_slot, profit_share_settle_active
from apps.ledger.services import deposit_credit, ledger_reverse
from apps.market.models import Price
from apps.market.specs import INSTRUMENT_SPECS
from apps.positions.models import Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.ledger import user_make
from tests.factories.trading import copy_make, lead_make, set_price

_slots = itertools.count(1)


def world_grow(n: int, *, capture) -> None:
    """``capture`` is pytest-django's ``django_capture_on_commit_callbacks`` (mirroring runs on
    commit)."""
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000")
    copies = [copy_make(lead, investment="1000") for _ in range(n)]
    with capture(execute=True):
        position = lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )
    set_price("BTC-USDT-SWAP", "51000")
    with capture(execute=True):
        lead_position_close(lead=lead, position=position, fraction="0.5")
    profit_share_settle_active(trigger="weekly")
    # a funding round on a past slot of its own (one round per instrument and slot)
    slot = funding_slot() - timedelta(hours=8 * next(_slots))
    Position.objects.filter(opened_at__gt=slot).update(opened_at=slot - timedelta(minutes=1))
    funding_settle(slot=slot)
    with capture(execute=True):
        copy_stop(copy=copies[-1], user=copies[-1].follower)
    for _ in range(n):
        ledger_reverse(entry=deposit_credit(user=user_make(), amount="5"))
    priced = set(Price.objects.values_list("instrument__name", flat=True))
    set_price(next(s["name"] for s in INSTRUMENT_SPECS if s["name"] not in priced), "100")


def page_queries(client, url: str) -> tuple[int, int, list[str]]:
    """(queries, rows shown, the SQL) of one GET of a changelist ``url``; asserts it renders.
    A first GET warms the per-process caches (content types, ...) out of the count."""
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    rows = len(response.context["cl"].result_list)
    return len(ctx.captured_queries), rows, [q["sql"] for q in ctx.captured_queries]


def assert_constant_queries(client, urls, grow) -> dict[str, tuple[int, int]]:
    """Count every changelist in ``urls`` (name -> url), ``grow()`` the data, count again: the
    pages show more rows for the same number of queries. Returns name -> (queries, rows)."""
    before = {name: page_queries(client, url) for name, url in urls.items()}
    grow()
    after = {name: page_queries(client, url) for name, url in urls.items()}
    for name in urls:
        (q1, rows1, _), (q2, rows2, sql) = before[name], after[name]
        assert rows2 > rows1, f"{name}: the second size shows no more rows ({rows1} -> {rows2})"
        assert q2 == q1, (
            f"{name}: {q1} queries for {rows1} rows but {q2} for {rows2}:\n" + "\n".join(sql)
        )
    return {name: (after[name][0], after[name][1]) for name in urls}
