"""Trader page benchmark (make bench): the directory /traders/ and a profile /traders/<id>/ as a
visitor requests them, with 500 lead traders, 50,000 copies and 90 days of snapshots on
PostgreSQL.

The world is bench/stats.py's, built the same way, set-based, in a throwaway test database
(500 leads with two open sub-positions each; 2,500 followers copying 20 leads each, every copy
funded through the ledger and holding the two mirrored positions: 101,000 open positions;
100,000 copy events; 90 days of lead and copy snapshots, 4.5 million rows; the nightly stats),
plus a position history for the profiled lead (200 closed sub-positions). Each page is
requested through Django's test Client (in process: the whole middleware stack, no network;
templates not instrumented, as in production), 2 warm-ups then 20 timed requests (p50 and p95
by nearest rank), and the SQL statements of one request:

    page name=directory p50_ms=.. p95_ms=.. queries=.. n_leads=500 n_copies=50000
    page name=directory_by_aum ...   (?ordering=-aum_usdt: every lead's AUM, cached after one)
    page name=directory_room ...     (?room=1: every lead's copiers counted)
    page name=profile ...            (the 30-day stats, chart series link, positions, history)
    page name=profile_period ...     (the htmx period switch: the stats part only)

Target: p95 <= 100 ms (a line says so when a page misses it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smartsync_pagestats python bench/pages_stats.py
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import stats as stats_bench  # noqa: E402  (bench/stats.py: its world, built the same way)
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_PAGE_REQUESTS", "20"))
TARGET_P95_MS = 100
HISTORY = 200  # closed sub-positions of the profiled lead
KEEP = os.environ.get("BENCH_STATS_KEEP") == "1"


def history(lead_id: int, start: datetime) -> None:
    """HISTORY closed sub-positions of one lead, set-based."""
    from apps.core.bulk import bulk_insert
    from apps.market.models import Instrument
    from apps.positions.models import Position
    from apps.traders.models import LeadTrader

    lead = LeadTrader.objects.get(pk=lead_id)
    btc = Instrument.objects.get(name="BTC-USDT-SWAP")
    with transaction.atomic():
        bulk_insert(
            Position,
            [
                {
                    "account_id": lead.futures_account_id, "instrument_id": btc.pk,
                    "side": "long" if i % 2 else "short", "margin_mode": "isolated",
                    "leverage": 5, "size": Decimal("0"), "opened_size": Decimal("1"),
                    "entry_price": Decimal("50000"), "exit_price": Decimal("50100"),
                    "margin": Decimal("0"), "status": "closed",
                    "realized_pnl": Decimal(i % 7 - 3), "fees": Decimal("0.5"),
                    "opened_at": start + timedelta(hours=6 * i),
                    "closed_at": start + timedelta(hours=6 * i + 3),
                }
                for i in range(HISTORY)
            ],
            returning=None,
        )  # fmt: skip


def measure(client: Client, url: str, **headers) -> tuple[float, float, int]:
    for _ in range(2):
        assert client.get(url, **headers).status_code == 200, url
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    times.sort()
    p95 = times[math.ceil(0.95 * len(times)) - 1]
    return statistics.median(times), p95, len(queries.captured_queries)


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/pages_stats.py measures on PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    from django.utils import timezone

    from apps.copies.models import Copy
    from apps.market import hooks
    from apps.stats import services
    from apps.traders.models import LeadTrader

    # No setup_test_environment(): it instruments every template render (bench/pages.py).
    hooks._listeners.clear()  # no risk pass on the world's price moves
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=KEEP, serialize=False)
    try:
        today = timezone.now().date()
        yesterday = today - timedelta(days=1)
        first = yesterday - timedelta(days=stats_bench.DAYS - 1)
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
        began = time.perf_counter()
        if KEEP and LeadTrader.objects.exists():
            leads = list(LeadTrader.objects.order_by("pk").values_list("pk", flat=True))
        else:
            leads = stats_bench.build(start, yesterday)["leads"]
            history(leads[len(leads) // 2], start)
            stats_bench.snapshots_bulk(first, yesterday)
            services.trader_stats_refresh(as_of=yesterday)
        n_leads, n_copies = len(leads), Copy.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"# built {n_leads} leads, {n_copies} copies, {stats_bench.DAYS} days of snapshots "
            f"in {time.perf_counter() - began:.0f} s; pages through django.test.Client (in "
            f"process, full middleware, no server), {REQUESTS} requests each after 2 warm-ups",
            flush=True,
        )
        lead = leads[len(leads) // 2]
        visitor = Client()
        pages = [
            ("directory", "/traders/", {}),
            ("directory_by_aum", "/traders/?ordering=-aum_usdt", {}),
            ("directory_room", "/traders/?room=1", {}),
            ("profile", f"/traders/{lead}/", {}),
            (
                "profile_period",
                f"/traders/{lead}/?period=90d",
                {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "profile-stats"},
            ),
        ]
        for name, url, headers in pages:
            p50, p95, n = measure(visitor, url, **headers)
            print(
                f"page name={name} p50_ms={p50:.1f} p95_ms={p95:.1f} queries={n} "
                f"n_leads={n_leads} n_copies={n_copies}",
                flush=True,
            )
            if p95 > TARGET_P95_MS:
                print(f"  {name}: p95 above the {TARGET_P95_MS} ms target", flush=True)
    finally:
        connection.close()
        if not KEEP:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
