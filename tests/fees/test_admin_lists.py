"""Fees admin lists: profit-share settlements and funding rounds cost a constant number of queries
however many rows; the filters find settlements that left a debt or wrote one off, and rounds
not completed or with a shortfall."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.fees.services import funding_settle, funding_slot, profit_share_settle_active
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import StaffFactory
from tests.factories.trading import copy_make, lead_make
from tests.fees.conftest import backdate_positions, book_realized, open_direct

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_fees_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    assert_constant_queries(
        operator,
        {
            "profit share": "/admin/fees/profitsharesettlement/",
            "weekly profit share": "/admin/fees/profitsharesettlement/?trigger__exact=weekly",
            "funding rounds": "/admin/fees/fundingsettlement/",
            "completed rounds": "/admin/fees/fundingsettlement/?round=complete",
        },
        lambda: world_grow(6, capture=capture),
    )


def _shown(client, url, **params):
    r = client.get(url, params)
    assert r.status_code == 200
    return set(r.context["cl"].result_list)


def test_settlement_filters_find_debts_and_write_offs(operator, btc):
    # given (by hand, ratio 0.10):
    # - a copy that realized 200 and keeps its cash free: due 20.00, paid 20.00 (paid in full)
    # - a copy that realized 200 with 1,190 of its 1,200 cash as margin: due 20, 10 free, so it
    #   pays 10.00 and owes 10.00 (weekly); on stop the 10.00 owed is written off
    lead = lead_make(ratio="0.10")
    paid = copy_make(lead)
    book_realized(paid, "200")
    owing = copy_make(lead)
    book_realized(owing, "200")
    open_direct(owing.account_id, margin="1190", leverage=1)
    profit_share_settle_active(trigger="weekly")
    full = ProfitShareSettlement.objects.get(copy=paid)
    short = ProfitShareSettlement.objects.get(copy=owing)
    assert (full.due, full.share, full.owed_after) == (D("20"), D("20"), D("0"))
    assert (short.due, short.share, short.owed_after) == (D("20"), D("10"), D("10"))
    url = "/admin/fees/profitsharesettlement/"
    assert _shown(operator, url, owed="owed") == {short}
    assert _shown(operator, url, owed="paid") == {full}
    assert _shown(operator, url, owed="written_off") == set()
    assert _shown(operator, url, q=owing.follower.email) == {short}


def test_round_filters_find_incomplete_rounds_and_shortfalls(operator, btc):
    # given a long of 1 contract (0.01 BTC at 50,000 = 500 USDT notional) at the default rate
    # 0.0001: it pays 0.05 USDT, which the copy has, so no shortfall
    copy = copy_make(lead_make())
    open_direct(copy.account_id, margin="100")
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    done = FundingSettlement.objects.get()
    assert (done.paid_by_users, done.shortfall) == (D("0.05"), D("0"))
    assert done.completed_at is not None
    # and a round an earlier run left half done (no chunk committed yet), with a shortfall
    stuck = FundingSettlement.objects.create(
        instrument=done.instrument,
        slot=slot - timezone.timedelta(hours=8),
        rate=D("0.0001"),
        mark=D("50000"),
        shortfall=D("1.5"),
    )
    url = "/admin/fees/fundingsettlement/"
    assert _shown(operator, url, round="incomplete") == {stuck}
    assert _shown(operator, url, round="shortfall") == {stuck}
    assert _shown(operator, url, round="complete") == {done}
    assert _shown(operator, url, q="BTC-USDT") == {done, stuck}


def test_the_write_off_filter_finds_a_stop_that_wrote_a_debt_off(operator, btc):
    # given (tests/fees/test_profit_share.py's case, by hand): a 100 copy realized +200 and
    # holds 0.59 contract at 50,000 with 295 margin: the weekly run is due 20, pays the 5 free
    # and owes 15; BTC falls to 1,000 and the follower stops: the close leaves 5.89705, which
    # is paid, and 15 - 5.89705 = 9.10295 is written off
    from apps.copies.services import copy_stop
    from tests.factories.trading import set_price

    copy = copy_make(lead_make(ratio="0.10"), investment="100")
    book_realized(copy, "200")
    open_direct(copy.account_id, size="0.59", margin="295", leverage=1)
    profit_share_settle_active(trigger="weekly")
    set_price("BTC-USDT-SWAP", "1000")
    copy_stop(copy=copy, user=copy.follower)
    weekly = ProfitShareSettlement.objects.get(copy=copy, trigger="weekly")
    stop = ProfitShareSettlement.objects.get(copy=copy, trigger="stop")
    url = "/admin/fees/profitsharesettlement/"
    assert _shown(operator, url, owed="written_off") == {stop}
    assert _shown(operator, url, owed="owed") == {weekly}
    assert _shown(operator, url, owed="paid") == set()
    page = operator.get(url, {"owed": "written_off"}).content.decode()
    assert '<td class="field-written_off">9.10295000</td>' in page
