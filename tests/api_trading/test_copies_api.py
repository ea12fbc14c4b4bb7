"""Copies API: start, list, details, settings, investment, stop, positions, manual close,
events, and every refusal with a 4xx and a message."""

from decimal import Decimal

import pytest

from apps.copies.models import Copy
from apps.ledger.services import account_main
from apps.traders.services import lead_position_open
from tests.api_trading.conftest import client_for
from tests.factories.trading import copy_make, follower_make, lead_make

pytestmark = pytest.mark.django_db

COPY_FIELDS = {
    "id",
    "trader",
    "market",
    "status",
    "total_investment_usdt",
    "equity_usdt",
    "pnl_usdt",
    "realized_pnl_usdt",
    "unrealized_pnl_usdt",
    "margin_in_use_usdt",
    "available_usdt",
    "total_stop_loss_usdt",
    "stop_loss_action",
    "profit_share_ratio",
    "profit_share_paid_usdt",
    "profit_share_pending_usdt",
    "started_at",
    "stopped_at",
    "stop_reason",
    "stopping",
    "stop_loss_triggered_at",
    "stop_loss_trigger",
    "profit_share_owed_usdt",
    "funding_usdt",
}


def _open(lead, django_capture_on_commit_callbacks, **kw):
    params = {
        "instrument": "BTC-USDT-SWAP",
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "margin": "1000",
    } | kw
    with django_capture_on_commit_callbacks(execute=True):
        return lead_position_open(lead=lead, **params)


def _main_balance(user) -> Decimal:
    return account_main(user=user).balance


# --- start ----------------------------------------------------------------------------------
def test_copy_start_returns_201_with_the_contract_fields(btc):
    lead = lead_make()
    user = follower_make("1500")
    r = client_for(user).post(
        "/api/v1/copies/",
        {
            "trader": lead.pk,
            "total_investment_usdt": "1000",
            "total_stop_loss_usdt": "300",
            "stop_loss_action": "keep",
        },
        format="json",
    )
    assert r.status_code == 201, r.data
    assert set(r.data) == COPY_FIELDS | {"trader_nickname"}
    assert r.data["trader"] == lead.pk
    assert r.data["trader_nickname"] == lead.nickname
    assert r.data["market"] == "futures"
    assert r.data["status"] == "active"
    assert r.data["total_investment_usdt"] == "1000.00000000"
    assert r.data["available_usdt"] == "1000.00000000"
    assert r.data["total_stop_loss_usdt"] == "300.00000000"
    assert r.data["stop_loss_action"] == "keep"
    assert r.data["profit_share_ratio"] == "0.10000000"
    assert r.data["stopped_at"] is None
    assert _main_balance(user) == Decimal("500")


def test_copy_start_with_ongoing_positions_opens_them(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    _open(lead, django_capture_on_commit_callbacks)
    user = follower_make("1000")
    r = client_for(user).post(
        "/api/v1/copies/",
        {"trader": lead.pk, "total_investment_usdt": "1000", "copy_ongoing_positions": True},
        format="json",
    )
    assert r.status_code == 201, r.data
    assert r.data["margin_in_use_usdt"] == "100.00000000"
    positions = client_for(user).get(f"/api/v1/copies/{r.data['id']}/positions/").data
    assert positions["count"] == 1
    assert positions["results"][0]["explanation"]["source"] == "Copy Ongoing Positions"


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"total_investment_usdt": "abc"}, 400, "total_investment_usdt", "number"),
        ({"total_investment_usdt": "-100"}, 400, "total_investment_usdt", "minimum"),
        ({"total_investment_usdt": "99.99"}, 400, "total_investment_usdt", "minimum"),
        ({"total_investment_usdt": "100.000000001"}, 400, "total_investment_usdt", "decimal"),
        ({"total_investment_usdt": "NaN"}, 400, "total_investment_usdt", "number"),
        ({"total_investment_usdt": "5000"}, 400, "total_investment_usdt", "main account"),
        ({"total_stop_loss_usdt": "1000"}, 400, "total_stop_loss_usdt", "less than"),
        ({"total_stop_loss_usdt": "-1"}, 400, "total_stop_loss_usdt", "more than 0"),
        ({"stop_loss_action": "panic"}, 400, "stop_loss_action", "valid choice"),
        ({"market": "options"}, 400, "market", "valid choice"),
        ({"trader": 999999}, 404, "trader", "No such lead trader"),
        ({"trader": "x"}, 400, "trader", "integer"),
    ],
)
def test_copy_start_refusals(btc, body, status, field, message):
    lead = lead_make()
    user = follower_make("1000")
    payload = {"trader": lead.pk, "total_investment_usdt": "1000"} | body
    r = client_for(user).post("/api/v1/copies/", payload, format="json")
    assert r.status_code == status, r.data
    assert message.lower() in (r.data["detail"] + " ".join(r.data["fields"].values())).lower()
    assert field in r.data["fields"]
    assert not Copy.objects.filter(follower=user).exists()
    assert _main_balance(user) == Decimal("1000")


