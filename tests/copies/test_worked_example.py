"""SPEC §5.2 worked example through the services, with the mirror task run on commit."""

from decimal import Decimal

import pytest

from apps.copies.models import CopyEvent
from apps.copies.selectors import copy_figures
from apps.positions.models import Position
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def test_lead_open_mirrors_the_worked_example(django_capture_on_commit_callbacks):
    # given a lead with 10,000 equity, BTC at 50,000 and a follower who copied 1,000
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")

    # when the lead opens 1,000 margin 5x long cross
    with django_capture_on_commit_callbacks(execute=True):
        lead_pos = lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )

    # then the follower holds 1 contract, 100 margin, 5x long cross, and 899.75 available
    assert lead_pos.size == Decimal("10")
    pos = Position.objects.get(account=copy.account)
    assert (pos.size, pos.margin, pos.leverage, pos.side, pos.margin_mode) == (
        Decimal("1"),
        Decimal("100"),
        5,
        "long",
        "cross",
    )
    assert pos.lead_position_id == lead_pos.pk
    assert pos.entry_price == pos.lead_entry_price == Decimal("50000")
    assert pos.fees == Decimal("0.25")
    figures = copy_figures(copy)
    assert figures.available == Decimal("899.75")
    assert figures.equity == Decimal("999.75")
    ev = CopyEvent.objects.get(copy=copy, kind="copied")
    assert ev.position_id == pos.pk
    assert pos.explanation["ratio"].startswith("0.1")
