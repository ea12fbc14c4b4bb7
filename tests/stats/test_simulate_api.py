"""``GET traders/{id}/simulate/`` (issue 9 item 6's API): what copying a lead would have returned,
public, throttled per IP, errors as ``{detail, code, fields}``.

The hand-computed case (BTC-USDT-SWAP: 0.01 BTC a contract, taker fee 0.0005): the lead (20,000
USDT) opens long cross 5x with 1,000 margin at 50,000 (10 contracts) and closes it at 51,000.
A copy of 1,000 mirrors 1/20: 50 margin, 0.5 contract, open fee 0.5 x 0.01 x 50,000 x 0.0005 =
0.125; the close realizes 0.5 x 0.01 x 1,000 = 5 and pays 0.5 x 0.01 x 51,000 x 0.0005 = 0.1275.
Net realized R = 5 - 0.2525 = 4.7475; at the end of the period the profit share (10%) is
0.47475, paid from free cash. Equity 1,000 + 4.7475 - 0.47475 = 1,004.27275: PnL 4.27275, ROI
0.00427275. Then the lead opens 3 USDT at 2x: about 0.15 USDT for the copy, while the minimum
0.01 contract needs 2.55 (17 times the target, over the bump cap of 10): missed, "below
minimum size".
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from apps.stats.models import TraderStats
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def traded(django_capture_on_commit_callbacks):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="Replayed", equity="20000")
    copy_make(lead, investment="5000")  # copiers do not change a simulation
    with django_capture_on_commit_callbacks(execute=True):
        p = lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )
    set_price("BTC-USDT-SWAP", "51000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_close(lead=lead, position=p.pk, fraction="1")
        lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="isolated",
            leverage=2,
            margin="3",
        )
    return lead


def get(lead_id, query=""):
    return APIClient().get(f"/api/v1/traders/{lead_id}/simulate/{query}")


def test_a_simulation_answers_every_figure(traded):
    r = get(traded.pk, "?investment_usdt=1,000&days=7")
    assert r.status_code == 200, r.content
    body = r.json()
    assert {
        k: body[k]
        for k in (
            "trader", "days", "investment_usdt", "equity_usdt", "pnl_usdt", "roi",
            "fees_usdt", "funding_usdt", "profit_share_usdt", "profit_share_owed_usdt",
            "realized_pnl_usdt", "copied", "missed", "missed_total", "open_positions",
            "max_drawdown", "lead_roi", "roi_gap", "stop_loss_usdt", "stop_loss_action",
        )
    } == {
        "trader": traded.pk, "days": 7, "investment_usdt": "1000.00000000",
        "equity_usdt": "1004.27275000", "pnl_usdt": "4.27275000", "roi": "0.00427275",
        "fees_usdt": "0.25250000", "funding_usdt": "0.00000000",
        "profit_share_usdt": "0.47475000", "profit_share_owed_usdt": "0.00000000",
        "realized_pnl_usdt": "4.74750000", "copied": 2,
        "missed": [{"reason": "below minimum size", "count": 1}], "missed_total": 1,
        "open_positions": 0, "max_drawdown": "0.00000000", "lead_roi": None, "roi_gap": None,
        "stop_loss_usdt": None, "stop_loss_action": "close_all",
    }  # fmt: skip
    # one day-end equity per UTC day of the period, the last one the final equity
    assert len(body["daily"]) in (7, 8)
    assert body["daily"][0]["equity_usdt"] == "1000.00000000"
    assert body["daily"][-1]["equity_usdt"] == "1004.27275000"
    assert "not a promise" in body["note"]


def test_the_gap_to_the_leads_own_roi(traded):
    # given the lead's 7-day stats say +1.25%
    TraderStats.objects.create(
        lead=traded,
        period="7d",
        as_of=timezone.now().date() - timedelta(days=1),
        roi=D("0.0125"),
        computed_at=timezone.now(),
    )
    body = get(traded.pk, "?investment_usdt=1000&days=7").json()
    # then the gap is the simulated ROI minus it: 0.00427275 - 0.0125
    assert (body["lead_roi"], body["roi_gap"]) == ("0.01250000", "-0.00822725")


def test_a_stop_loss_is_replayed(traded):
    # a stop loss of 101 USDT never triggers on a copy that only gained
    body = get(traded.pk, "?investment_usdt=1000&days=30&stop_loss_usdt=101&stop_loss_action=keep")
    body = body.json()
    assert (body["stop_loss_usdt"], body["stop_loss_action"]) == ("101.00000000", "keep")
    assert (body["stop_loss_triggered_at"], body["equity_usdt"]) == (None, "1004.27275000")


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("", 400, "required", "investment_usdt"),
        ("?investment_usdt=50", 400, "below_minimum", "investment_usdt"),
        ("?investment_usdt=abc", 400, "invalid", "investment_usdt"),
        ("?investment_usdt=1000&days=14", 400, "invalid_days", "days"),
        ("?investment_usdt=1000&stop_loss_usdt=1000", 400, "invalid_stop_loss", "stop_loss_usdt"),
        ("?investment_usdt=1000&stop_loss_usdt=10&stop_loss_action=panic", 400, None,
         "stop_loss_action"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(traded, query, status, code, field):
    r = get(traded.pk, query)
    body = r.json()
    assert r.status_code == status
    assert set(body) == {"detail", "code", "fields"} and list(body["fields"]) == [field]
    if code:
        assert body["code"] == code
    assert body["detail"]  # words a person can act on


def test_an_unknown_trader_is_a_404(db):
    r = get(999999, "?investment_usdt=1000")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_public_even_with_a_stale_token(traded):
    r = APIClient(HTTP_AUTHORIZATION="Token not-a-token").get(
        f"/api/v1/traders/{traded.pk}/simulate/?investment_usdt=1000"
    )
    assert r.status_code == 200


def test_throttled_per_ip(traded, settings):
    # given a limit of 2 a minute (DRF reloads its settings when they change)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                   "simulate": "2/m"},
    }  # fmt: skip
    assert get(traded.pk, "?investment_usdt=1000").status_code == 200
    assert get(traded.pk, "?investment_usdt=2000").status_code == 200
    # then the third is refused with when to come back, in the project's error shape
    r = get(traded.pk, "?investment_usdt=3000")
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and r.json()["fields"] == {}
    assert int(r["Retry-After"]) >= 1