def test_copy_start_refuses_self_copy_and_duplicates(btc):
    lead = lead_make(equity="10000")
    r = client_for(lead.user).post(
        "/api/v1/copies/", {"trader": lead.pk, "total_investment_usdt": "100"}
    )
    # the lead's main account is empty after the transfer, but self-copy is refused first
    assert r.status_code == 400
    assert r.data["code"] == "self_copy"
    assert r.data["detail"] == "You cannot copy yourself."

    user = follower_make("2000")
    client = client_for(user)
    assert (
        client.post(
            "/api/v1/copies/", {"trader": lead.pk, "total_investment_usdt": "500"}
        ).status_code
        == 201
    )
    r = client.post("/api/v1/copies/", {"trader": lead.pk, "total_investment_usdt": "500"})
    assert r.status_code == 409
    assert r.data["code"] == "duplicate_copy"
    assert "already copying" in r.data["detail"]


def test_copy_start_refuses_an_ended_or_full_lead(btc, operator):
    ended = lead_make()
    operator.post(f"/api/v1/operator/lead-traders/{ended.pk}/end/")
    full = lead_make(max_copiers=1)
    copy_make(full, investment="100")
    client = client_for(follower_make("1000"))
    r = client.post("/api/v1/copies/", {"trader": ended.pk, "total_investment_usdt": "100"})
    assert (r.status_code, r.data["code"]) == (409, "lead_not_active")
    r = client.post("/api/v1/copies/", {"trader": full.pk, "total_investment_usdt": "100"})
    assert (r.status_code, r.data["code"]) == (409, "lead_full")
    assert "full" in r.data["detail"]


def test_copies_require_authentication(btc):
    from rest_framework.test import APIClient

    r = APIClient().get("/api/v1/copies/")
    assert r.status_code in (401, 403)
    assert r.data["detail"]


# --- list and details -----------------------------------------------------------------------
def test_copy_list_shows_only_mine_with_status_filter(btc, django_assert_max_num_queries):
    lead, other_lead = lead_make(), lead_make()
    user = follower_make("3000")
    active = copy_make(lead, investment="1000", follower=user)
    stopped = copy_make(other_lead, investment="1000", follower=user)
    client = client_for(user)
    client.post(f"/api/v1/copies/{stopped.pk}/stop/")
    copy_make(lead, investment="1000")  # someone else's

    r = client.get("/api/v1/copies/")
    assert r.status_code == 200
    assert r.data["count"] == 2
    assert [c["id"] for c in r.data["results"]] == [stopped.pk, active.pk]
    assert client.get("/api/v1/copies/?status=active").data["results"][0]["id"] == active.pk
    assert client.get("/api/v1/copies/?status=stopped").data["results"][0]["id"] == stopped.pk

    r = client.get("/api/v1/copies/?status=paused")
    assert r.status_code == 400
    assert "status" in r.data["fields"]


def test_copy_list_costs_constant_queries(btc, django_assert_max_num_queries):
    lead = lead_make()
    user = follower_make("5000")
    for _ in range(5):
        copy_make(lead_make(), investment="1000", follower=user)
    client = client_for(user)
    with django_assert_max_num_queries(8):
        r = client.get("/api/v1/copies/")
    assert r.data["count"] == 5
    assert lead  # one lead with no copy of this user does not appear
    assert all(c["trader"] != lead.pk for c in r.data["results"])


