"""Spot in the stats (issue 10): the lead spot account gets daily snapshots and stats like the
futures one, its spot copies are tracked, the directory lists spot leads with their spot stats
and the profile answers them. Figures by hand (BTC-USDT: contract value 1, taker fee 0.001,
SPEC §6: a buy pays the fee on top, a sell has it deducted, realized PnL at average cost):

- D1 2026-03-02: 09:00 BTC 50,000. 10:00 the lead (10,000 in futures) moves 1,000 from its main
  account into its lead spot account. 11:00 a follower copies it on spot with 500. 12:00 the
  lead buys 100 USDT of BTC: 0.002 BTC, fee 0.1; ratio 100 / 1,000 = 0.1, so the copy buys
  0.1 x 500 = 50 USDT: 0.001 BTC, fee 0.05. 20:00 BTC 51,000.
  Lead spot at the end: balance 1,000 - 0.1 = 999.9 (the 100 of cost basis sits inside it),
  uPnL 0.002 x 1,000 = 2, equity 1,001.9 (= cash 899.9 + 0.002 x 51,000). Copy: balance
  499.95, uPnL 1, equity 500.95: the spot row's AUM.
- D2: 03:00 BTC 52,000. 05:00 the lead sells half: 0.001 BTC for 52, fee 0.052, realized
  52 - 50 = 2; the copy sells half of its 0.001: 0.0005 for 26, fee 0.026, realized 1.
  Lead spot: balance 999.9 + 2 - 0.052 = 1,001.848, uPnL 0.001 x 2,000 = 2, equity 1,003.848.
  Copy: balance 499.95 + 1 - 0.026 = 500.924, uPnL 1, equity 501.924.
- Stats as of D2 (spot): r1 = 1,001.9 / 1,000 - 1, r2 = 1,003.848 / 1,001.9 - 1, so ROI =
  1,003.848 / 1,000 - 1 = 0.003848; PnL = 3.848; never below its peak: drawdown 0; no holding
  sold in full: win rate unknown; one holding opened.
  Tracking: the copy's ROI over D1-D2 is 501.924 / 500 - 1 = 0.003848, the lead's over the same
  days the same: gap 0; 2 lead events, both copied.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from apps.ledger.services import deposit_credit
from apps.stats.models import LeadSnapshot, TraderStats
from apps.stats.selectors import trader_directory, trader_profile_get
from apps.stats.services import snapshots_take, trader_stats_refresh
from apps.traders.services import lead_spot_buy, lead_spot_sell, lead_transfer
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import at

pytestmark = pytest.mark.django_db

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
FIELDS = (
    "equity", "transfers_in", "transfers_out", "realized_pnl", "unrealized_pnl", "fees",
    "open_positions", "copiers", "aum", "opens", "closed",
)  # fmt: skip


@pytest.fixture
def spot_world(django_capture_on_commit_callbacks):
    with at("2026-03-02 09:00"):
        set_price("BTC-USDT", "50000")
        set_price("BTC-USDT-SWAP", "50000")
    with at("2026-03-02 10:00"):
        lead = lead_make(nickname="SpotSage", equity="10000")
        deposit_credit(user=lead.user, amount=D("1000"), key="spot-stats-deposit")
        lead_transfer(lead=lead, market="spot", direction="in", amount="1000")
        futures_only = lead_make(nickname="FuturesFred", equity="10000")
    with at("2026-03-02 11:00"):
        copy = copy_make(lead, investment="500", market="spot")
    with at("2026-03-02 12:00"), django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="100")
    with at("2026-03-02 20:00"):
        set_price("BTC-USDT", "51000")
    with at("2026-03-03 03:00"):
        set_price("BTC-USDT", "52000")
    with at("2026-03-03 05:00"), django_capture_on_commit_callbacks(execute=True):
        lead_spot_sell(lead=lead, instrument="BTC-USDT", fraction="0.5")
    with at("2026-03-04 00:30"):
        snapshots_take(day=D1)
        snapshots_take(day=D2)
        trader_stats_refresh(as_of=D2)
    return lead, futures_only, copy


def row(lead, market, day) -> dict:
    return LeadSnapshot.objects.filter(lead=lead, market=market, date=day).values(*FIELDS).get()


def test_the_lead_spot_account_has_daily_snapshots(spot_world):
    lead, futures_only, _ = spot_world
    assert row(lead, "spot", D1) == {
        "equity": D("1001.9"), "transfers_in": D("1000"), "transfers_out": D("0"),
        "realized_pnl": D("0"), "unrealized_pnl": D("2"), "fees": D("0.1"),
        "open_positions": 1, "copiers": 1, "aum": D("500.95"), "opens": 1, "closed": 0,
    }  # fmt: skip
    assert row(lead, "spot", D2) == {
        "equity": D("1003.848"), "transfers_in": D("0"), "transfers_out": D("0"),
        "realized_pnl": D("2"), "unrealized_pnl": D("2"), "fees": D("0.052"),
        "open_positions": 1, "copiers": 1, "aum": D("501.924"), "opens": 0, "closed": 0,
    }  # fmt: skip
    # the futures row is the futures account alone: spot copies are not its copiers
    assert row(lead, "futures", D2)["equity"] == D("10000")
    assert row(lead, "futures", D2)["copiers"] == 0
    # a lead that never used spot has no spot row
    assert not LeadSnapshot.objects.filter(lead=futures_only, market="spot").exists()


def test_spot_stats_and_tracking(spot_world):
    lead, futures_only, _ = spot_world
    s = TraderStats.objects.get(lead=lead, market="spot", period="30d")
    assert (s.as_of, s.days, s.roi, s.pnl, s.max_drawdown, s.win_rate, s.opens) == (
        D2, 2, D("0.003848"), D("3.848"), D("0"), None, 1,
    )  # fmt: skip
    assert (s.tracked_copies, s.copiers_median_roi, s.tracking_gap_median) == (
        1, D("0.003848"), D("0"),
    )  # fmt: skip
    assert (s.mirror_outcomes, s.missed, s.missed_share) == (2, 0, D("0"))
    # futures and spot are separate rows; no spot row for a futures-only lead
    assert TraderStats.objects.get(lead=lead, market="futures", period="30d").roi == D("0")
    assert not TraderStats.objects.filter(lead=futures_only, market="spot").exists()


def test_the_directory_lists_spot_leads_with_their_spot_stats(spot_world):
    lead, futures_only, _ = spot_world
    spot = list(trader_directory(market="spot"))
    assert [r.lead.nickname for r in spot] == ["SpotSage"]
    assert (spot[0].stats["roi_30d"], spot[0].stats["pnl_30d_usdt"]) == (
        D("0.003848"),
        D("3.848"),
    )
    assert (spot[0].copiers, spot[0].market) == (1, "spot")
    # the API says the same, and the futures list has both leads with futures figures
    body = APIClient().get("/api/v1/traders/?market=spot").json()
    assert [(r["nickname"], r["market"], r["roi_30d"]) for r in body["results"]] == [
        ("SpotSage", "spot", "0.00384800")
    ]
    futures = {r.lead.nickname: r for r in trader_directory()}
    assert set(futures) == {"SpotSage", "FuturesFred"}
    assert futures["SpotSage"].copiers == 0 and futures["SpotSage"].stats["roi_30d"] == D("0")


def test_the_profile_answers_spot(spot_world):
    lead, futures_only, _ = spot_world
    p = trader_profile_get(trader_id=lead.pk, period="30d", market="spot")
    assert p.markets == ("futures", "spot")
    assert [(d.date, d.equity, d.pnl) for d in p.daily] == [
        (D1, D("1001.9"), D("1.9")),
        (D2, D("1003.848"), D("1.948")),
    ]
    assert p.daily[-1].roi == D("0.003848")
    body = APIClient().get(f"/api/v1/traders/{lead.pk}/?market=spot&period=30d").json()
    assert (body["market"], body["markets"], body["copiers"]) == ("spot", ["futures", "spot"], 1)
    assert [d["equity_usdt"] for d in body["daily"]] == ["1001.90000000", "1003.84800000"]
    # a lead that does not trade spot: a 400 naming the field
    r = APIClient().get(f"/api/v1/traders/{futures_only.pk}/?market=spot")
    assert (r.status_code, r.json()["code"], list(r.json()["fields"])) == (
        400,
        "invalid_market",
        ["market"],
    )


def test_the_profile_page_shows_spot_stats_and_holdings(spot_world, client):
    lead, futures_only, _ = spot_world
    html = client.get(f"/traders/{lead.pk}/?market=spot&period=30d").content.decode()
    assert "Performance: spot" in html and "+0.38%" in html and "+3.84" in html
    # the holding: 0.001 BTC at an average cost of 50,000 (cost 50), worth 52 now
    assert "Spot holdings" in html and "0.00100000" in html and "50,000.00" in html
    assert 'data-label="Value (USDT)">52.00</td>' in html
    assert 'data-label="uPnL (USDT)">+2.00</td>' in html
    # the market switch offers futures and spot; a futures-only lead has no switch
    assert 'aria-label="Market"' in html
    other = client.get(f"/traders/{futures_only.pk}/").content.decode()
    assert 'aria-label="Market"' not in other and "Spot holdings" not in other
