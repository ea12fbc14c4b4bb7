"""Stats of every period (apps.stats.services.trader_stats_refresh) and the 30-day tracking
figures, from snapshots written out here, against values computed by hand.

The lead's days (as of 2026-04-30; the lead started on 04-22 with 1,000):

| day   | equity | in   | out | r                   | opens | closed | wins | held (s) |
|-------|--------|------|-----|---------------------|-------|--------|------|----------|
| 04-22 | 1000   | 1000 |     | 1000/1000 - 1 = 0   | 3     | 1      | 1    | 600      |
| 04-23 | 1000   |      |     | 0                   |       |        |      |          |
| 04-24 | 1100   |      |     | 0.10                | 2     | 1      | 1    | 3600     |
| 04-25 | 990    |      |     | -0.10 (losing day)  |       |        |      |          |
| 04-26 | 2100   | 1010 |     | 2100/2000 - 1= 0.05 |       |        |      |          |
| 04-27 | 1458   |      | 600 | 2058/2100 - 1=-0.02 | 1     | 2      | 0    | 10800    |
| 04-28 | 1458   |      |     | 0 (flat to the end) |       |        |      |          |
| 04-29 | 1458   |      |     | 0                   |       |        |      |          |
| 04-30 | 1458   |      |     | 0                   |       |        |      |          |

7 days (04-24..04-30, base 1,000 on 04-23): ROI 1.1 x 0.9 x 1.05 x 0.98 - 1 = 0.01871; PnL
100 - 110 + 100 - 42 = 48; drawdown 1 - 0.99/1.1 = 0.1; Sharpe of (0.1, -0.1, 0.05, -0.02, 0,
0, 0) = mean 0.03/7 over sample stdev x sqrt(365) = 1.32907697...; win rate 1/3; 3 opens in 7
days = 3 a week; holding (3600 + 10800)/3 = 4800 s.
30 days and all time (9 days from 04-22, base 0): ROI 0.01871, PnL 48, drawdown 0.1, Sharpe
of the 9 returns 1.19289645...; win rate 2/4; 6 opens x 7/9 = 4.666... a week; holding
15000/4 = 3750 s.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from apps.copies.models import CopyEvent
from apps.positions.models import LeadEvent
from apps.smart_sync.types import REASON_ADD_CASH, REASON_BELOW_MIN
from apps.stats.models import CopySnapshot, LeadSnapshot, TraderStats
from apps.stats.services import trader_stats_refresh
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import at

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 4, 30)
LEAD_DAYS = [
    # date, equity, in, out, opens, closed, wins, holding, copiers
    ("04-22", "1000", "1000", "0", 3, 1, 1, 600, 1),
    ("04-23", "1000", "0", "0", 0, 0, 0, 0, 1),
    ("04-24", "1100", "0", "0", 2, 1, 1, 3600, 2),
    ("04-25", "990", "0", "0", 0, 0, 0, 0, 3),
    ("04-26", "2100", "1010", "0", 0, 0, 0, 0, 3),
    ("04-27", "1458", "0", "600", 1, 2, 0, 10800, 2),
    ("04-28", "1458", "0", "0", 0, 0, 0, 0, 2),
    ("04-29", "1458", "0", "0", 0, 0, 0, 0, 2),
    ("04-30", "1458", "0", "0", 0, 0, 0, 0, 2),
]


def day(text: str) -> date:
    return date.fromisoformat(f"2026-{text}")


def lead_snapshots(lead, rows=LEAD_DAYS):
    for d, e, i, o, opens, closed, wins, held, copiers in rows:
        LeadSnapshot.objects.create(
            lead=lead, date=day(d), equity=D(e), transfers_in=D(i), transfers_out=D(o),
            opens=opens, closed=closed, wins=wins, holding_seconds=held, copiers=copiers,
            taken_at=at_time(),
        )  # fmt: skip


def at_time():
    from django.utils import timezone

    return timezone.now()


def copy_snapshots(copy, rows):
    for d, e, i, o in rows:
        CopySnapshot.objects.create(
            copy=copy, lead_id=copy.lead_id, date=day(d), equity=D(e), transfers_in=D(i),
            transfers_out=D(o), taken_at=at_time(),
        )  # fmt: skip


@pytest.fixture
def lead(db):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="0")
    lead_snapshots(lead)
    return lead


def stats(lead, period) -> TraderStats:
    return TraderStats.objects.get(lead=lead, period=period)


def test_stats_of_each_period(lead):
    other = lead_make(equity="0")  # no snapshot yet: no stats (unknown), not zeros
    trader_stats_refresh(as_of=AS_OF)

    s7 = stats(lead, "7d")
    assert (s7.as_of, s7.days, s7.roi, s7.pnl, s7.max_drawdown) == (
        AS_OF, 7, D("0.01871"), D("48"), D("0.1"),
    )  # fmt: skip
    assert s7.sharpe == D("1.32907697")
    assert (s7.win_rate, s7.closed, s7.wins, s7.opens) == (D("0.33333333"), 3, 1, 3)
    assert (s7.trades_per_week, s7.avg_holding_seconds, s7.copiers_peak) == (D("3"), 4800, 3)

    for period in ("30d", "90d", "all"):
        s = stats(lead, period)
        assert (s.days, s.roi, s.pnl, s.max_drawdown, s.sharpe) == (
            9, D("0.01871"), D("48"), D("0.1"), D("1.19289645"),
        ), period  # fmt: skip
        assert (s.win_rate, s.closed, s.wins, s.opens) == (D("0.5"), 4, 2, 6)
        assert (s.trades_per_week, s.avg_holding_seconds) == (D("4.66666666"), 3750)

    assert not TraderStats.objects.filter(lead=other).exists()


def test_stats_refresh_is_idempotent(lead):
    trader_stats_refresh(as_of=AS_OF)
    first = list(TraderStats.objects.order_by("period").values("period", "roi", "sharpe"))
    assert trader_stats_refresh(as_of=AS_OF) == 4
    assert list(TraderStats.objects.order_by("period").values("period", "roi", "sharpe")) == first


def test_a_short_period_that_saw_nothing_is_unknown_not_zero(lead):
    # as of 05-10 the last 7 days have no snapshot (the job did not run): unknown
    trader_stats_refresh(as_of=date(2026, 5, 10))
    s7 = stats(lead, "7d")
    assert (s7.days, s7.roi, s7.pnl, s7.max_drawdown, s7.sharpe, s7.win_rate) == (
        0, None, None, None, None, None,
    )  # fmt: skip
    assert (s7.trades_per_week, s7.avg_holding_seconds) == (None, None)


def test_tracking_over_30_days(lead):
    """Copies of the lead (lead index X: 1 on 04-23, 1.1, 0.99, 1.0395, 1.01871 from 04-27):

    - c1 from 04-24 with 100: 100, 110, 99, 99 ... -> ROI 0.99 - 1 = -0.01; the lead over
      04-24..04-30: X(04-30)/X(04-23) - 1 = 0.01871; gap -0.02871
    - c2 from 04-22 with 200: 200, 200, 220, 198, +202 -> 420 (r = 420/400 - 1 = 0.05),
      411.6 ... -> ROI 1.1 x 0.9 x 1.05 x 0.98 - 1 = 0.01871; the lead's: 0.01871; gap 0
    - c3 from 04-25 with 500: 500, 450, stopped 04-27 returning 450 (r = 450/450 - 1 = 0) ->
      ROI -0.1; the lead over 04-25..04-27: 1.01871/1.1 - 1 = -0.0739; gap -0.0261
    median ROI of (-0.1, -0.01, 0.01871) = -0.01; median gap of (-0.02871, -0.0261, 0) = -0.0261.
    Outcomes of the lead's events in the 30 days: c1 copied 4, missed 1 (below minimum size);
    c2 copied 3, missed 1 (below minimum size), sync failed 1; a skip and an event of March
    do not count: 3 missed of 10 = 0.3.
    """
    c1, c2, c3 = (copy_make(lead, investment=i) for i in ("100", "200", "500"))
    flat = [(d, "99", "0", "0") for d in ("04-27", "04-28", "04-29", "04-30")]
    copy_snapshots(c1, [("04-24", "100", "100", "0"), ("04-25", "110", "0", "0"),
                        ("04-26", "99", "0", "0"), *flat])  # fmt: skip
    copy_snapshots(c2, [("04-22", "200", "200", "0"), ("04-23", "200", "0", "0"),
                        ("04-24", "220", "0", "0"), ("04-25", "198", "0", "0"),
                        ("04-26", "420", "202", "0"), ("04-27", "411.6", "0", "0"),
                        ("04-28", "411.6", "0", "0"), ("04-29", "411.6", "0", "0"),
                        ("04-30", "411.6", "0", "0")])  # fmt: skip
    copy_snapshots(c3, [("04-25", "500", "500", "0"), ("04-26", "450", "0", "0"),
                        ("04-27", "0", "0", "450")])  # fmt: skip

    def event(when):
        with at(when):
            return LeadEvent.objects.create(account_id=lead.futures_account_id, kind="open")

    events = [event(f"2026-04-{d} 12:00") for d in (23, 24, 25, 26, 27)]
    march = event("2026-03-20 12:00")
    outcomes = {
        c1: ["copied"] * 4 + [("missed", REASON_BELOW_MIN)],
        c2: ["copied"] * 3 + [("missed", REASON_BELOW_MIN), ("sync_failed", REASON_ADD_CASH)],
    }
    for copy, kinds in outcomes.items():
        for ev, kind in zip(events, kinds, strict=True):
            kind, reason = kind if isinstance(kind, tuple) else (kind, "")
            CopyEvent.objects.create(copy=copy, lead_event=ev, kind=kind, reason=reason)
    CopyEvent.objects.create(copy=c3, lead_event=events[0], kind="skipped", reason="x")
    CopyEvent.objects.create(copy=c3, lead_event=march, kind="missed", reason=REASON_BELOW_MIN)

    trader_stats_refresh(as_of=AS_OF)

    s = stats(lead, "30d")
    assert (s.tracked_copies, s.copiers_median_roi, s.tracking_gap_median) == (
        3, D("-0.01"), D("-0.0261"),
    )  # fmt: skip
    assert (s.mirror_outcomes, s.missed, s.missed_share) == (10, 3, D("0.3"))
    assert s.missed_reasons == [
        {"kind": "missed", "reason": REASON_BELOW_MIN, "count": 2},
        {"kind": "sync_failed", "reason": REASON_ADD_CASH, "count": 1},
    ]
    assert stats(lead, "7d").tracked_copies == 0  # tracking is measured over 30 days


def test_tracking_counts_a_copy_that_copied_the_whole_period_flat(lead):
    # a copy running since before the period whose equity never moved: ROI 0 (known), gap
    # 0 - 0.01871 over the lead's 30 days (X(04-30)/X(03-31) - 1; the lead started 04-22)
    copy = copy_make(lead, investment="300")
    copy_snapshots(copy, [(d, "300", "0", "0") for d in ("03-31", "04-01", "04-30")])
    trader_stats_refresh(as_of=AS_OF)
    s = stats(lead, "30d")
    assert (s.tracked_copies, s.copiers_median_roi, s.tracking_gap_median) == (
        1, D("0"), D("-0.01871"),
    )  # fmt: skip
    assert timedelta(days=30) == AS_OF - date(2026, 3, 31)