def test_another_users_copy_is_not_found(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    _open(lead, django_capture_on_commit_callbacks)
    pos = copy.account.positions.get()
    stranger = client_for(follower_make("1000"))
    for method, url, body in [
        ("get", f"/api/v1/copies/{copy.pk}/", None),
        ("patch", f"/api/v1/copies/{copy.pk}/", {"stop_loss_action": "keep"}),
        ("post", f"/api/v1/copies/{copy.pk}/investment/", {"total_investment_usdt": "200"}),
        ("post", f"/api/v1/copies/{copy.pk}/stop/", None),
        ("get", f"/api/v1/copies/{copy.pk}/positions/", None),
        ("post", f"/api/v1/copies/{copy.pk}/positions/{pos.pk}/close/", None),
        ("get", f"/api/v1/copies/{copy.pk}/events/", None),
    ]:
        r = getattr(stranger, method)(url, body, format="json")
        assert r.status_code == 404, (url, r.data)
        assert r.data["detail"] == "No such copy."
    copy.refresh_from_db()
    assert copy.status == "active"
    assert copy.stop_loss_action == "close_all"
    assert copy.account.positions.get().status == "open"


def test_unknown_copy_is_404():
    r = client_for(follower_make("0")).get("/api/v1/copies/999999/")
    assert (r.status_code, r.data["code"]) == (404, "not_found")


# --- settings ---------------------------------------------------------------------------------
def test_patch_sets_and_clears_the_stop_loss(btc):
    copy = copy_make(lead_make(), investment="1000")
    client = client_for(copy.follower)
    r = client.patch(
        f"/api/v1/copies/{copy.pk}/",
        {"total_stop_loss_usdt": "250.5", "stop_loss_action": "hand_over"},
        format="json",
    )
    assert r.status_code == 200, r.data
    assert (r.data["total_stop_loss_usdt"], r.data["stop_loss_action"]) == (
        "250.50000000",
        "hand_over",
    )
    r = client.patch(f"/api/v1/copies/{copy.pk}/", {"total_stop_loss_usdt": None}, format="json")
    assert r.status_code == 200
    assert r.data["total_stop_loss_usdt"] is None
    assert r.data["stop_loss_action"] == "hand_over"  # untouched when not sent


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"total_stop_loss_usdt": "1000"}, "total_stop_loss_usdt"),
        ({"total_stop_loss_usdt": "0"}, "total_stop_loss_usdt"),
        ({"total_stop_loss_usdt": "ten"}, "total_stop_loss_usdt"),
        ({"total_stop_loss_usdt": "1.123456789"}, "total_stop_loss_usdt"),
        ({"stop_loss_action": "sell"}, "stop_loss_action"),
    ],
)
def test_patch_refusals(btc, body, field):
    copy = copy_make(lead_make(), investment="1000")
    r = client_for(copy.follower).patch(f"/api/v1/copies/{copy.pk}/", body, format="json")
    assert r.status_code == 400, r.data
    assert field in r.data["fields"]
    assert r.data["detail"]
    copy.refresh_from_db()
    assert (copy.total_stop_loss, copy.stop_loss_action) == (None, "close_all")


def test_patch_on_a_stopped_copy_is_409(btc):
    copy = copy_make(lead_make(), investment="1000")
    client = client_for(copy.follower)
    client.post(f"/api/v1/copies/{copy.pk}/stop/")
    r = client.patch(f"/api/v1/copies/{copy.pk}/", {"stop_loss_action": "keep"}, format="json")
    assert r.status_code == 409
    assert "stopped" in r.data["detail"]


# --- investment -------------------------------------------------------------------------------
def test_investment_up_and_down(btc):
    copy = copy_make(lead_make(), investment="1000", balance="1500")
    client = client_for(copy.follower)
    r = client.post(f"/api/v1/copies/{copy.pk}/investment/", {"total_investment_usdt": "1400"})
    assert r.status_code == 200, r.data
    assert (r.data["total_investment_usdt"], r.data["equity_usdt"]) == (
        "1400.00000000",
        "1400.00000000",
    )
    assert _main_balance(copy.follower) == Decimal("100")
    r = client.post(f"/api/v1/copies/{copy.pk}/investment/", {"total_investment_usdt": "600"})
    assert r.status_code == 200, r.data
    assert r.data["total_investment_usdt"] == "600.00000000"
    assert _main_balance(copy.follower) == Decimal("900")
    kinds = [e["kind"] for e in client.get(f"/api/v1/copies/{copy.pk}/events/").data["results"]]
    assert kinds == ["investment", "investment", "started"]


