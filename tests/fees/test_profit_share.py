"""SPEC §8 through the real settlement service: high-water mark, rounding down, the ledger."""

from decimal import Decimal as D

import pytest
from django.db import transaction

from apps.fees.models import ProfitShareSettlement
from apps.fees.services import profit_share_settle_many
from apps.ledger.models import Account
from tests.factories.trading import copy_make, lead_make

pytestmark = pytest.mark.django_db


def settle(copy, realized):
    with transaction.atomic():
        return profit_share_settle_many(
            copies=[copy], realized={copy.pk: D(realized)}, trigger="weekly"
        )[copy.pk]


def test_weeks_of_200_minus_150_100_150_pay_20_0_0_10():
    # given a 10% lead and a copy (R is cumulative: 200, 50, 150, 300)
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    lead_main = Account.objects.get(owner=lead.user, kind="main")
    before = lead_main.balance
    # when four weekly settlements run
    paid = [settle(copy, r) for r in ("200", "50", "150", "300")]
    # then
    assert paid == [D("20"), D("0"), D("0"), D("10")]
    assert copy.high_water_mark == D("300") and copy.profit_share_paid == D("30")
    lead_main.refresh_from_db()
    assert lead_main.balance - before == D("30")
    assert Account.objects.get(pk=copy.account_id).balance == D("970")
    assert ProfitShareSettlement.objects.filter(copy=copy).count() == 4
    # and the total paid never exceeds ratio x the highest R reached (SPEC §11.6)
    assert copy.profit_share_paid <= D("0.10") * D("300")


def test_share_rounds_down_to_8_places():
    lead = lead_make(ratio="0.15")
    copy = copy_make(lead, investment="1000")
    assert settle(copy, "0.00000013") == D("0.00000001")  # 0.0000000195 rounded down
