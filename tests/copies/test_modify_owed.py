"""Modify (decrease) never takes the cash a copy owes its lead as profit share: the owed amount
is paid first from the copy's free cash at the next settlement (ADR 0008), so a follower could
otherwise withdraw it and leave the lead with a debt written off at the stop.

Hand calculation (SPEC 5.2 worked example): a copy of 1,000 mirrors the lead's 1,000 margin at
5x on 10,000 equity: 1 contract, margin 100, fee 0.25; the copy holds 999.75, 899.75 of it free.
With 50 owed, 849.75 may leave: the Total Investment may go down to 1,000 - 849.75 = 150.25."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.copies.models import Copy
from apps.copies.services import copy_investment_modify
from apps.core.exceptions import InsufficientFunds
from apps.ledger.models import Account
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def owing(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    mirror(
        lead_position_open,
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    # a settlement the copy's cash could not pay in full left 50 owed (tests/fees covers how)
    Copy.objects.filter(pk=copy.pk).update(profit_share_owed=D("50"))
    copy.refresh_from_db()
    return copy


def test_a_decrease_leaves_what_the_copy_owes(owing):
    with pytest.raises(InsufficientFunds) as refused:
        copy_investment_modify(copy=owing, user=owing.follower, total_investment="100")
    assert str(refused.value) == (
        "Only 849.75 USDT of this copy is free (the rest is margin in use or the 50.00 USDT of "
        "profit share it owes the lead); you can decrease by at most that much."
    )
    assert refused.value.fields == {"total_investment_usdt": "At least 150.25."}
    assert Account.objects.get(pk=owing.account_id).balance == D("999.75")  # nothing moved

    copy_investment_modify(copy=owing, user=owing.follower, total_investment="150.25")
    # 999.75 - 849.75 = 150.00 stays: the margin 100 and the 50 owed
    assert Account.objects.get(pk=owing.account_id).balance == D("150.00")


def test_without_a_debt_all_free_cash_may_leave(btc, mirror, owing):
    Copy.objects.filter(pk=owing.pk).update(profit_share_owed=D("0"))
    owing.refresh_from_db()
    copy_investment_modify(copy=owing, user=owing.follower, total_investment="100.25")
    assert Account.objects.get(pk=owing.account_id).balance == D("100.00")  # the margin
