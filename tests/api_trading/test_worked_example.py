"""SPEC §5.2 worked example end to end through the REST API only: register, deposit, price,
approve, transfer, copy, lead open, then the follower reads the mirrored position."""

import pytest
from rest_framework.test import APIClient

from tests.api_trading.conftest import client_for
from tests.factories.accounts import StaffFactory

pytestmark = pytest.mark.django_db


def _register(email: str) -> APIClient:
    anon = APIClient()
    assert (
        anon.post(
            "/api/v1/auth/register/", {"email": email, "password": "S3cure-pass-1"}
        ).status_code
        == 201
    )
    token = anon.post("/api/v1/auth/token/", {"email": email, "password": "S3cure-pass-1"})
    assert token.status_code == 200, token.data
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.data['token']}")
    return client


def test_worked_example_through_the_api(django_capture_on_commit_callbacks):
    # given an operator, a lead and a follower who registered themselves
    operator = client_for(StaffFactory())
    lead = _register("lead@example.com")
    follower = _register("follower@example.com")

    # the operator credits deposits, sets BTC at 50,000 and approves the lead
    for email, amount in (("lead@example.com", "10000"), ("follower@example.com", "1000")):
        r = operator.post("/api/v1/operator/deposits/", {"email": email, "amount_usdt": amount})
        assert r.status_code == 201, r.data
    r = operator.post("/api/v1/operator/prices/", {"instrument": "BTC-USDT-SWAP", "price": "50000"})
    assert r.status_code == 200, r.data
    r = operator.post(
        "/api/v1/operator/lead-traders/",
        {"email": "lead@example.com", "nickname": "Satoshi", "profit_share_ratio": "0.10"},
    )
    assert r.status_code == 201, r.data
    trader_id = r.data["id"]

    # the lead moves 10,000 into the lead futures account
    r = lead.post(
        "/api/v1/lead/transfer/", {"market": "futures", "direction": "in", "amount_usdt": "10000"}
    )
    assert r.status_code == 200, r.data
    assert r.data["equity_usdt"] == "10000.00000000"

    # the follower copies with 1,000
    r = follower.post("/api/v1/copies/", {"trader": trader_id, "total_investment_usdt": "1000"})
    assert r.status_code == 201, r.data
    copy_id = r.data["id"]
    assert r.data["equity_usdt"] == "1000.00000000"

    # when the lead opens 1,000 margin, 5x long cross
    with django_capture_on_commit_callbacks(execute=True):
        r = lead.post(
            "/api/v1/lead/positions/",
            {
                "instrument": "BTC-USDT-SWAP",
                "side": "long",
                "margin_mode": "cross",
                "leverage": 5,
                "margin_usdt": "1000",
            },
        )
    assert r.status_code == 201, r.data
    assert (r.data["size"], r.data["margin_usdt"], r.data["status"]) == (
        "10.00000000",
        "1000.00000000",
        "open",
    )
    lead_position_id = r.data["id"]

    # then the follower holds 1 contract, 100 margin, 5x long cross
    r = follower.get(f"/api/v1/copies/{copy_id}/positions/")
    assert r.status_code == 200
    assert r.data["count"] == 1
    pos = r.data["results"][0]
    assert pos["size"] == "1.00000000"
    assert pos["margin_usdt"] == "100.00000000"
    assert (pos["leverage"], pos["side"], pos["margin_mode"]) == (5, "long", "cross")
    assert pos["lead_position"] == lead_position_id
    assert pos["entry_price"] == pos["lead_entry_price"] == "50000.00000000"
    assert pos["fees_usdt"] == "0.25000000"
    assert pos["explanation"]["ratio"].startswith("0.1")

    # and 899.75 available, equity 999.75
    r = follower.get(f"/api/v1/copies/{copy_id}/")
    assert r.data["available_usdt"] == "899.75000000"
    assert r.data["equity_usdt"] == "999.75000000"
    assert r.data["margin_in_use_usdt"] == "100.00000000"
    assert r.data["pnl_usdt"] == "-0.25000000"

    # the event list says "copied", the trader's public page counts one copier
    r = follower.get(f"/api/v1/copies/{copy_id}/events/")
    assert [e["kind"] for e in r.data["results"]] == ["copied", "started"]
    r = APIClient().get(f"/api/v1/traders/{trader_id}/")
    assert (r.data["copiers"], r.data["aum_usdt"]) == (1, "999.75000000")