def test_investment_refusals(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000", balance="1100")
    _open(lead, django_capture_on_commit_callbacks)  # 100 margin + 0.25 fee now in use
    client = client_for(copy.follower)
    url = f"/api/v1/copies/{copy.pk}/investment/"
    cases = [
        ("99", 400, "below_minimum", "at least 100"),
        ("-5", 400, "below_minimum", "at least 100"),
        ("lots", 400, "invalid", "number"),
        ("500.123456789", 400, "invalid", "decimal"),
        ("1200", 400, "insufficient_funds", "main account"),
        ("100", 400, "funds_in_use", "free"),
    ]
    for amount, status, code, message in cases:
        r = client.post(url, {"total_investment_usdt": amount})
        assert (r.status_code, r.data["code"]) == (status, code), (amount, r.data)
        assert message in r.data["detail"] + " ".join(r.data["fields"].values()), r.data
        assert "total_investment_usdt" in r.data["fields"]
    assert _main_balance(copy.follower) == Decimal("100")
    copy.refresh_from_db()
    assert copy.total_investment == Decimal("1000")

    # the stop loss must stay below the investment
    client.patch(f"/api/v1/copies/{copy.pk}/", {"total_stop_loss_usdt": "800"}, format="json")
    r = client.post(url, {"total_investment_usdt": "800"})
    assert (r.status_code, r.data["code"]) == (400, "invalid_stop_loss")

    client.post(f"/api/v1/copies/{copy.pk}/stop/")
    r = client.post(url, {"total_investment_usdt": "500"})
    assert (r.status_code, r.data["code"]) == (409, "copy_stopped")


# --- stop -------------------------------------------------------------------------------------
def test_stop_closes_positions_and_returns_funds(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    _open(lead, django_capture_on_commit_callbacks)
    client = client_for(copy.follower)
    r = client.post(f"/api/v1/copies/{copy.pk}/stop/")
    assert r.status_code == 200, r.data
    assert r.data["status"] == "stopped"
    assert r.data["stop_reason"] == "user"
    assert r.data["stopped_at"]
    assert r.data["equity_usdt"] == "0.00000000"
    # opened and closed at 50,000: only the two fees (0.25 each) are lost
    assert _main_balance(copy.follower) == Decimal("999.50")
    positions = client.get(f"/api/v1/copies/{copy.pk}/positions/?status=closed").data
    assert positions["count"] == 1
    assert positions["results"][0]["close_reason"] == "stop_copy"
    r = client.post(f"/api/v1/copies/{copy.pk}/stop/")
    assert (r.status_code, r.data["code"]) == (409, "copy_stopped")


# --- positions and manual close ---------------------------------------------------------------
def test_positions_filter_and_manual_close(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    _open(lead, django_capture_on_commit_callbacks)
    client = client_for(copy.follower)
    base = f"/api/v1/copies/{copy.pk}/positions/"
    open_rows = client.get(f"{base}?status=open").data
    assert open_rows["count"] == 1
    assert client.get(f"{base}?status=closed").data["count"] == 0
    assert client.get(f"{base}?status=gone").status_code == 400
    pid = open_rows["results"][0]["id"]

    from tests.factories.trading import set_price

    set_price("BTC-USDT-SWAP", "52000")
    assert client.get(base).data["results"][0]["unrealized_pnl_usdt"] == "20.00000000"
    r = client.post(f"{base}{pid}/close/")
    assert r.status_code == 200, r.data
    assert (r.data["status"], r.data["close_reason"]) == ("closed", "manual")
    assert r.data["realized_pnl_usdt"] == "20.00000000"
    assert r.data["size"] == "0.00000000"
    detail = client.get(f"/api/v1/copies/{copy.pk}/").data
    # 1000 - 0.25 open fee + 20 profit - 0.26 close fee, all still in the copy
    assert detail["equity_usdt"] == "1019.49000000"
    assert detail["available_usdt"] == "1019.49000000"

    r = client.post(f"{base}{pid}/close/")
    assert r.status_code == 404
    assert "No such open position" in r.data["detail"]
    r = client.post(f"{base}999999/close/")
    assert r.status_code == 404

    events = client.get(f"/api/v1/copies/{copy.pk}/events/").data["results"]
    assert events[0]["kind"] == "manual_close"
    assert events[0]["position"] == pid
    assert events[0]["amount_usdt"] == "19.74000000"
    copied = events[1]
    assert copied["kind"] == "copied"
    assert copied["lead_event"] is not None
    assert copied["lead_event_kind"] == "open"
    assert set(copied) >= {"id", "kind", "lead_event", "reason", "created_at", "explanation"}


def test_events_show_a_missed_copy_with_its_reason(btc, django_capture_on_commit_callbacks):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="100")
    # a tiny open: the follower's share is far below the minimum size and the bump too dear
    _open(lead, django_capture_on_commit_callbacks, margin="5", leverage=1)
    events = client_for(copy.follower).get(f"/api/v1/copies/{copy.pk}/events/").data["results"]
    assert events[0]["kind"] == "missed"
    assert "minimum size" in events[0]["reason"]


def test_at_most_20_active_copies(btc):
    # given a follower with 20 active copies of 20 different lead traders (SPEC §5.1)
    user = follower_make("2200")
    client = client_for(user)
    leads = [lead_make() for _ in range(21)]
    for lead in leads[:20]:
        r = client.post(
            "/api/v1/copies/", {"trader": lead.pk, "total_investment_usdt": "100"}, format="json"
        )
        assert r.status_code == 201, r.data
    # when they try a 21st
    r = client.post(
        "/api/v1/copies/", {"trader": leads[20].pk, "total_investment_usdt": "100"}, format="json"
    )
    # then it is refused with a message, and no money moved
    assert r.status_code == 409
    assert r.data["code"] == "too_many_copies"
    assert "20 active copies" in r.data["detail"]
    assert _main_balance(user) == Decimal("200")
    # and once one copy stopped, a new one may start
    first = Copy.objects.filter(follower=user).order_by("pk").first()
    assert client.post(f"/api/v1/copies/{first.pk}/stop/").status_code == 200
    r = client.post(
        "/api/v1/copies/", {"trader": leads[20].pk, "total_investment_usdt": "100"}, format="json"
    )
    assert r.status_code == 201, r.data
