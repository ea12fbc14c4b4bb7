"""Double submits of money services on PostgreSQL, from real threads and connections."""

from decimal import Decimal as D

import pytest

from apps.copies.models import Copy
from apps.copies.services import copy_investment_modify, copy_start, copy_stop
from apps.core.exceptions import ApplicationError
from apps.ledger.models import Account
from tests.concurrency.test_mirroring_races import run_together
from tests.factories.trading import follower_make, lead_make, set_price

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead(postgres):
    set_price("BTC-USDT-SWAP", "50000")
    return lead_make()


def test_double_submitted_copy_start_creates_one_copy(lead):
    follower = follower_make("5000")
    results, errors = run_together(
        *[lambda: copy_start(follower=follower, lead=lead, total_investment="1000")] * 4
    )
    assert len([r for r in results if r is not None]) == 1
    assert len(errors) == 3 and all(isinstance(e, ApplicationError) for e in errors)
    assert Copy.objects.filter(follower=follower).count() == 1
    assert Account.objects.get(owner=follower, kind="main").balance == D("4000")


def test_parallel_starts_never_spend_more_than_the_main_balance(lead):
    # given a follower with 1,500 and three leads: only one 1,000 copy can be funded
    follower = follower_make("1500")
    leads = [lead, lead_make(), lead_make()]
    results, errors = run_together(
        *[
            lambda ld=ld: copy_start(follower=follower, lead=ld, total_investment="1000")
            for ld in leads
        ]
    )
    assert Copy.objects.filter(follower=follower).count() == 1
    assert len(errors) == 2
    assert Account.objects.get(owner=follower, kind="main").balance == D("500")


def test_double_submitted_increase_moves_money_once(lead):
    follower = follower_make("3000")
    copy = copy_start(follower=follower, lead=lead, total_investment="1000")
    results, errors = run_together(
        *[lambda: copy_investment_modify(copy=copy, user=follower, total_investment="1500")] * 4
    )
    assert not errors
    copy.refresh_from_db()
    assert copy.total_investment == D("1500")
    assert Account.objects.get(pk=copy.account_id).balance == D("1500")
    assert Account.objects.get(owner=follower, kind="main").balance == D("1500")


def test_stop_racing_a_decrease_leaves_no_money_behind(lead):
    follower = follower_make("1000")
    copy = copy_start(follower=follower, lead=lead, total_investment="1000")
    results, errors = run_together(
        lambda: copy_stop(copy=copy, user=follower),
        lambda: copy_investment_modify(copy=copy, user=follower, total_investment="400"),
    )
    copy.refresh_from_db()
    assert copy.status == "stopped"
    assert Account.objects.get(pk=copy.account_id).balance == 0
    assert Account.objects.get(owner=follower, kind="main").balance == D("1000")
    assert all(isinstance(e, ApplicationError) for e in errors)


def test_four_requests_with_one_idempotency_key_open_one_position(lead):
    # given a lead trader's API client and one idempotency key, sent four times at once
    from apps.positions.models import Position
    from tests.api_trading.conftest import client_for

    body = {
        "instrument": "BTC-USDT-SWAP",
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "margin_usdt": "1000",
    }

    def post():
        r = client_for(lead.user).post(
            "/api/v1/lead/positions/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        )
        return r.status_code, r.json()

    results, errors = run_together(*[post] * 4)
    # then every request gets the same 201 answer and one position exists
    assert not errors
    assert {status for status, _ in results} == {201}
    assert len({str(body) for _, body in results}) == 1
    assert Position.objects.filter(account_id=lead.futures_account_id).count() == 1
