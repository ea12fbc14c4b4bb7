"""The public directory and profile API (apps/stats/api.py): live figures that agree with the
copies' own, stats from the nightly rows, ordering with unknown last, filters, refusals as
4xx with a message, and a query count that does not grow with copies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.copies.models import Copy
from apps.copies.selectors import copy_figures_many
from apps.copies.services import copy_stop
from apps.core.money import usdt
from apps.stats.models import TraderStats
from apps.stats.services import snapshots_take, trader_stats_refresh
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import at, copies_bulk

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id", "nickname", "market", "roi_7d", "roi_30d", "roi_90d", "roi_all", "pnl_7d_usdt",
    "pnl_30d_usdt", "pnl_90d_usdt", "pnl_all_usdt", "win_rate_30d", "max_drawdown_30d",
    "aum_usdt", "copiers", "max_copiers", "profit_share_ratio", "status", "has_room",
    "stats_as_of",
}  # fmt: skip
OPEN = {
    "instrument": "BTC-USDT-SWAP",
    "side": "long",
    "margin_mode": "cross",
    "leverage": 5,
    "margin": "1000",
}


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


def listing(query: str = "") -> list[dict]:
    r = APIClient().get(f"/api/v1/traders/{query}")
    assert r.status_code == 200, r.data
    return r.data["results"]


def names(query: str) -> list[str]:
    return [t["nickname"] for t in listing(query)]


def give_stats(lead, **periods):
    """TraderStats rows as the nightly job writes them: period -> {field: value}."""
    for period, values in periods.items():
        TraderStats.objects.create(
            lead=lead, period=period, as_of=date(2026, 4, 30), computed_at=timezone.now(),
            **{k: D(v) if isinstance(v, str) else v for k, v in values.items()},
        )  # fmt: skip


# --- the directory ----------------------------------------------------------------------------
def test_directory_live_figures_and_ordering(btc):
    a = lead_make(nickname="alpha")
    b = lead_make(nickname="Bravo", max_copiers=5)
    c = lead_make(nickname="charlie")
    copy_make(b, investment="1000")
    copy_make(b, investment="500")
    copy_make(c, investment="200")
    stopped = copy_make(a, investment="300")
    Copy.objects.filter(pk=stopped.pk).update(status="stopped")  # not counted

    rows = {t["id"]: t for t in listing()}
    assert set(rows[b.pk]) == LIST_FIELDS
    assert (rows[b.pk]["copiers"], rows[b.pk]["max_copiers"], rows[b.pk]["aum_usdt"]) == (
        2, 5, "1500.00000000",
    )  # fmt: skip
    # no full UTC day yet: the stats are unknown, not 0
    assert rows[b.pk]["roi_30d"] is None and rows[b.pk]["stats_as_of"] is None
    assert rows[a.pk]["has_room"] is True
    assert names("?ordering=nickname") == ["alpha", "Bravo", "charlie"]
    assert names("?ordering=-nickname") == ["charlie", "Bravo", "alpha"]
    assert names("?ordering=-aum_usdt") == ["Bravo", "charlie", "alpha"]
    assert names("?ordering=-copiers,nickname") == ["Bravo", "charlie", "alpha"]
    assert names("?ordering=-roi_30d") == ["alpha", "Bravo", "charlie"]  # all unknown: by id


def test_directory_orders_by_stats_with_unknown_last(btc):
    a, b, c, d = (lead_make(nickname=n, equity="0") for n in ("A", "B", "C", "D"))
    give_stats(a, **{"7d": {"roi": "0.01"}, "30d": {"roi": "0.05", "pnl": "500",
               "win_rate": "0.6", "max_drawdown": "0.2"}, "90d": {"roi": "0.3"}})  # fmt: skip
    give_stats(b, **{"7d": {"roi": "0.02"}, "30d": {"roi": "-0.02", "pnl": "-20",
               "win_rate": "0.4", "max_drawdown": "0.05"}, "90d": {"roi": "0.1"}})  # fmt: skip
    give_stats(c, **{"30d": {"roi": "0.01", "pnl": "10", "max_drawdown": "0"}})  # 0 is known
    # d has no stats at all

    assert names("?ordering=-roi_30d") == ["A", "C", "B", "D"]
    assert names("?ordering=roi_30d") == ["B", "C", "A", "D"]
    assert names("?ordering=-roi_7d") == ["B", "A", "C", "D"]
    assert names("?ordering=-roi_90d") == ["A", "B", "C", "D"]
    assert names("?ordering=-pnl_30d_usdt") == ["A", "C", "B", "D"]
    assert names("?ordering=-win_rate_30d") == ["A", "B", "C", "D"]  # C closed nothing: null
    assert names("?ordering=max_drawdown_30d") == ["C", "B", "A", "D"]
    row = {t["nickname"]: t for t in listing()}["A"]
    assert (row["roi_7d"], row["roi_30d"], row["pnl_30d_usdt"], row["max_drawdown_30d"]) == (
        "0.01000000", "0.05000000", "500.00000000", "0.20000000",
    )  # fmt: skip
    assert row["stats_as_of"] == "2026-04-30"


def test_directory_filters(btc):
    alpha = lead_make(nickname="AlphaWhale", max_copiers=1)
    copy_make(alpha)  # full
    lead_make(nickname="alpine")
    ended = lead_make(nickname="Beta")
    LeadTrader.objects.filter(pk=ended.pk).update(status="ended")

    assert names("?search=ALP&ordering=nickname") == ["AlphaWhale", "alpine"]
    assert names("?has_room=true") == ["alpine"]  # not full, not ended
    assert names("?has_room=false&ordering=nickname") == ["AlphaWhale", "Beta"]
    assert len(listing("?market=futures")) == 3
    assert listing("?market=spot") == []  # no lead holds spot yet
    assert names("?status=ended") == ["Beta"]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("?ordering=password", "invalid_ordering", "ordering"),
        ("?ordering=--nickname", "invalid_ordering", "ordering"),
        ("?market=options", "invalid_market", "market"),
        ("?has_room=maybe", "invalid_has_room", "has_room"),
        ("?status=zombie", "invalid_status", "status"),
        ("?search=" + "x" * 41, "invalid_search", "search"),
    ],
)
def test_directory_refusals(btc, query, code, field):
    lead_make()
    r = APIClient().get(f"/api/v1/traders/{query}")
    assert (r.status_code, r.data["code"]) == (400, code)
    assert field in r.data["fields"] and r.data["detail"]


def test_directory_query_count_does_not_grow_with_copies(
    btc, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # given two leads whose copies each hold a mirrored open position
    small, big = lead_make(nickname="small"), lead_make(nickname="big")
    copies_bulk(small, 10)
    copies_bulk(big, 200)
    for lead in (small, big):
        with django_capture_on_commit_callbacks(execute=True):
            lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", **_open())
    set_price("BTC-USDT-SWAP", "51000")
    assert Copy.objects.filter(lead=big, account__positions__status="open").count() == 200

    # when the directory is read (a page, by room, by AUM), then a constant number of queries
    # answers it, the same with 100 more copies
    queries = ("", "?has_room=true&ordering=-copiers", "?ordering=-aum_usdt")
    counts = []
    for query in queries:
        with django_assert_max_num_queries(6) as captured:
            rows = {t["nickname"]: t for t in listing(query)}
        assert (rows["big"]["copiers"], rows["small"]["copiers"]) == (200, 10)
        counts.append(len(captured.captured_queries))
    copies_bulk(big, 100)
    for query, before in zip(queries, counts, strict=True):
        with django_assert_max_num_queries(6) as captured:
            assert {t["nickname"]: t for t in listing(query)}["big"]["copiers"] == 300
        assert len(captured.captured_queries) == before


def _open() -> dict:
    return {k: v for k, v in OPEN.items() if k != "instrument"}


def test_aum_and_copiers_pnl_agree_with_the_copies_own_figures(
    btc, django_capture_on_commit_callbacks
):
    # given active copies holding an open position at a new price and a stopped copy
    lead = lead_make()
    active = [copy_make(lead, investment=i) for i in ("1000", "730.5", "2500")]
    gone = copy_make(lead, investment="400")
    with django_capture_on_commit_callbacks(execute=True):
        pos = lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", **_open())
    set_price("BTC-USDT-SWAP", "50777.77")
    with django_capture_on_commit_callbacks(execute=True):
        copy_stop(copy=gone, user=gone.follower)
    set_price("BTC-USDT-SWAP", "49123.45")
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_close(lead=lead, position=pos, fraction="0.25")

    # then AUM is the active copies' equity and the copiers' PnL every copy's PnL
    everyone = list(Copy.objects.filter(lead=lead))
    figures = copy_figures_many(everyone)
    r = APIClient().get(f"/api/v1/traders/{lead.pk}/")
    assert r.data["copiers"] == 3
    assert r.data["aum_usdt"] == str(usdt(sum(figures[c.pk].equity for c in active)))
    assert r.data["copiers_pnl_usdt"] == str(usdt(sum(figures[c.pk].pnl for c in everyone)))
    assert figures[gone.pk].pnl != 0  # the stopped copy's final PnL is part of it


# --- the profile --------------------------------------------------------------------------------
def test_profile_before_any_full_day(btc, django_capture_on_commit_callbacks):
    lead = lead_make(nickname="Satoshi")
    LeadTrader.objects.filter(pk=lead.pk).update(bio="Trend follower")
    copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", **_open())
    set_price("BTC-USDT-SWAP", "51000")
    r = APIClient().get(f"/api/v1/traders/{lead.pk}/")
    assert r.status_code == 200
    assert set(r.data) >= LIST_FIELDS
    assert r.data["bio"] == "Trend follower"
    assert (r.data["sharpe_90d"], r.data["daily"], r.data["periods"]) == (None, [], [])
    assert r.data["tracking_30d"] is None
    assert (r.data["lead_days"], r.data["copiers"], r.data["period"]) == (0, 1, "all")
    # the copy holds 1 contract from 50,000: +10 at 51,000, less the 0.25 open fee
    assert r.data["copiers_pnl_usdt"] == "9.75000000"
    assert r.data["aum_usdt"] == "1009.75000000"


def test_profile_with_days_of_history(django_capture_on_commit_callbacks):
    # D1: BTC 50,000; the lead moves 10,000 in and opens 10 contracts long (fee 2.5); 51,000 at
    # the end: equity 10,097.5, PnL 97.5, ROI 97.5/10,000. D2: 50,490 at the end: uPnL 49,
    # equity 10,046.5, PnL -51, ROI 10,046.5/10,000 - 1 = 0.00465 since D1's start.
    with at("2026-03-02 09:00"):
        set_price("BTC-USDT-SWAP", "50000")
        lead = lead_make(nickname="Hist")
        copy_make(lead, investment="1000")
        with django_capture_on_commit_callbacks(execute=True):
            lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", **_open())
    with at("2026-03-02 23:00"):
        set_price("BTC-USDT-SWAP", "51000")
    with at("2026-03-03 23:00"):
        set_price("BTC-USDT-SWAP", "50490")
    with at("2026-03-04 00:05"):
        snapshots_take(day=date(2026, 3, 2))
        snapshots_take(day=date(2026, 3, 3))
        trader_stats_refresh(as_of=date(2026, 3, 3))
        r = APIClient().get(f"/api/v1/traders/{lead.pk}/")
    assert r.status_code == 200
    assert [(d["date"], d["equity_usdt"], d["pnl_usdt"], d["roi"]) for d in r.data["daily"]] == [
        ("2026-03-02", "10097.50000000", "97.50000000", "0.00975000"),
        ("2026-03-03", "10046.50000000", "-51.00000000", "0.00465000"),
    ]
    assert [d["copiers"] for d in r.data["daily"]] == [1, 1]
    assert [p["period"] for p in r.data["periods"]] == ["7d", "30d", "90d", "all"]
    p7 = r.data["periods"][0]
    assert (p7["roi"], p7["pnl_usdt"], p7["days"], p7["opened_positions"]) == (
        "0.00465000", "46.50000000", 2, 1,
    )  # fmt: skip
    # the index: 1.00975, then 10,046.5/10,097.5 of it: drawdown 51/10,097.5 = 0.00505075...
    assert p7["max_drawdown"] == "0.00505075"
    assert r.data["roi_7d"] == r.data["roi_30d"] == "0.00465000"
    assert r.data["stats_as_of"] == "2026-03-03"
    assert r.data["tracking_30d"]["tracked_copies"] == 1
    # the period switch
    with at("2026-03-04 00:05"):
        r7 = APIClient().get(f"/api/v1/traders/{lead.pk}/?period=7d")
    assert [d["date"] for d in r7.data["daily"]] == ["2026-03-02", "2026-03-03"]
    assert r7.data["period"] == "7d"


def test_profile_refusals(btc):
    lead = lead_make()
    r = APIClient().get(f"/api/v1/traders/{lead.pk}/?period=week")
    assert (r.status_code, r.data["code"]) == (400, "invalid_period")
    r = APIClient().get("/api/v1/traders/999999/")
    assert (r.status_code, r.data["code"]) == (404, "not_found")


def test_profile_query_count(
    btc, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # a lead whose 30 copies hold a mirrored position, one stopped copy
    lead = lead_make()
    copies_bulk(lead, 30)
    gone = copy_make(lead, investment="500")
    copy_stop(copy=gone, user=gone.follower)
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", **_open())
    with django_assert_max_num_queries(8):
        assert APIClient().get(f"/api/v1/traders/{lead.pk}/").data["copiers"] == 30


def test_directory_of_spot_leads(btc, django_capture_on_commit_callbacks):
    # given a lead holding BTC in its spot account, copied in spot by one follower with 1,000,
    # and a futures-only lead
    from apps.ledger.services import deposit_credit
    from apps.traders.services import lead_spot_buy, lead_transfer

    set_price("BTC-USDT", "50000")
    spot = lead_make(nickname="SpotLead", equity="0", max_copiers=1)
    deposit_credit(user=spot.user, amount=D("10000"), key="t-spot-lead")
    lead_transfer(lead=spot, market="spot", direction="in", amount="10000")
    lead_make(nickname="FuturesOnly")
    copy = copy_make(spot, investment="1000", market="spot")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=spot, instrument="BTC-USDT", amount="1000")
    set_price("BTC-USDT", "51000")

    # then market=spot lists the lead holding spot, with its spot copiers and their equity
    rows = listing("?market=spot")
    assert [r["nickname"] for r in rows] == ["SpotLead"]
    figures = copy_figures_many([copy])[copy.pk]
    assert (rows[0]["copiers"], rows[0]["aum_usdt"]) == (1, str(usdt(figures.equity)))
    assert figures.equity > D("1000")  # its holding gained at 51,000
    assert rows[0]["has_room"] is False  # full in spot (1 of 1)
    assert rows[0]["roi_30d"] is None  # no spot snapshots: no stats
    # and the futures directory counts futures copies only
    assert {r["nickname"]: r["copiers"] for r in listing()}["SpotLead"] == 0
    assert names("?market=spot&has_room=true") == []


@pytest.mark.django_db(transaction=True)
def test_every_leads_live_figures_are_cached_until_something_changes(monkeypatch):
    # given two leads with copies, committed (outside a transaction, as requests run)
    from django.core.cache import cache

    from apps.copies.services import copy_investment_modify
    from apps.stats import selectors

    cache.delete("stats:live:futures:v1")
    set_price("BTC-USDT-SWAP", "50000")
    a, b = lead_make(nickname="A"), lead_make(nickname="B")
    copy_make(a, investment="2000")
    small = copy_make(b, investment="1000", balance="5000")
    computed = []
    real = selectors.live_figures
    monkeypatch.setattr(
        selectors, "live_figures", lambda *a, **kw: computed.append(kw) or real(*a, **kw)
    )

    # when the directory is ordered by AUM twice, then every lead's figures are summed once
    assert names("?ordering=-aum_usdt") == ["A", "B"]
    assert names("?ordering=-aum_usdt") == ["A", "B"]
    assert len(computed) == 1

    # when money moves (a Modify: a posting), then they are summed again and right
    copy_investment_modify(copy=small, user=small.follower, total_investment="3000")
    rows = listing("?ordering=-aum_usdt")
    assert [(r["nickname"], r["aum_usdt"]) for r in rows] == [
        ("B", "3000.00000000"),
        ("A", "2000.00000000"),
    ]
    assert len(computed) == 2
    # and a price change (no posting) is seen too
    set_price("BTC-USDT-SWAP", "50001")
    listing("?ordering=-aum_usdt")
    assert len(computed) == 3
