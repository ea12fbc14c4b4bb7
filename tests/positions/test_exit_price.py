"""A position closed in parts shows the average close price (display only)."""

from decimal import Decimal

from apps.positions.models import Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.market import instrument
from tests.factories.trading import lead_make, set_price


def test_a_second_partial_close_at_another_price_averages_the_exit(db):
    # given a lead long 10 contracts (5x, 1,000 margin at 50,000) closed half at 50,100
    instrument("BTC-USDT-SWAP")
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", nickname="Halves")
    p = lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    set_price("BTC-USDT-SWAP", "50100")
    lead_position_close(lead=lead, position=p.pk, fraction="0.5")
    # when the rest closes at 50,731.17 (the average is not a whole number of cents)
    set_price("BTC-USDT-SWAP", "50731.17")
    lead_position_close(lead=lead, position=p.pk, fraction="1")
    # then it closed (it used to raise on the Fraction) at the mean of the two prices:
    # (5 x 50,100 + 5 x 50,731.17) / 10 = 50,415.585
    p = Position.objects.get(pk=p.pk)
    assert p.status == Position.Status.CLOSED
    assert p.exit_price == Decimal("50415.585")
