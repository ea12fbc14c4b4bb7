"""Page benchmark (make bench): the signed-in pages of issue 7 on PostgreSQL, with generated data.

Pages, each requested through Django's test Client (in process: the whole middleware stack,
session and CSRF included, no network and no web server; templates not instrumented, as in
production), signed in with ``force_login``:

- ``my_copies`` (/copies/, Ongoing) and ``my_copies_history`` (/copies/?tab=history)
- ``copy_trade_details`` (/copies/<id>/) of the follower's busiest copy
- ``wallet`` (/wallet/)
- ``lead_console`` (/lead/) of a lead trader with open positions and copiers

Two worlds are generated, set-based (bulk inserts and ledger batches, balanced like the real
thing), in a throwaway test database: a small one (5 copies, 50 positions) and the issue's
(50 copies, 500 positions). In each: one follower with that many copies, one of a different lead
trader each (the first 40% active, 20 of 50: the platform's limit; the rest stopped: History),
and that many follower positions: a fifth in the busiest copy (40% open, linked to its lead's open positions,
60% closed), the rest spread over the other copies (half open in active ones); the busiest
copy's lead holds a tenth as many open positions and has as many other copiers; the busiest
copy has a tenth as many missed copies. Explanations and miss reasons are copied from a real
mirror run first (so "why this size" and the miss reasons render as they do in use).

Per page and world: 2 warm-up requests, then 20 timed ones (p50 and p95 by nearest rank), and
the SQL statements of one request. Prints one line each:

    page name=wallet p50_ms=14.2 p95_ms=16.0 queries=12 copies=50 positions=500

Target: p95 <= 100 ms, and the same number of queries in both worlds (exit 1 if a page's
queries grow with the rows).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

WORLDS = [(5, 50), (50, 500)]  # (copies, positions)
REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "20"))
TARGET_P95_MS = 100
MAX_ACTIVE = 20
PERPS = {"BTC-USDT-SWAP": "50000", "ETH-USDT-SWAP": "3000", "SOL-USDT-SWAP": "150"}
D = Decimal


def samples() -> dict:
    """A real copy, mirrored by the real services: the explanation of a copied open and the
    reason and explanation of a miss ("below minimum size"), reused by the generated rows."""
    from apps.copies.models import CopyEvent
    from apps.positions.models import Position
    from apps.traders.services import lead_position_open
    from tests.factories.trading import copy_make, lead_make

    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="100")
    # mirrored on commit (Celery eager): 1% of the lead's equity
    lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    # 3 margin at 2x on ETH: 1% is 0.03, the minimum 0.01 contract needs 1.50: missed
    lead_position_open(
        lead=lead,
        instrument="ETH-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=2,
        margin="3",
    )
    copied = Position.objects.get(account_id=copy.account_id)
    missed = CopyEvent.objects.get(copy=copy, kind="missed")
    return {
        "explanation": copied.explanation,
        "miss_reason": missed.reason,
        "miss_explanation": missed.explanation,
    }


def _users(tag: str, n: int, what: str) -> list[int]:
    from django.contrib.auth import get_user_model

    from apps.core.bulk import bulk_insert

    return bulk_insert(
        get_user_model(),
        [{"email": f"pages-{tag}-{what}-{i}@example.com", "password": "!"} for i in range(n)],
    )


def _accounts(tag: str, owners: list[int], kind: str) -> list[int]:
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account

    code = {"main": "main:{u}"}.get(kind, f"{kind}:pages:{tag}:{{u}}:{{i}}")
    return bulk_insert(
        Account,
        [
            {"kind": kind, "code": code.format(u=u, i=i), "owner_id": u}
            for i, u in enumerate(owners)
        ],
    )


def world(n_copies: int, n_positions: int, sample: dict) -> dict:
    """One follower with ``n_copies`` copies and ``n_positions`` positions, its busiest copy's
    lead with open positions and other copiers. Returns the follower, the busiest copy and the
    lead's user."""
    from apps.copies.models import Copy, CopyEvent
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account, JournalEntry
    from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
    from apps.market.models import Instrument
    from apps.positions.models import Position
    from apps.traders.models import LeadTrader

    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    external = account_system(Account.Kind.EXTERNAL).pk
    instruments = list(Instrument.objects.filter(name__in=PERPS).values_list("pk", "name"))
    specs: list[EntrySpec] = []

    def deposit(account: int, amount) -> None:
        specs.append(
            EntrySpec(
                key=f"pages-{tag}-dep-{account}",
                kind=JournalEntry.Kind.DEPOSIT,
                postings=((external, -D(amount)), (account, D(amount))),
            )
        )

    with transaction.atomic():
        # lead traders: one per copy of the follower
        lead_users = _users(tag, n_copies, "lead")
        futures = _accounts(tag, lead_users, "lead_futures")
        spots = _accounts(tag, lead_users, "lead_spot")
        leads = bulk_insert(
            LeadTrader,
            [
                {
                    "user_id": u,
                    "nickname": f"P{tag}{i}",
                    "futures_account_id": f,
                    "spot_account_id": s,
                    "profit_share_ratio": D("0.1"),
                    "max_copiers": 1000,
                }
                for i, (u, f, s) in enumerate(zip(lead_users, futures, spots, strict=True))
            ],
        )
        for f in futures:
            deposit(f, "100000")
        # the follower: main account, one copy account per lead
        (follower,) = _users(tag, 1, "follower")
        (main,) = _accounts(tag, [follower], "main")
        deposit(main, "100000")
        copy_accounts = _accounts(tag, [follower] * n_copies, "copy")
        # other copiers of the first lead (the console's)
        others = _users(tag, n_copies, "copier")
        other_accounts = _accounts(tag, others, "copy")
        for a in other_accounts:
            deposit(a, "1000")
        ledger_post_batch(specs)
        specs.clear()
        for i, a in enumerate(copy_accounts):
            specs.append(
                EntrySpec(
                    key=f"pages-{tag}-fund-{a}",
                    kind=JournalEntry.Kind.COPY_FUNDING,
                    postings=((main, D("-1000")), (a, D("1000"))),
                    memo=f"Copy #{i} started",
                )
            )
        ledger_post_batch(specs)
        specs.clear()
        # 40% active (20 of 50: the platform's limit), the rest stopped: both tabs have rows
        stopped = list(range(min(MAX_ACTIVE, math.ceil(n_copies * 0.4)), n_copies))
        copies = bulk_insert(
            Copy,
            [
                {
                    "follower_id": follower,
                    "lead_id": leads[i],
                    "account_id": a,
                    "total_investment": D("1000"),
                    "profit_share_ratio": D("0.1"),
                    "status": "stopped" if i in stopped else "active",
                    "stopped_at": now if i in stopped else None,
                    "stop_reason": "user" if i in stopped else "",
                }
                for i, a in enumerate(copy_accounts)
            ],
        )
        bulk_insert(
            Copy,
            [
                {
                    "follower_id": u,
                    "lead_id": leads[0],
                    "account_id": a,
                    "total_investment": D("1000"),
                    "profit_share_ratio": D("0.1"),
                }
                for u, a in zip(others, other_accounts, strict=True)
            ],
            returning=None,
        )
        # the first lead's open positions
        lead_open = n_positions // 10
        lead_positions = bulk_insert(
            Position,
            [
                _position(futures[0], instruments[k % len(instruments)], D("100"), {})
                for k in range(lead_open)
            ],
        )
        # the follower's positions: a fifth in the busiest copy, the rest spread
        rows = []
        busiest = n_positions // 5
        for k in range(busiest):
            is_open = k < busiest * 2 // 5
            row = _position(
                copy_accounts[0], instruments[k % len(instruments)], D("10"), sample["explanation"]
            )
            if is_open and k < lead_open:
                row["lead_position_id"] = lead_positions[k]
            rows.append(row if is_open else _closed(row))
        rest = n_positions - busiest
        for k in range(rest):
            i = 1 + k % (n_copies - 1)
            row = _position(
                copy_accounts[i], instruments[k % len(instruments)], D("10"), sample["explanation"]
            )
            is_open = i not in stopped and (k // (n_copies - 1)) % 2 == 0
            rows.append(row if is_open else _closed(row))
        bulk_insert(Position, rows, returning=None)
        # the busiest copy's history: missed copies and its start
        bulk_insert(
            CopyEvent,
            [
                {
                    "copy_id": copies[0],
                    "kind": "missed",
                    "reason": sample["miss_reason"],
                    "explanation": sample["miss_explanation"],
                }
                for _ in range(n_positions // 10)
            ]
            + [{"copy_id": c, "kind": "started", "amount": D("1000")} for c in copies],
            returning=None,
        )
        # the stopped copies returned their cash
        for i in stopped:
            specs.append(
                EntrySpec(
                    key=f"pages-{tag}-return-{copy_accounts[i]}",
                    kind=JournalEntry.Kind.COPY_RETURN,
                    postings=((copy_accounts[i], D("-1000")), (main, D("1000"))),
                    memo="copy stopped",
                )
            )
        ledger_post_batch(specs)
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {
        "follower": User.objects.get(pk=follower),
        "busiest": copies[0],
        "lead": User.objects.get(pk=lead_users[0]),
    }


def _position(account: int, instrument: tuple[int, str], margin: Decimal, explanation) -> dict:
    pk, name = instrument
    price = D(PERPS[name])
    return {
        "account_id": account,
        "instrument_id": pk,
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "size": D("0.01"),
        "opened_size": D("0.01"),
        "entry_price": price,
        "lead_entry_price": price,
        "margin": margin,
        "explanation": explanation,
    }


def _closed(row: dict) -> dict:
    return {
        **row,
        "size": D("0"),
        "margin": D("0"),
        "status": "closed",
        "close_reason": "lead",
        "exit_price": row["entry_price"],
        "closed_at": timezone.now(),
        "lead_position_id": None,
    }


def measure(client: Client, url: str) -> tuple[float, float, int]:
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    p95 = times[math.ceil(0.95 * len(times)) - 1]
    return statistics.median(times), p95, len(queries.captured_queries)


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/pages.py measures on PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    from apps.market.services import instruments_ensure, price_set

    # No setup_test_environment(): it instruments every template render (a signal and a copy
    # of the context per template, for the test client's assertions), which is not what a
    # person's request costs.
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    failed = []
    try:
        instruments_ensure()
        for name, price in PERPS.items():
            price_set(instrument=name, price=D(price), source="operator")
        sample = samples()
        print(
            "pages through django.test.Client (in process, full middleware, no server); "
            f"{REQUESTS} requests each after 2 warm-ups",
            flush=True,
        )
        queries: dict[str, list[int]] = {}
        for n_copies, n_positions in WORLDS:
            w = world(n_copies, n_positions, sample)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            follower, lead = Client(), Client()
            follower.force_login(w["follower"])
            lead.force_login(w["lead"])
            pages = [
                ("my_copies", follower, "/copies/"),
                ("my_copies_history", follower, "/copies/?tab=history"),
                ("copy_trade_details", follower, f"/copies/{w['busiest']}/"),
                ("wallet", follower, "/wallet/"),
                ("lead_console", lead, "/lead/"),
            ]
            for name, client, url in pages:
                p50, p95, n = measure(client, url)
                queries.setdefault(name, []).append(n)
                print(
                    f"page name={name} p50_ms={p50:.1f} p95_ms={p95:.1f} queries={n} "
                    f"copies={n_copies} positions={n_positions}",
                    flush=True,
                )
                if n_positions == WORLDS[-1][1] and p95 > TARGET_P95_MS:
                    print(f"  {name}: p95 above the {TARGET_P95_MS} ms target", flush=True)
        for name, counts in queries.items():
            if len(set(counts)) != 1:
                failed.append(f"{name}: queries grow with the rows {counts}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
