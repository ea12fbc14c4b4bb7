"""Risk-pass benchmark (make bench): one pass over N open follower positions on PostgreSQL where
about 1% cross their liquidation price.

Setup (set-based): N/10 copies of one lead, each funded with 1,000 USDT and holding 10 open BTC
positions at 50,000: 95% isolated or cross with low leverage (never due), and five slices of
1% each, isolated longs at 10x, 9x, 8x, 7x and 6x (liquidation prices 45,203, 44,645, 43,947,
43,051 and 41,855 USDT). Run k sets the mark just below slice k's price: exactly that slice is
newly due (the earlier slices are closed already), so each of the 5 runs liquidates 1% of the
positions through the real service (locks, re-check, ledger entry, copy events, notices). A
tenth of the copies have a Total Stop Loss far away (the stop-loss scan is measured too).

Prints, per N, the median of 5 passes, the time per open position, the statements one pass sends
(it must not grow with N), and the floor: one aggregate scan of the same open positions:

    risk n=100000 median_s=0.41 per_position_us=4.1 statements=38 floor_s=0.05 ratio=8.2
"""

from __future__ import annotations

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
from django.test.utils import CaptureQueriesContext  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_RISK_SIZES", "10000,100000").split(",")]
RUNS = 5
SLICE_LEVERAGES = [10, 9, 8, 7, 6]
MARKS = ["45200", "44640", "43940", "43050", "41850"]  # just below each slice's price


def setup(n_positions: int):
    from django.contrib.auth import get_user_model

    from apps.copies.models import Copy
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account, JournalEntry
    from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
    from apps.market.models import Instrument
    from apps.market.services import instruments_ensure, price_set
    from apps.positions.models import Position
    from tests.factories.trading import lead_make

    instruments_ensure()
    price_set(instrument="BTC-USDT-SWAP", price=Decimal("50000"))
    btc = Instrument.objects.get(name="BTC-USDT-SWAP")
    lead = lead_make(equity="10000", max_copiers=10**7)
    n_copies = n_positions // 10
    tag = uuid.uuid4().hex[:8]
    external = account_system(Account.Kind.EXTERNAL).pk
    with transaction.atomic():
        users = bulk_insert(
            get_user_model(),
            [{"email": f"risk-{tag}-{i}@example.com", "password": "!"} for i in range(n_copies)],
        )
        accounts = bulk_insert(
            Account,
            [{"kind": "copy", "code": f"copy:risk:{tag}:{u}", "owner_id": u} for u in users],
        )
        ledger_post_batch(
            [
                EntrySpec(
                    key=f"risk-fund:{a}",
                    kind=JournalEntry.Kind.DEPOSIT,
                    postings=((external, Decimal("-1000")), (a, Decimal("1000"))),
                )
                for a in accounts
            ]
        )
        bulk_insert(
            Copy,
            [
                {
                    "follower_id": u,
                    "lead_id": lead.pk,
                    "account_id": a,
                    "total_investment": Decimal("1000"),
                    "profit_share_ratio": Decimal("0.1"),
                    "total_stop_loss": Decimal("900") if i % 10 == 0 else None,
                }
                for i, (u, a) in enumerate(zip(users, accounts, strict=True))
            ],
            returning=None,
        )
        rows = []
        for i in range(n_positions):
            account = accounts[i // 10]
            band = i % 100
            if band < len(SLICE_LEVERAGES):  # 1% per slice
                lev, mode = SLICE_LEVERAGES[band], "isolated"
            else:
                lev, mode = (1 if band % 2 else 2), ("cross" if band % 3 == 0 else "isolated")
            size = Decimal("0.10")  # 0.001 BTC: notional 50, margin 50 / lev
            rows.append(
                {
                    "account_id": account,
                    "instrument_id": btc.pk,
                    "side": "long",
                    "margin_mode": mode,
                    "leverage": lev,
                    "size": size,
                    "opened_size": size,
                    "entry_price": Decimal("50000"),
                    "margin": (Decimal("50") / lev).quantize(Decimal("0.00000001")),
                }
            )
        bulk_insert(Position, rows, returning=None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE positions_position; ANALYZE copies_copy; ANALYZE ledger_account")
    return btc


def floor_scan(instrument_id: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.account_id, sum(p.margin) FROM positions_position p "
            "WHERE p.instrument_id = %s AND p.status = 'open' GROUP BY p.account_id",
            [instrument_id],
        )
        cursor.fetchall()
    return time.perf_counter() - started


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/risk.py needs PostgreSQL (DATABASE_URL=postgres://...)", file=sys.stderr)
        return 2
    from apps.copies.risk import risk_pass
    from apps.market import hooks
    from apps.market.services import price_set
    from apps.positions.models import Position

    hooks._listeners.clear()  # the bench runs the pass itself, once per price
    from django.test.utils import setup_test_environment

    # a throwaway test_<name> database, like every bench: never the DATABASE_URL's own data
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _measure(risk_pass, price_set, Position)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


def _measure(risk_pass, price_set, Position) -> None:
    for n in SIZES:
        btc = setup(n)
        times, statements, liquidated, floors = [], [], [], []
        for mark in MARKS[:RUNS]:
            price_set(instrument=btc, price=Decimal(mark))
            floors.append(floor_scan(btc.pk))
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                report = risk_pass(instrument_ids=[btc.pk])
                times.append(time.perf_counter() - started)
            statements.append(len(queries.captured_queries))
            liquidated.append(report.liquidated_positions)
        median = statistics.median(times)
        floor = statistics.median(floors)
        print(
            f"risk n={n} median_s={median:.3f} per_position_us={median / n * 1e6:.2f} "
            f"statements={max(statements)} liquidated_per_run={min(liquidated)}-{max(liquidated)} "
            f"floor_s={floor:.3f} ratio={median / floor:.1f}",
            flush=True,
        )
        Position.objects.filter(account__code__startswith="copy:risk:").update(status="closed")


if __name__ == "__main__":
    sys.exit(main())
