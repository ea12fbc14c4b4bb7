"""Lead traders API: the public directory and profile, the lead console, the operators'
approval and end — with every refusal a 4xx and a message."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.ledger.services import account_main
from apps.positions.models import LeadEvent, Position
from apps.traders.models import LeadTrader
from tests.api_trading.conftest import client_for
from tests.factories.accounts import UserFactory
from tests.factories.ledger import user_with_main_balance
from tests.factories.trading import copy_make, follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "id",
    "nickname",
    "roi_7d",
    "roi_30d",
    "roi_90d",
    "pnl_30d_usdt",
    "win_rate_30d",
    "max_drawdown_30d",
    "aum_usdt",
    "copiers",
    "max_copiers",
    "profit_share_ratio",
    "status",
}
OPEN_BODY = {
    "instrument": "BTC-USDT-SWAP",
    "side": "long",
    "margin_mode": "isolated",
    "leverage": 5,
    "margin_usdt": "1000",
}


# --- public reads (the directory and profile: tests/stats/test_api.py) ----------------------
def test_trader_positions_public(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    client = client_for(lead.user)
    first = client.post("/api/v1/lead/positions/", OPEN_BODY).data
    client.post("/api/v1/lead/positions/", OPEN_BODY | {"side": "short", "margin_usdt": "500"})
    client.post(f"/api/v1/lead/positions/{first['id']}/close/", {"fraction": "1"})
    anon = APIClient()
    r = anon.get(f"/api/v1/traders/{lead.pk}/positions/")
    assert r.status_code == 200
    assert r.data["count"] == 2
    row = r.data["results"][0]
    assert {
        "id",
        "instrument",
        "side",
        "margin_mode",
        "leverage",
        "size",
        "entry_price",
        "margin_usdt",
        "unrealized_pnl_usdt",
        "realized_pnl_usdt",
        "status",
        "opened_at",
        "closed_at",
    } <= set(row)
    assert (row["instrument"], row["side"], row["status"]) == ("BTC-USDT-SWAP", "short", "open")
    closed = anon.get(f"/api/v1/traders/{lead.pk}/positions/?status=closed").data["results"]
    assert [p["id"] for p in closed] == [first["id"]]
    assert closed[0]["closed_at"] is not None
    assert anon.get(f"/api/v1/traders/{lead.pk}/positions/?status=x").status_code == 400
    assert anon.get("/api/v1/traders/999999/positions/").status_code == 404


# --- the lead console -----------------------------------------------------------------------
def test_lead_endpoints_refuse_non_leads_with_403(btc):
    client = client_for(follower_make("1000"))
    for method, url, body in [
        (
            "post",
            "/api/v1/lead/transfer/",
            {"market": "futures", "direction": "in", "amount_usdt": "1"},
        ),
        ("get", "/api/v1/lead/account/", None),
        ("get", "/api/v1/lead/positions/", None),
        ("post", "/api/v1/lead/positions/", OPEN_BODY),
        ("post", "/api/v1/lead/positions/1/close/", {"fraction": "1"}),
        ("post", "/api/v1/lead/positions/1/leverage/", {"leverage": 3}),
        ("post", "/api/v1/lead/positions/1/margin/", {"amount_usdt": "1"}),
    ]:
        r = getattr(client, method)(url, body, format="json")
        assert r.status_code == 403, url
        assert r.data["detail"] == "Only approved lead traders can do this."
    assert APIClient().get("/api/v1/lead/account/").status_code in (401, 403)


def test_lead_transfer_and_account(btc):
    lead = lead_make(equity="0")
    # lead_make with 0 equity leaves the main account empty: deposit first
    from apps.ledger.services import deposit_credit

    deposit_credit(user=lead.user, amount=Decimal("5000"), key="t-lead-dep")
    client = client_for(lead.user)
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "in", "amount_usdt": "3000"}
    )
    assert r.status_code == 200, r.data
    assert r.data == {
        "market": "futures",
        "balance_usdt": "3000.00000000",
        "equity_usdt": "3000.00000000",
        "cash_usdt": "3000.00000000",
        "margin_usdt": "0.00000000",
        "unrealized_pnl_usdt": "0.00000000",
        "available_usdt": "3000.00000000",
    }
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "spot", "direction": "in", "amount_usdt": "500"}
    )
    assert (r.status_code, r.data["market"], r.data["balance_usdt"]) == (
        200,
        "spot",
        "500.00000000",
    )
    client.post("/api/v1/lead/positions/", OPEN_BODY)
    set_price("BTC-USDT-SWAP", "49000")
    r = client.get("/api/v1/lead/account/?market=futures")
    assert r.status_code == 200
    assert r.data["margin_usdt"] == "1000.00000000"
    assert r.data["unrealized_pnl_usdt"] == "-100.00000000"  # 10 contracts x 0.01 x -1000
    assert r.data["cash_usdt"] == "1997.50000000"  # 3000 - 1000 margin - 2.5 fee
    assert r.data["equity_usdt"] == "2897.50000000"
    assert r.data["available_usdt"] == "1997.50000000"  # isolated: the loss stays in its margin
    assert client.get("/api/v1/lead/account/").data["market"] == "futures"
    assert client.get("/api/v1/lead/account/?market=spot").data["balance_usdt"] == "500.00000000"
    r = client.get("/api/v1/lead/account/?market=options")
    assert (r.status_code, r.data["fields"]) == (400, {"market": "futures or spot"})

    # out moves only free cash
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "out", "amount_usdt": "2000"}
    )
    assert (r.status_code, r.data["code"]) == (400, "insufficient_funds")
    assert "1,997.50 USDT" in r.data["detail"]
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "out", "amount_usdt": "997.5"}
    )
    assert r.status_code == 200
    assert account_main(user=lead.user).balance == Decimal("2497.5")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"amount_usdt": "0"}, "amount_usdt", "greater than 0"),
        ({"amount_usdt": "-10"}, "amount_usdt", "greater than 0"),
        ({"amount_usdt": "ten"}, "amount_usdt", "number"),
        ({"amount_usdt": "1.000000001"}, "amount_usdt", "decimal places"),
        ({"amount_usdt": "99999"}, "amount_usdt", ""),
        ({"market": "margin"}, "market", "valid choice"),
        ({"direction": "sideways"}, "direction", "valid choice"),
    ],
)
def test_lead_transfer_refusals(btc, body, field, message):
    lead = lead_make(equity="1000")
    r = client_for(lead.user).post(
        "/api/v1/lead/transfer/",
        {"market": "futures", "direction": "out", "amount_usdt": "10"} | body,
        format="json",
    )
    assert r.status_code == 400, r.data
    assert field in r.data["fields"] or r.data["code"] == "insufficient_funds"
    assert message in r.data["detail"] + " ".join(r.data["fields"].values())


def test_lead_position_open_list_close_leverage_margin(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    client = client_for(lead.user)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/api/v1/lead/positions/", OPEN_BODY)
    assert r.status_code == 201, r.data
    pos = r.data
    assert {
        "id",
        "instrument",
        "side",
        "margin_mode",
        "leverage",
        "size",
        "entry_price",
        "margin_usdt",
        "status",
        "unrealized_pnl_usdt",
        "realized_pnl_usdt",
        "fees_usdt",
    } <= set(pos)
    assert (pos["instrument"], pos["side"], pos["margin_mode"], pos["leverage"]) == (
        "BTC-USDT-SWAP",
        "long",
        "isolated",
        5,
    )
    assert (pos["size"], pos["entry_price"], pos["fees_usdt"]) == (
        "10.00000000",
        "50000.00000000",
        "2.50000000",
    )
    url = f"/api/v1/lead/positions/{pos['id']}"

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{url}/margin/", {"amount_usdt": "100"})
    assert r.status_code == 200, r.data
    assert r.data["margin_usdt"] == "1100.00000000"
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{url}/margin/", {"amount_usdt": "-50"})
    assert r.data["margin_usdt"] == "1050.00000000"
    r = client.post(f"{url}/margin/", {"amount_usdt": "-100"})
    assert (r.status_code, r.data["code"]) == (400, "below_initial_margin")

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{url}/leverage/", {"leverage": 10})
    assert r.status_code == 200, r.data
    assert (r.data["leverage"], r.data["margin_usdt"]) == (10, "500.00000000")
    follower_pos = Position.objects.get(account=copy.account)
    assert follower_pos.leverage == 10

    set_price("BTC-USDT-SWAP", "52000")
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{url}/close/", {"fraction": "0.4"})
    assert r.status_code == 200, r.data
    assert (r.data["size"], r.data["status"]) == ("6.00000000", "open")
    assert r.data["realized_pnl_usdt"] == "80.00000000"
    follower_pos.refresh_from_db()
    assert follower_pos.size == Decimal("0.6")

    assert client.get("/api/v1/lead/positions/?status=open").data["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{url}/close/", {"fraction": 1})
    assert r.data["status"] == "closed"
    assert client.get("/api/v1/lead/positions/?status=open").data["count"] == 0
    assert client.get("/api/v1/lead/positions/").data["count"] == 1
    assert client.get("/api/v1/lead/positions/?status=both").status_code == 400
    r = client.post(f"{url}/close/", {"fraction": 1})
    assert (r.status_code, r.data["code"]) == (409, "position_closed")
    assert LeadEvent.objects.filter(account_id=lead.futures_account_id).count() == 6


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"instrument": "DOGE-USDT-SWAP"}, "instrument", "Unknown instrument"),
        ({"instrument": "BTC-USDT"}, "instrument", "not a perpetual"),
        ({"side": "up"}, "side", "valid choice"),
        ({"margin_mode": "portfolio"}, "margin_mode", "valid choice"),
        ({"leverage": 0}, "leverage", "between 1 and 100"),
        ({"leverage": 101}, "leverage", "between 1 and 100"),
        ({"leverage": "5.5"}, "leverage", "integer"),
        ({"margin_usdt": "-1"}, "margin_usdt", "greater than 0"),
        ({"margin_usdt": "abc"}, "margin_usdt", "number"),
        ({"margin_usdt": "1.123456789"}, "margin_usdt", "decimal places"),
        ({"margin_usdt": "0.5"}, "margin_usdt", "minimum size"),
        ({"margin_usdt": "20000"}, "margin_usdt", "exceeds"),
    ],
)
def test_lead_position_open_refusals(btc, body, field, message):
    lead = lead_make()
    r = client_for(lead.user).post("/api/v1/lead/positions/", OPEN_BODY | body, format="json")
    assert r.status_code == 400, r.data
    assert field in r.data["fields"]
    assert message in r.data["detail"] + " ".join(r.data["fields"].values()), r.data
    assert not Position.objects.filter(account_id=lead.futures_account_id).exists()


def test_lead_position_action_refusals(btc):
    lead, other = lead_make(), lead_make()
    client = client_for(lead.user)
    mine = client.post(
        "/api/v1/lead/positions/", OPEN_BODY | {"margin_mode": "cross", "margin_usdt": "5000"}
    ).data
    theirs = client_for(other.user).post("/api/v1/lead/positions/", OPEN_BODY).data
    for action, body in [
        ("close", {"fraction": "1"}),
        ("leverage", {"leverage": 3}),
        ("margin", {"amount_usdt": "10"}),
    ]:
        r = client.post(f"/api/v1/lead/positions/{theirs['id']}/{action}/", body)
        assert r.status_code == 404, (action, r.data)
        assert "No such position" in r.data["detail"]
    url = f"/api/v1/lead/positions/{mine['id']}"
    for action, body, code in [
        ("close", {"fraction": "0"}, "invalid"),
        ("close", {"fraction": "1.5"}, "invalid"),
        ("close", {"fraction": "half"}, "invalid"),
        ("leverage", {"leverage": 5}, "invalid"),
        ("leverage", {"leverage": 1000}, "invalid"),
        ("leverage", {"leverage": 1}, "insufficient_funds"),
        ("margin", {"amount_usdt": "10"}, "not_isolated"),
        ("margin", {"amount_usdt": "0"}, "invalid"),
        ("margin", {"amount_usdt": "x"}, "invalid"),
    ]:
        r = client.post(f"{url}/{action}/", body)
        assert (r.status_code, r.data["code"]) == (400, code), (action, body, r.data)
        assert r.data["detail"]
    assert client.post(f"{url}/leverage/", {}).status_code == 400


def test_ended_lead_may_read_and_move_money_out_but_not_trade(btc, operator):
    lead = lead_make(equity="1000")
    operator.post(f"/api/v1/operator/lead-traders/{lead.pk}/end/")
    client = client_for(lead.user)
    r = client.post("/api/v1/lead/positions/", OPEN_BODY)
    assert r.status_code == 403
    assert "ended" in r.data["detail"]
    assert client.get("/api/v1/lead/positions/").status_code == 200
    assert client.get("/api/v1/lead/account/").data["balance_usdt"] == "1000.00000000"
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "in", "amount_usdt": "1"}
    )
    assert r.status_code == 409
    r = client.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "out", "amount_usdt": "1000"}
    )
    assert r.status_code == 200
    assert r.data["balance_usdt"] == "0.00000000"


# --- operators --------------------------------------------------------------------------------
def test_operator_approves_a_lead(operator):
    user = UserFactory(email="star@example.com")
    r = operator.post(
        "/api/v1/operator/lead-traders/",
        {
            "email": "STAR@example.com",
            "nickname": "Star",
            "profit_share_ratio": "0.15",
            "max_copiers": 50,
            "bio": "hello",
        },
        format="json",
    )
    assert r.status_code == 201, r.data
    lead = LeadTrader.objects.get(pk=r.data["id"])
    assert (lead.user, lead.nickname, lead.profit_share_ratio, lead.max_copiers, lead.bio) == (
        user,
        "Star",
        Decimal("0.15"),
        50,
        "hello",
    )
    assert (r.data["status"], r.data["max_copiers"], r.data["bio"]) == ("active", 50, "hello")
    assert lead.approved_by is not None and lead.approved_by.is_staff
    r = operator.post(
        "/api/v1/operator/lead-traders/",
        {"email": "star@example.com", "nickname": "Star2", "profit_share_ratio": "0.1"},
    )
    assert (r.status_code, r.data["code"]) == (409, "already_lead")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "nobody@example.com"}, 400, "email"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"profit_share_ratio": "0.31"}, 400, "profit_share_ratio"),
        ({"profit_share_ratio": "-0.01"}, 400, "profit_share_ratio"),
        ({"profit_share_ratio": "lots"}, 400, "profit_share_ratio"),
        ({"nickname": ""}, 400, "nickname"),
        ({"nickname": "x" * 41}, 400, "nickname"),
        ({"nickname": "taken"}, 409, "nickname"),
        ({"max_copiers": 0}, 400, "max_copiers"),
    ],
)
def test_operator_approve_refusals(operator, body, status, field):
    UserFactory(email="cand@example.com")
    lead_make(nickname="Taken", equity="0")
    payload = {"email": "cand@example.com", "nickname": "Cand", "profit_share_ratio": "0.1"}
    r = operator.post("/api/v1/operator/lead-traders/", payload | body, format="json")
    assert r.status_code == status, r.data
    assert field in r.data["fields"]
    assert r.data["detail"]
    assert not LeadTrader.objects.filter(user__email="cand@example.com").exists()


def test_operator_end_stops_every_copy(btc, operator, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(lead.user).post("/api/v1/lead/positions/", OPEN_BODY)
    with django_capture_on_commit_callbacks(execute=True):
        r = operator.post(f"/api/v1/operator/lead-traders/{lead.pk}/end/")
    assert r.status_code == 200, r.data
    assert (r.data["id"], r.data["status"]) == (lead.pk, "ended")
    assert r.data["ended_at"] is not None
    # the copies stop when the "ended" event is mirrored, after the commit
    assert APIClient().get(f"/api/v1/traders/{lead.pk}/").data["copiers"] == 0
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "lead_ended")
    r = operator.post(f"/api/v1/operator/lead-traders/{lead.pk}/end/")
    assert (r.status_code, r.data["code"]) == (409, "lead_not_active")
    r = operator.post("/api/v1/operator/lead-traders/999999/end/")
    assert (r.status_code, r.data["code"]) == (404, "not_found")


def test_lead_ends_own_strategy_and_copies_stop(btc, django_capture_on_commit_callbacks):
    # given a lead with an open position mirrored to one copy
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(lead.user).post("/api/v1/lead/positions/", OPEN_BODY)
    # when the lead ends their own strategy
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(lead.user).post("/api/v1/lead/end/")
    # then the strategy is ended and the follower got every USDT back in the main account
    assert (r.status_code, r.data["status"]) == (200, "ended")
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "lead_ended")
    assert client_for(copy.follower).get(f"/api/v1/copies/{copy.pk}/").data["equity_usdt"] == (
        "0.00000000"
    )
    # and a second end is refused as a conflict with a message (or, with the first request's
    # Idempotency-Key, answered with the first answer)
    r = client_for(lead.user).post("/api/v1/lead/end/")
    assert r.status_code == 409
    assert r.data["code"] == "lead_not_active"


def test_operator_endpoints_refuse_non_staff(btc):
    lead = lead_make()
    user = user_with_main_balance("0")
    client = client_for(user)
    r = client.post(
        "/api/v1/operator/lead-traders/",
        {"email": user.email, "nickname": "Me", "profit_share_ratio": "0.3"},
    )
    assert r.status_code == 403
    assert r.data["detail"] == "Only operators (staff) can do this."
    r = client.post(f"/api/v1/operator/lead-traders/{lead.pk}/end/")
    assert r.status_code == 403
    assert LeadTrader.objects.get(pk=lead.pk).status == "active"
    assert not LeadTrader.objects.filter(user=user).exists()
