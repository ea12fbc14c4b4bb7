"""Stats benchmark (make bench): the directory and profile selectors and the daily snapshot job
with 500 lead traders, 50,000 copies and 90 days of snapshots on PostgreSQL.

The world is written set-based into a fresh test database (dropped at the end): 500 leads with
10,000 USDT each and two open sub-positions (BTC long, ETH short); 2,500 followers copying 20
leads each (100 copies a lead, 50,000 copies, every one funded through the ledger and holding
the two mirrored positions: 101,000 open positions); two lead events a lead mirrored to every
copy (100,000 copy events, some missed); 90 days of lead and copy snapshots (4,545,000 rows);
then the nightly stats. It prints:

    stats directory n_leads=500 n_copies=50000 ordering=-roi_30d p50_ms=.. p95_ms=.. queries=..
    stats directory n_leads=500 n_copies=50000 has_room=true p50_ms=.. p95_ms=.. queries=..
    stats directory n_leads=500 n_copies=50000 ordering=-aum_usdt cold p50_ms=.. p95_ms=.. ...
    stats directory n_leads=500 n_copies=50000 ordering=-aum_usdt cached p50_ms=.. ...
    stats profile n_leads=500 n_copies=50000 p50_ms=.. p95_ms=.. queries=..
    stats snapshot leads=500 copies=50000 seconds=..
    stats refresh leads=500 copies=50000 seconds=..

directory: the first page (20 rows) of ``trader_directory`` ordered by 30-day ROI (stats of
every lead, live copiers and AUM of the page's 20 leads), filtered by room (every lead's
copiers counted first) and ordered by AUM (every lead's AUM summed over the 50,000 copies and
their 100,000 open positions first: "cold" with the cache of those figures emptied before
each run, "cached" when nothing changed since the last read); profile: ``trader_profile_get`` of one lead with
``daily`` over all 90 days; 20 runs each after one warm-up. snapshot: ``snapshots_take`` of the
last day for every lead and copy (it overwrites that day: same rows, new numbers). refresh:
``trader_stats_refresh`` (every period of every lead and the 30-day tracking). Target:
p95 <= 100 ms for the selectors.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smartsync_statsbench python bench/stats.py
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

N_LEADS = int(os.environ.get("BENCH_STATS_LEADS", "500"))
N_FOLLOWERS = int(os.environ.get("BENCH_STATS_FOLLOWERS", "2500"))
COPIES_EACH = 20  # a follower's copies (SPEC max active copies)
DAYS = 90
RUNS = 20
PAGE = 20
CHUNK = 5000
# BENCH_STATS_KEEP=1 keeps the test database for the next run, which then reuses its world
KEEP = os.environ.get("BENCH_STATS_KEEP") == "1"


def _clock(moment: datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def build(start: datetime, yesterday) -> dict:
    """The world described above, set-based. Returns ids the timings need."""
    from django.contrib.auth import get_user_model

    from apps.copies.models import Copy, CopyEvent
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account, JournalEntry
    from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
    from apps.market.models import Instrument
    from apps.market.services import price_set
    from apps.positions.models import Fill, LeadEvent, Position
    from apps.traders.models import LeadTrader

    btc = Instrument.objects.get(name="BTC-USDT-SWAP")
    eth = Instrument.objects.get(name="ETH-USDT-SWAP")
    with _clock(start):
        price_set(instrument=btc, price=Decimal("50000"))
        price_set(instrument=eth, price=Decimal("3000"))
        external = account_system(Account.Kind.EXTERNAL).pk
        with transaction.atomic():
            lead_users = bulk_insert(
                get_user_model(),
                [{"email": f"lead{i}@bench.local", "password": "!"} for i in range(N_LEADS)],
            )
            followers = bulk_insert(
                get_user_model(),
                [{"email": f"f{i}@bench.local", "password": "!"} for i in range(N_FOLLOWERS)],
            )
            bulk_insert(
                Account,
                [
                    {"kind": "main", "code": f"main:{u}", "owner_id": u}
                    for u in lead_users + followers
                ],
                returning=None,
            )
            futures = bulk_insert(
                Account,
                [{"kind": "lead_futures", "code": f"lead_futures:{u}", "owner_id": u} for u in lead_users],
            )  # fmt: skip
            spot = bulk_insert(
                Account,
                [
                    {"kind": "lead_spot", "code": f"lead_spot:{u}", "owner_id": u}
                    for u in lead_users
                ],
            )
            leads = bulk_insert(
                LeadTrader,
                [
                    {
                        "user_id": u, "nickname": f"Lead{i:03d}", "futures_account_id": f,
                        "spot_account_id": s, "max_copiers": 1000 if i % 10 else 100,
                        "profit_share_ratio": Decimal("0.1"), "approved_at": start,
                    }
                    for i, (u, f, s) in enumerate(zip(lead_users, futures, spot, strict=True))
                ],
            )  # fmt: skip
            pairs = [
                (f, leads[(k + j * (N_LEADS // COPIES_EACH)) % N_LEADS])
                for k, f in enumerate(followers)
                for j in range(COPIES_EACH)
            ]
            copy_accounts = bulk_insert(
                Account,
                [{"kind": "copy", "code": f"copy:b{n}", "owner_id": f} for n, (f, _) in enumerate(pairs)],
            )  # fmt: skip
            copies = bulk_insert(
                Copy,
                [
                    {"follower_id": f, "lead_id": lead, "account_id": a,
                     "total_investment": Decimal("1000"), "profit_share_ratio": Decimal("0.1")}
                    for (f, lead), a in zip(pairs, copy_accounts, strict=True)
                ],
            )  # fmt: skip
        specs = [
            EntrySpec(key=f"bench-lead:{a}", kind=JournalEntry.Kind.TRANSFER,
                      postings=((external, Decimal("-10000")), (a, Decimal("10000"))))
            for a in futures
        ] + [
            EntrySpec(key=f"bench-copy:{a}", kind=JournalEntry.Kind.COPY_FUNDING,
                      postings=((external, Decimal("-1000")), (a, Decimal("1000"))))
            for a in copy_accounts
        ]  # fmt: skip
        for k in range(0, len(specs), CHUNK):
            with transaction.atomic():
                ledger_post_batch(specs[k : k + CHUNK])

        def position(account, inst, side, size, entry, margin, lead_position=None):
            return {
                "account_id": account, "lead_position_id": lead_position, "instrument_id": inst,
                "side": side, "margin_mode": "cross", "leverage": 5, "size": Decimal(size),
                "opened_size": Decimal(size), "entry_price": Decimal(entry),
                "margin": Decimal(margin), "opened_at": start,
            }  # fmt: skip

        with transaction.atomic():
            lead_pos = bulk_insert(
                Position,
                [position(a, btc.pk, "long", "1", "50000", "100") for a in futures]
                + [position(a, eth.pk, "short", "10", "3000", "600") for a in futures],
            )
            lead_btc = dict(zip(leads, lead_pos[:N_LEADS], strict=True))
            lead_eth = dict(zip(leads, lead_pos[N_LEADS:], strict=True))
            copy_rows = list(zip(copies, copy_accounts, [lead for _, lead in pairs], strict=True))
            for k in range(0, len(copy_rows), CHUNK * 2):
                part = copy_rows[k : k + CHUNK * 2]
                ids = bulk_insert(
                    Position,
                    [position(a, btc.pk, "long", "0.1", "50000", "10", lead_btc[ld]) for _, a, ld in part]
                    + [position(a, eth.pk, "short", "1", "3000", "60", lead_eth[ld]) for _, a, ld in part],
                )  # fmt: skip
                bulk_insert(
                    Fill,
                    [{"position_id": p, "action": "open", "quantity": Decimal("0.1"),
                      "price": Decimal("50000"), "fee": Decimal("0")} for p in ids],
                    returning=None,
                )  # fmt: skip
    events_at = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) - timedelta(days=5)
    with _clock(events_at), transaction.atomic():
        events = bulk_insert(
            LeadEvent,
            [{"account_id": f, "kind": "open", "status": "mirrored"} for f in futures] * 2,
        )
        by_lead = {}
        for lead, f in zip(leads, futures, strict=True):
            by_lead[lead] = [e for e, acc in zip(events, futures * 2, strict=True) if acc == f]
        for k in range(0, len(copy_rows), CHUNK * 2):
            bulk_insert(
                CopyEvent,
                [
                    {"copy_id": c, "lead_event_id": by_lead[ld][j],
                     "kind": "missed" if (c + j) % 17 == 0 else "copied",
                     "reason": "below minimum size" if (c + j) % 17 == 0 else ""}
                    for c, _, ld in copy_rows[k : k + CHUNK * 2]
                    for j in range(2)
                ],
                returning=None,
            )  # fmt: skip
    price_set(instrument=btc, price=Decimal("51234.5"))
    price_set(instrument=eth, price=Decimal("2987.65"))
    return {"leads": leads, "copies": len(copies)}


def snapshots_bulk(first, last) -> None:
    """90 days of lead and copy snapshots, written by the database (a bounded random walk)."""
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO stats_leadsnapshot (lead_id, market, date, equity, transfers_in,
                transfers_out, realized_pnl, unrealized_pnl, fees, funding, open_positions,
                profit_share, copiers, aum, opens, closed, wins, holding_seconds, taken_at)
            SELECT l.id, 'futures', d::date,
                round((10000 + 800 * sin(l.id * 0.37 + (d::date - %s::date) * 0.21))::numeric, 8),
                CASE WHEN d::date = %s::date THEN 10000 ELSE 0 END, 0, 0, 0, 0, 0, 2, 0,
                100, 100000, (l.id + (d::date - %s::date)) %% 4, (l.id + (d::date - %s::date)) %% 3,
                (l.id + (d::date - %s::date)) %% 2, 3600 * ((l.id + (d::date - %s::date)) %% 3),
                now()
            FROM traders_leadtrader l CROSS JOIN generate_series(%s::date, %s::date, '1 day') d
            """,
            [first, first, first, first, first, first, first, last],
        )
        c.execute(
            """
            INSERT INTO stats_copysnapshot (copy_id, lead_id, date, equity, transfers_in,
                transfers_out, realized_pnl, unrealized_pnl, fees, funding, open_positions,
                profit_share, taken_at)
            SELECT cp.id, cp.lead_id, d::date,
                round((1000 + 80 * sin(cp.lead_id * 0.37 + (d::date - %s::date) * 0.21)
                       + (cp.id %% 7))::numeric, 8),
                CASE WHEN d::date = %s::date THEN 1000 ELSE 0 END, 0, 0, 0, 0, 0, 2, 0, now()
            FROM copies_copy cp CROSS JOIN generate_series(%s::date, %s::date, '1 day') d
            """,
            [first, first, first, last],
        )
        c.execute("ANALYZE")


