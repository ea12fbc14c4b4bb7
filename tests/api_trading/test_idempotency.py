"""Every money-moving POST accepts an Idempotency-Key (API.md): the same key and body return the
first answer and move nothing again; another body with the same key is a 409 that moves nothing;
a refused request records nothing, so the key can be used once the problem is fixed. And a lead
trade's answer does not depend on the broker: with it down, the trade answers 201 once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from apps.copies.models import Copy
from apps.ledger.models import JournalEntry
from apps.ledger.services import account_main
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_open
from tests.api_trading.conftest import client_for
from tests.factories.accounts import StaffFactory
from tests.factories.trading import copy_make, follower_make, lead_make

pytestmark = pytest.mark.django_db

OPEN = {
    "instrument": "BTC-USDT-SWAP",
    "side": "long",
    "margin_mode": "isolated",
    "leverage": 5,
    "margin_usdt": "1000",
}


@dataclass
class Case:
    client: object
    path: str
    body: dict
    other_body: dict


def _lead_with_position(on_commit):
    lead = lead_make()
    with on_commit(execute=True):
        pos = lead_position_open(
            lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="isolated",
            leverage=5, margin="1000",
        )  # fmt: skip
    return lead, pos


def _copy_with_position(on_commit):
    lead = lead_make()
    copy = copy_make(lead)
    with on_commit(execute=True):
        lead_position_open(
            lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross",
            leverage=5, margin="1000",
        )  # fmt: skip
    pos = Position.objects.get(account_id=copy.account_id)
    return copy, pos


def lead_open(on_commit):
    lead = lead_make()
    return Case(client_for(lead.user), "/api/v1/lead/positions/", OPEN, OPEN | {"leverage": 10})


def lead_close(on_commit):
    lead, pos = _lead_with_position(on_commit)
    return Case(
        client_for(lead.user),
        f"/api/v1/lead/positions/{pos.pk}/close/",
        {"fraction": "0.5"},
        {"fraction": "0.25"},
    )


def lead_leverage(on_commit):
    lead, pos = _lead_with_position(on_commit)
    path = f"/api/v1/lead/positions/{pos.pk}/leverage/"
    return Case(client_for(lead.user), path, {"leverage": 10}, {"leverage": 4})


def lead_margin(on_commit):
    lead, pos = _lead_with_position(on_commit)
    path = f"/api/v1/lead/positions/{pos.pk}/margin/"
    return Case(client_for(lead.user), path, {"amount_usdt": "10"}, {"amount_usdt": "20"})


def lead_transfer(on_commit):
    lead = lead_make()
    body = {"market": "futures", "direction": "out", "amount_usdt": "5"}
    return Case(client_for(lead.user), "/api/v1/lead/transfer/", body, body | {"amount_usdt": "6"})


def lead_end(on_commit):
    lead = lead_make()
    copy_make(lead)
    return Case(client_for(lead.user), "/api/v1/lead/end/", {}, {"x": 1})


def copy_start(on_commit):
    lead = lead_make()
    user = follower_make("1000")
    body = {"trader": lead.pk, "total_investment_usdt": "200"}
    return Case(client_for(user), "/api/v1/copies/", body, body | {"total_investment_usdt": "300"})


def copy_investment(on_commit):
    copy = copy_make(lead_make(), balance="2000")
    path = f"/api/v1/copies/{copy.pk}/investment/"
    return Case(
        client_for(copy.follower),
        path,
        {"total_investment_usdt": "1500"},
        {"total_investment_usdt": "1600"},
    )


def copy_stop(on_commit):
    copy, _ = _copy_with_position(on_commit)
    return Case(client_for(copy.follower), f"/api/v1/copies/{copy.pk}/stop/", {}, {"x": 1})


def copy_manual_close(on_commit):
    copy, pos = _copy_with_position(on_commit)
    path = f"/api/v1/copies/{copy.pk}/positions/{pos.pk}/close/"
    return Case(client_for(copy.follower), path, {}, {"x": 1})


def operator_deposit(on_commit):
    user = follower_make("0")
    body = {"email": user.email, "amount_usdt": "100"}
    path = "/api/v1/operator/deposits/"
    return Case(client_for(StaffFactory()), path, body, body | {"amount_usdt": "101"})


def operator_withdrawal(on_commit):
    user = follower_make("500")
    body = {"email": user.email, "amount_usdt": "100"}
    path = "/api/v1/operator/withdrawals/"
    return Case(client_for(StaffFactory()), path, body, body | {"amount_usdt": "101"})


def operator_lead_end(on_commit):
    lead = lead_make()
    copy_make(lead)
    path = f"/api/v1/operator/lead-traders/{lead.pk}/end/"
    return Case(client_for(StaffFactory()), path, {}, {"x": 1})


CASES: dict[str, Callable] = {
    f.__name__: f
    for f in (
        lead_open, lead_close, lead_leverage, lead_margin, lead_transfer, lead_end, copy_start,
        copy_investment, copy_stop, copy_manual_close, operator_deposit, operator_withdrawal,
        operator_lead_end,
    )
}  # fmt: skip


def _state() -> tuple:
    """What a repeated request must not change: journal entries, positions, copies, events."""
    return (
        JournalEntry.objects.count(),
        Position.objects.count(),
        Copy.objects.count(),
        LeadEvent.objects.count(),
    )


@pytest.mark.parametrize("name", CASES)
def test_same_key_and_body_returns_the_first_answer_and_moves_nothing_again(
    name, btc, django_capture_on_commit_callbacks
):
    # given a money-moving request made once with a key
    case = CASES[name](django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        first = case.client.post(case.path, case.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert 200 <= first.status_code < 300, first.data
    after_first = _state()

    # when the same key and body come again (a retry after a lost answer)
    with django_capture_on_commit_callbacks(execute=True):
        again = case.client.post(case.path, case.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    # then the first answer comes back, marked as a replay, and nothing moved again
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again["Idempotency-Replayed"] == "true"
    assert _state() == after_first

    # and the same key with another body is a 409 that changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        other = case.client.post(
            case.path, case.other_body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    assert other.status_code == 409, other.data
    assert other.data["code"] == "idempotency_key_reused"
    assert _state() == after_first


def test_a_refused_request_records_nothing_and_the_key_works_once_fixed(btc):
    # given a follower short of money
    lead = lead_make()
    user = follower_make("150")
    client = client_for(user)
    body = {"trader": lead.pk, "total_investment_usdt": "200"}

    # when the copy start is refused
    refused = client.post("/api/v1/copies/", body, format="json", HTTP_IDEMPOTENCY_KEY="start-1")
    assert refused.status_code == 400 and refused.data["code"] == "insufficient_funds"
    assert not Copy.objects.filter(follower=user).exists()

    # then after a deposit the same key starts the copy (the refusal was not recorded)
    from apps.ledger.services import deposit_credit

    deposit_credit(user=user, amount=Decimal("100"), key="fix")
    ok = client.post("/api/v1/copies/", body, format="json", HTTP_IDEMPOTENCY_KEY="start-1")
    assert ok.status_code == 201, ok.data
    assert Copy.objects.filter(follower=user).count() == 1


def test_keys_are_per_user(btc):
    # two followers may use the same key for their own requests
    lead = lead_make()
    a, b = follower_make("500"), follower_make("500")
    body = {"trader": lead.pk, "total_investment_usdt": "200"}
    for user in (a, b):
        r = client_for(user).post("/api/v1/copies/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert r.status_code == 201, r.data
    assert Copy.objects.filter(lead=lead).count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_a_malformed_key_is_a_400_naming_the_header(btc, key):
    lead = lead_make()
    client = client_for(lead.user)
    r = client.post("/api/v1/lead/positions/", OPEN, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert r.status_code == 400
    assert "Idempotency-Key" in r.data["fields"]
    assert not Position.objects.exists()


# --- the broker down ------------------------------------------------------------------------


@contextlib.contextmanager
def broker_down():
    """Publish to a broker that is not there (nothing listens on port 9), as a real client would
    with the broker stopped: not eager, connection refused."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url, app._pool)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    app._pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.task_always_eager, app.conf.broker_url, app._pool = saved


