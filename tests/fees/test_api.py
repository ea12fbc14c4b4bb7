"""The fees endpoints through the API: operators settle profit share and funding now (staff only,
idempotent with a key), a lead trader reads their earnings (lead traders only)."""

from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from apps.fees.models import ProfitShareSettlement
from apps.fees.services import funding_slot
from apps.ledger.models import Account
from tests.api_trading.conftest import client_for
from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.trading import copy_make, lead_make
from tests.fees.conftest import backdate_positions, book_realized, open_direct

pytestmark = pytest.mark.django_db

PROFIT = "/api/v1/operator/profit-share/settle/"
FUNDING = "/api/v1/operator/funding/settle/"
EARNINGS = "/api/v1/lead/earnings/"


@pytest.fixture
def staff():
    return client_for(StaffFactory())


@pytest.mark.parametrize("url", [PROFIT, FUNDING])
def test_operator_settlements_are_for_staff_only(url, btc):
    anonymous = APIClient().post(url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    member = client_for(UserFactory()).post(url)
    assert member.status_code == 403
    assert member.json()["detail"] == "Only operators (staff) can do this."


def test_operator_profit_share_settle_pays_once_per_key(staff, btc):
    # given two active copies; one realized +100 at 10%
    lead = lead_make(ratio="0.10")
    rich, flat = copy_make(lead), copy_make(lead)
    book_realized(rich, "100")
    # when an operator settles, and the request is retried with the same key
    first = staff.post(PROFIT, HTTP_IDEMPOTENCY_KEY="settle-1")
    again = staff.post(PROFIT, HTTP_IDEMPOTENCY_KEY="settle-1")
    # then both answers are the first one, and 10 was paid once
    assert first.status_code == 200 and first.json() == {"settled": 2}
    assert again.json() == {"settled": 2} and again["Idempotency-Replayed"] == "true"
    assert [s.share for s in ProfitShareSettlement.objects.filter(copy=rich)] == [D("10")]
    assert ProfitShareSettlement.objects.filter(copy=flat, trigger="operator").count() == 1
    assert Account.objects.get(pk=rich.account_id).balance == D("1090")


def test_operator_funding_settle_settles_the_current_slot_once(staff, btc):
    lead = lead_make()
    copy = copy_make(lead)
    open_direct(copy.account_id, side="long")  # pays 1 x 0.01 x 50,000 x 0.0001 = 0.05
    backdate_positions(funding_slot())
    first = staff.post(FUNDING)
    assert first.status_code == 200
    body = first.json()
    (btc_round,) = body["settled"]
    assert btc_round == {
        "instrument": "BTC-USDT-SWAP",
        "slot": btc_round["slot"],
        "rate": "0.00010000",
        "mark_usdt": "50000.00000000",
        "positions": 1,
        "paid_by_users_usdt": "0.05000000",
        "received_by_users_usdt": "0.00000000",
        "shortfall_usdt": "0.00000000",
        "completed_at": btc_round["completed_at"],
    }
    assert btc_round["slot"].startswith(funding_slot().strftime("%Y-%m-%dT%H:00:00"))
    # a second call finds the slot settled: nothing moves again
    second = staff.post(FUNDING).json()
    assert second["settled"] == [] and [r["instrument"] for r in second["already_settled"]] == [
        "BTC-USDT-SWAP"
    ]
    assert Account.objects.get(pk=copy.account_id).balance == D("999.95")


def test_lead_earnings_is_for_lead_traders_only(btc):
    assert APIClient().get(EARNINGS).status_code == 401
    follower = client_for(UserFactory()).get(EARNINGS)
    assert follower.status_code == 403
    assert follower.json()["code"] == "permission_denied"


def test_lead_earnings_total_and_per_copy(btc):
    # given a 10% lead with three copies: one paid 20 (R 200), one owes 10 of 20 (cash short),
    # one stopped after paying 5 (R 50)
    lead = lead_make(ratio="0.10")
    paid, owing, stopped = copy_make(lead), copy_make(lead), copy_make(lead)
    book_realized(paid, "200")
    book_realized(owing, "200")
    book_realized(stopped, "50")
    open_direct(owing.account_id, size="1", margin="1190", leverage=1)  # free cash 10
    client_for(StaffFactory()).post(PROFIT)
    client_for(stopped.follower).post(f"/api/v1/copies/{stopped.pk}/stop/")
    book_realized(paid, "30")  # pending 10% x 30 = 3 on top
    # when the lead reads their earnings, one copy per page
    me = client_for(lead.user)
    page1 = me.get(EARNINGS, {"page_size": 1})
    assert page1.status_code == 200
    body = page1.json()
    # then the total is everything paid (20 + 10 + 5) and owed is the active copy's 10
    assert (body["total_usdt"], body["owed_usdt"], body["count"]) == (
        "35.00000000",
        "10.00000000",
        3,
    )
    assert body["next"] is not None and body["previous"] is None
    (row,) = body["results"]  # newest first: the stopped copy
    assert (row["copy"], row["status"], row["paid_usdt"], row["pending_usdt"]) == (
        stopped.pk,
        "stopped",
        "5.00000000",
        "0.00000000",
    )
    rows = {r["copy"]: r for r in me.get(EARNINGS).json()["results"]}
    assert (rows[owing.pk]["paid_usdt"], rows[owing.pk]["owed_usdt"]) == ("10.00000000", "10.00000000")  # fmt: skip
    assert rows[owing.pk]["pending_usdt"] == "10.00000000"  # owed 10 + 10% x (200 - 200)
    assert rows[paid.pk]["pending_usdt"] == "3.00000000"  # 10% x (230 - 200)
    (s,) = rows[owing.pk]["settlements"]
    assert (s["trigger"], s["due_usdt"], s["share_usdt"], s["owed_after_usdt"]) == (
        "operator",
        "20.00000000",
        "10.00000000",
        "10.00000000",
    )
    assert s["written_off_usdt"] == "0.00000000"
    # and the follower sees the same pending figure on the copy
    detail = client_for(owing.follower).get(f"/api/v1/copies/{owing.pk}/").json()
    assert detail["profit_share_pending_usdt"] == "10.00000000"
    assert detail["profit_share_paid_usdt"] == "10.00000000"
    # a page past the end is a 404 in the error shape
    past = me.get(EARNINGS, {"page": 9})
    assert past.status_code == 404 and set(past.json()) == {"detail", "code", "fields"}


def test_a_follower_reads_their_copys_settlements_and_owed_share(
    django_capture_on_commit_callbacks,
):
    # given a copy that settled profit share once (the §8 first week: +200 realized at 10% -> 20)
    from decimal import Decimal as D

    from apps.copies.models import Copy
    from apps.fees.models import ProfitShareSettlement
    from tests.api_trading.conftest import client_for
    from tests.factories.trading import copy_make, lead_make

    lead = lead_make()
    copy = copy_make(lead)
    ProfitShareSettlement.objects.create(
        copy=copy, trigger="weekly", realized=D("200"), high_water_before=D("0"),
        high_water_after=D("200"), ratio=D("0.1"), share=D("15"), due=D("20"), owed_after=D("5"),
    )  # fmt: skip
    Copy.objects.filter(pk=copy.pk).update(profit_share_owed=D("5"))
    client = client_for(copy.follower)
    # then the copy says what is owed, and its settlements list the settlement
    data = client.get(f"/api/v1/copies/{copy.pk}/").data
    assert data["profit_share_owed_usdt"] == "5.00000000" and data["funding_usdt"] == "0.00000000"
    page = client.get(f"/api/v1/copies/{copy.pk}/settlements/").data
    assert page["count"] == 1
    row = page["results"][0]
    assert (row["due_usdt"], row["share_usdt"], row["owed_after_usdt"]) == (
        "20.00000000", "15.00000000", "5.00000000",
    )  # fmt: skip
    # and another user's copy is not found
    assert client_for(lead.user).get(f"/api/v1/copies/{copy.pk}/settlements/").status_code == 404