def timed(fn, runs: int = RUNS, before=None) -> tuple[float, float, int]:
    fn()  # warm-up
    times, queries = [], 0
    for _ in range(runs):
        if before:
            before()
        with CaptureQueriesContext(connection) as q:
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        queries = max(queries, len(q.captured_queries))
    ordered = sorted(times)
    return statistics.median(times), ordered[math.ceil(0.95 * len(ordered)) - 1], queries


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/stats.py needs PostgreSQL (DATABASE_URL=postgres://...)", file=sys.stderr)
        return 2
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from apps.market import hooks
    from apps.stats import selectors, services

    setup_test_environment()
    hooks._listeners.clear()  # no risk pass on the bench's price moves
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=KEEP)
    try:
        from apps.copies.models import Copy
        from apps.traders.models import LeadTrader

        today = timezone.now().date()
        yesterday = today - timedelta(days=1)
        first = yesterday - timedelta(days=DAYS - 1)
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
        began = time.perf_counter()
        if KEEP and LeadTrader.objects.exists():
            world = {
                "leads": list(LeadTrader.objects.order_by("pk").values_list("pk", flat=True)),
                "copies": Copy.objects.count(),
            }
        else:
            world = build(start, yesterday)
            snapshots_bulk(first, yesterday)
            services.trader_stats_refresh(as_of=yesterday)
        n_leads, n_copies = len(world["leads"]), world["copies"]
        print(
            f"# built {n_leads} leads, {n_copies} copies, {DAYS} days of snapshots in "
            f"{time.perf_counter() - began:.0f} s",
            flush=True,
        )
        from django.core.cache import cache

        def forget():
            cache.delete("stats:live:futures:v1")

        for label, kw, before in (
            ("ordering=-roi_30d", {"ordering": "-roi_30d"}, None),
            ("has_room=true", {"has_room": True, "ordering": "-copiers"}, None),
            ("ordering=-aum_usdt cold", {"ordering": "-aum_usdt"}, forget),
            ("ordering=-aum_usdt cached", {"ordering": "-aum_usdt"}, None),
        ):
            # the directory's first page, as the API and the page read it
            p50, p95, q = timed(
                lambda kw=kw: selectors.trader_directory(**kw)[:PAGE], before=before
            )
            print(
                f"stats directory n_leads={n_leads} n_copies={n_copies} {label} "
                f"p50_ms={p50:.1f} p95_ms={p95:.1f} queries={q}",
                flush=True,
            )
        lead = world["leads"][N_LEADS // 2]
        p50, p95, q = timed(lambda: selectors.trader_profile_get(trader_id=lead, period="all"))
        print(
            f"stats profile n_leads={n_leads} n_copies={n_copies} p50_ms={p50:.1f} "
            f"p95_ms={p95:.1f} queries={q}",
            flush=True,
        )
        started = time.perf_counter()
        run = services.snapshots_take(day=yesterday)
        print(
            f"stats snapshot leads={run.leads} copies={run.copies} "
            f"seconds={time.perf_counter() - started:.2f}",
            flush=True,
        )
        started = time.perf_counter()
        services.trader_stats_refresh(as_of=yesterday)
        print(
            f"stats refresh leads={n_leads} copies={n_copies} "
            f"seconds={time.perf_counter() - started:.2f}",
            flush=True,
        )
    finally:
        connection.close()
        if not KEEP:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