def test_lead_open_with_the_broker_down_answers_201_once(btc, django_capture_on_commit_callbacks):
    # given a lead trader with a copier, and the broker down
    lead = lead_make()
    copy = copy_make(lead)
    client = client_for(lead.user)
    with broker_down():
        # when the lead opens, and retries the same request (the client saw nothing wrong, or
        # timed out and retries with its key)
        with django_capture_on_commit_callbacks(execute=True):
            first = client.post(
                "/api/v1/lead/positions/", OPEN, format="json", HTTP_IDEMPOTENCY_KEY="o-1"
            )
        with django_capture_on_commit_callbacks(execute=True):
            again = client.post(
                "/api/v1/lead/positions/", OPEN, format="json", HTTP_IDEMPOTENCY_KEY="o-1"
            )
        # and a request without a key also answers (not 500)
        with django_capture_on_commit_callbacks(execute=True):
            plain = client.post("/api/v1/lead/positions/", OPEN | {"margin_usdt": "500"})

    # then the trade answered 201 and one position was opened for the keyed request
    assert first.status_code == 201, first.data
    assert again.status_code == 201 and again.json() == first.json()
    assert plain.status_code == 201, plain.data
    lead_positions = Position.objects.filter(account_id=lead.futures_account_id)
    assert lead_positions.count() == 2
    # and nothing was mirrored yet: the events wait in the outbox
    assert LeadEvent.objects.filter(status="pending").count() == 2
    assert not Position.objects.filter(account_id=copy.account_id).exists()

    # when the broker is back, the sweeper mirrors what was left
    from apps.copies.tasks import lead_events_sweep

    with django_capture_on_commit_callbacks(execute=True):
        LeadEvent.objects.update(created_at="2000-01-01T00:00:00Z")
        lead_events_sweep.apply()
    assert Position.objects.filter(account_id=copy.account_id).count() == 2
    assert not LeadEvent.objects.filter(status="pending").exists()
    assert account_main(user=copy.follower).balance == Decimal("0")
