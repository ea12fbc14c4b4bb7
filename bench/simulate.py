"""Copy simulator benchmark (make bench): "what would I have made" over 90 days of a busy lead.

Setup on a fresh test database (PostgreSQL), set-based: one lead trader with 2,000 lead events
over the last 90 days (500 sub-positions on BTC, ETH and SOL, cross and isolated, each opened,
partly closed, its leverage or margin changed, then closed, about four open at a time), fill
prices on a deterministic price path; 90 days of 1-minute and 1-hour candles for the three
instruments (the hours are what the simulator reads); a funding round every 8 hours per
instrument; and 18,000 events of 9 other leads around them.

Each run clears the cache and calls ``apps.stats.simulator.simulate`` (90 days, 1,000 USDT, a
stop loss far away). Prints the median and the 95th percentile (interpolated) of 5 runs, the
queries one run sends, and what the replay did:

    simulate events=2000 median_s=0.41 p95_s=0.43 queries=5 copied=1834 missed=0 ...
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

EVENTS = int(os.environ.get("BENCH_SIM_EVENTS", "2000"))
DAYS = 90
RUNS = 5
NOISE_LEADS = 9
BASE = {"BTC-USDT-SWAP": 50000, "ETH-USDT-SWAP": 3000, "SOL-USDT-SWAP": 150}
Q8 = Decimal("0.00000001")


def price_at(name: str, seconds: float) -> Decimal:
    """A deterministic path: a slow swing of +-15% with a faster +-3% ripple."""
    days = seconds / 86400
    x = 1 + 0.15 * math.sin(days / 9 + len(name)) + 0.03 * math.sin(days * 3.1)
    return Decimal(str(round(BASE[name] * x, 2)))


def setup(now):
    from apps.core.bulk import bulk_insert
    from apps.fees.models import FundingSettlement
    from apps.market.models import Candle, Instrument
    from apps.market.services import instruments_ensure, price_set
    from apps.positions.models import LeadEvent, Position
    from tests.factories.trading import lead_make

    instruments_ensure()
    insts = {i.name: i for i in Instrument.objects.filter(name__in=BASE)}
    start = now - timedelta(days=DAYS)
    for name in BASE:
        price_set(instrument=name, price=price_at(name, DAYS * 86400), at=now)
    lead = lead_make(equity="100000")
    noise = [lead_make(equity="1000") for _ in range(NOISE_LEADS)]
    names = list(BASE)
    n_positions = EVENTS // 4
    spacing = DAYS * 86400 / (n_positions + 4)  # the last close still falls before now
    positions, plans = [], []
    for j in range(n_positions):
        name = names[j % 3]
        inst = insts[name]
        t0 = spacing * (j + 0.5)
        entry = price_at(name, t0)
        isolated = j % 2 == 0
        lev = 10 + j % 15
        margin = Decimal(200 + (j * 37) % 1800)
        unit = inst.contract_value * entry
        size = (margin * lev / unit).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        margin = (size * unit / lev).quantize(Q8, rounding="ROUND_DOWN")
        side = "long" if j % 3 else "short"
        positions.append(
            {
                "account_id": lead.futures_account_id,
                "instrument_id": inst.pk,
                "side": side,
                "margin_mode": "isolated" if isolated else "cross",
                "leverage": lev,
                "size": Decimal(0),
                "opened_size": size,
                "entry_price": entry,
                "margin": Decimal(0),
                "status": "closed",
                "opened_at": start + timedelta(seconds=t0),
            }
        )
        plans.append((name, inst, t0, entry, isolated, lev, margin, size, side))
    with transaction.atomic():
        ids = bulk_insert(Position, positions)
        events = []
        for pid, (name, inst, t0, entry, isolated, lev, margin, size, side) in zip(
            ids, plans, strict=True
        ):
            common = {
                "account_id": lead.futures_account_id,
                "position_id": pid,
                "instrument_id": inst.pk,
                "side": side,
                "margin_mode": "isolated" if isolated else "cross",
                "status": "mirrored",
            }
            third = (size / 3).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
            t1, t2, t3 = t0 + spacing * 0.9, t0 + spacing * 1.8, t0 + spacing * 3.6
            events += [
                {**common, "kind": "open", "leverage": lev, "fill_price": entry, "size": size,
                 "margin": margin, "lead_equity_before": Decimal("100000"), "created_at": t0},
                {**common, "kind": "partial_close", "leverage": lev,
                 "fill_price": price_at(name, t1), "size": third, "lead_size_before": size,
                 "fraction": (third / size).quantize(Decimal("1e-18")), "created_at": t1},
                {**common, "kind": "margin_add" if isolated else "leverage",
                 "leverage": lev if isolated else lev - 5, "previous_leverage": lev,
                 "fill_price": price_at(name, t2) if isolated else None,
                 "margin": Decimal("50") if isolated else None,
                 "lead_margin_before": margin, "created_at": t2},
                {**common, "kind": "close", "leverage": lev, "fill_price": price_at(name, t3),
                 "size": size - third, "lead_size_before": size - third,
                 "fraction": Decimal(1), "created_at": t3},
            ]  # fmt: skip
        events.sort(key=lambda e: e["created_at"])
        for e in events:
            e["created_at"] = start + timedelta(seconds=e["created_at"])
        noise_rows = [
            {
                "account_id": other.futures_account_id,
                "kind": "leverage",
                "status": "mirrored",
                "created_at": start + timedelta(seconds=DAYS * 86400 * k / 2000),
            }
            for other in noise
            for k in range(2000)
        ]
        bulk_insert(LeadEvent, noise_rows[: len(noise_rows) // 2], returning=None)
        bulk_insert(LeadEvent, events, returning=None)
        bulk_insert(LeadEvent, noise_rows[len(noise_rows) // 2 :], returning=None)
        bulk_insert(
            FundingSettlement,
            [
                {
                    "instrument_id": inst.pk,
                    "slot": start + timedelta(hours=8 * k),
                    "rate": Decimal("0.0001") if k % 5 else Decimal("-0.0002"),
                    "mark": price_at(name, 8 * 3600 * k),
                    "completed_at": start + timedelta(hours=8 * k, minutes=1),
                }
                for name, inst in insts.items()
                for k in range(1, DAYS * 3)
            ],
            returning=None,
        )
        _candles(Candle, insts, start, now)
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE positions_leadevent; ANALYZE market_candle; ANALYZE fees_fundingsettlement"
        )
    return lead


def _candles(Candle, insts, start, now) -> None:
    """90 days of minutes (a flat minute at the hour's price) and their hours, in SQL."""
    table = Candle._meta.db_table
    first = start.replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        for name, inst in insts.items():
            base = BASE[name]
            for interval, step in (("1m", "1 minute"), ("1h", "1 hour")):
                cursor.execute(
                    f"""
                    INSERT INTO {table} (instrument_id, "interval", start, open, high, low, close,
                        ticks, first_tick_at, last_tick_at, sealed)
                    SELECT %s, %s, t, p, round(p * 1.01, 2), round(p * 0.99, 2), p, 12, t,
                           t + (interval %s - interval '5 seconds'), %s
                    FROM generate_series(%s::timestamptz, %s::timestamptz, interval %s) AS t,
                    LATERAL (SELECT round((%s * (1 + 0.15 * sin(extract(epoch FROM t - %s::timestamptz)
                        / 86400 / 9 + %s) + 0.03 * sin(extract(epoch FROM t - %s::timestamptz)
                        / 86400 * 3.1)))::numeric, 2) AS p) AS price
                    """,
                    [inst.pk, interval, step, interval == "1m", first, now, step, base, start,
                     len(name), start],
                )  # fmt: skip


def bench() -> None:
    from django.core.cache import cache
    from django.utils import timezone

    from apps.stats.simulator import history_load, replay, simulate

    now = timezone.now()
    lead = setup(now)
    times, loads, replays, sims, queries = [], [], [], [], []
    for _ in range(RUNS):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            sims.append(simulate(lead=lead, days=DAYS, investment="1000", stop_loss="900", now=now))
            times.append(time.perf_counter() - started)
        queries.append(len(captured.captured_queries))
        started = time.perf_counter()
        history = history_load(lead=lead, start=now - timedelta(days=DAYS), end=now)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        replay(history=history, days=DAYS, investment=Decimal("1000"), stop_loss=Decimal("900"))
        replays.append(time.perf_counter() - started)
    sim = sims[-1]
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    print(
        f"simulate events={len(history.events)} median_s={statistics.median(times):.3f} "
        f"p95_s={p95:.3f} queries={max(queries)} load_s={statistics.median(loads):.3f} "
        f"replay_s={statistics.median(replays):.3f} prices={len(history.prices)} "
        f"funding_rounds={len(history.funding)} copied={sim.copied} "
        f"missed={sum(sim.missed.values())} liquidations={sim.liquidations} "
        f"roi={sim.roi} max_drawdown={sim.max_drawdown}",
        flush=True,
    )


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/simulate.py measures on PostgreSQL: set DATABASE_URL=postgres://...")
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
