"""Price history benchmark (make bench): candles from ticks, pruning, chart reads, admin lists.

Setup on a fresh test database (PostgreSQL): the 6 instruments, 48 h + 10 min of ticks every 5 s
each (the simulated feed's rate: about 208,000 rows) and 90 days of sealed 1-minute candles
before them (about 780,000 rows), written with generate_series, and their hours rolled up.

Prints:
    candles refresh first ticks=208... candles=... pruned=... s=...   (first run: every tick)
    candles refresh steady median_ms=...                (one more minute of ticks, 5 runs)
    candles rollup hours=... s=...                      (every hour from its minutes)
    candles series interval=1d limit=90 median_ms=...   (per read, BTC, 20 runs)
    admin list name=pricetick rows=... median_ms=...    (the changelist page, 10 runs)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

HISTORY_DAYS = int(os.environ.get("BENCH_CANDLE_DAYS", "90"))


def setup(now):
    from apps.market.models import Candle, Instrument, PriceTick
    from apps.market.services import instruments_ensure

    instruments_ensure()
    ids = list(Instrument.objects.values_list("pk", flat=True))
    tick_from = now - timedelta(hours=48, minutes=10)
    candle_from = tick_from.replace(second=0, microsecond=0) - timedelta(days=HISTORY_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {PriceTick._meta.db_table} (instrument_id, price, source, created_at)
            SELECT i, 1000 + i + (extract(epoch FROM t)::bigint %% 97), 'simulated', t
            FROM unnest(%s::bigint[]) AS i,
                 generate_series(%s::timestamptz, %s::timestamptz, interval '5 seconds') AS t
            """,
            [ids, tick_from, now],
        )
        cursor.execute(
            f"""
            INSERT INTO {Candle._meta.db_table} (instrument_id, "interval", start, open, high,
                low, close, ticks, first_tick_at, last_tick_at, sealed)
            SELECT i, '1m', t, 1000, 1010, 990, 1005, 12, t, t + interval '55 seconds', TRUE
            FROM unnest(%s::bigint[]) AS i,
                 generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute',
                                 interval '1 minute') AS t
            """,
            [ids, candle_from, tick_from.replace(second=0, microsecond=0)],
        )
        cursor.execute("ANALYZE")
    return ids


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from apps.market.candles import candle_series, candles_refresh, candles_rollup
    from apps.market.models import Candle, PriceTick

    now = timezone.now().replace(microsecond=0)
    ids = setup(now)
    started = time.perf_counter()
    candles_rollup()
    print(
        f"candles rollup hours={Candle.objects.filter(interval='1h').count()} "
        f"from_minutes={Candle.objects.filter(interval='1m').count()} "
        f"s={time.perf_counter() - started:.2f}",
        flush=True,
    )
    ticks = PriceTick.objects.count()
    started = time.perf_counter()
    first = candles_refresh(now=now)
    took = time.perf_counter() - started
    print(
        f"candles refresh first ticks={ticks} candles={first.candles} pruned={first.deleted} "
        f"s={took:.2f} (candle rows {Candle.objects.count()})",
        flush=True,
    )

    steady = []
    for run in range(5):
        at = now + timedelta(minutes=run + 1)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {PriceTick._meta.db_table} (instrument_id, price, source, created_at)
                SELECT i, 1000, 'simulated', t FROM unnest(%s::bigint[]) AS i,
                generate_series(%s::timestamptz, %s::timestamptz, interval '5 seconds') AS t""",
                [ids, at - timedelta(seconds=55), at],
            )
        started = time.perf_counter()
        result = candles_refresh(now=at)
        steady.append(time.perf_counter() - started)
    print(
        f"candles refresh steady median_ms={statistics.median(steady) * 1000:.1f} "
        f"(last run: {result.candles} candles written, {result.deleted} ticks pruned)",
        flush=True,
    )

    for interval, limit in (("1m", 200), ("1h", 200), ("1d", 90), ("1d", 1000)):
        ms = median_ms(
            lambda i=interval, n=limit: candle_series(
                instrument="BTC-USDT-SWAP", interval=i, limit=n
            ),
            20,
        )
        print(f"candles series interval={interval} limit={limit} median_ms={ms:.1f}", flush=True)

    user = get_user_model().objects.create_user(
        email="bench-admin@example.com", password="x", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(user)
    for name, rows in (
        ("pricetick", PriceTick.objects.count()),
        ("candle", Candle.objects.count()),
    ):
        url = f"/admin/market/{name}/"
        assert client.get(url).status_code == 200
        ms = median_ms(lambda u=url: client.get(u), 10)
        print(f"admin list name={name} rows={rows} median_ms={ms:.1f}", flush=True)


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/candles.py measures on PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        bench()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
