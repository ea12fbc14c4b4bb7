from decimal import Decimal

import pytest

from apps.core.exceptions import ApplicationError
from apps.market.models import PriceTick
from apps.market.services import Execution, taker_fee, venue_execute, venue_price
from tests.factories.market import instrument, priced

D = Decimal
pytestmark = pytest.mark.django_db


def test_execute_at_current_price_without_slippage_spec_example():
    # SPEC §5.2: 1 contract BTC at 50,000 -> notional 500, fee 0.25
    btc = priced("BTC-USDT-SWAP", "50000")
    fill = venue_execute(instrument=btc, side="buy", quantity=D("1"))
    assert fill == Execution(
        instrument_id=btc.pk,
        side="buy",
        quantity=D("1"),
        price=D("50000"),
        notional=D("500"),
        fee=D("0.25"),
    )


def test_execute_writes_nothing():
    btc = priced("BTC-USDT-SWAP", "50000")
    ticks = PriceTick.objects.count()
    venue_execute(instrument=btc, side="sell", quantity=D("0.4"))
    assert PriceTick.objects.count() == ticks


def test_spot_buy_spec_example():
    # SPEC §6: 0.02 BTC at 50,000 = 1,000 USDT, fee 1
    priced("BTC-USDT", "50000")
    fill = venue_execute(instrument="BTC-USDT", side="buy", quantity=D("0.02"))
    assert (fill.notional, fill.fee) == (D("1000"), D("1"))


@pytest.mark.parametrize(
    ("side", "expected"), [("buy", D("50050.00000000")), ("sell", D("49950.00000000"))]
)
def test_slippage_moves_the_fill_against_the_taker(settings, side, expected):
    settings.VENUE_SLIPPAGE = D("0.001")
    btc = priced("BTC-USDT-SWAP", "50000")
    assert venue_price(instrument=btc, side=side) == expected
    fill = venue_execute(instrument=btc, side=side, quantity=D("1"))
    assert fill.price == expected
    assert fill.notional == D("0.01") * expected


def test_slippage_result_is_cut_to_8_places(settings):
    settings.VENUE_SLIPPAGE = D("0.00033")
    priced("SOL-USDT", "123.45678901")
    # 123.45678901 x 1.00033 = 123.4975297503733 -> 123.49752975 (toward zero)
    assert venue_price(instrument="SOL-USDT", side="buy") == D("123.49752975")


def test_reference_price_replaces_the_current_price(settings):
    settings.VENUE_SLIPPAGE = D("0.01")
    btc = priced("BTC-USDT-SWAP", "50000")
    assert venue_price(instrument=btc, side="sell", reference=D("40000")) == D("39600")
    fill = venue_execute(instrument=btc, side="sell", quantity=D("1"), price=D("40000"))
    assert fill.price == D("39600")


def test_fee_rounds_down():
    btc = priced("BTC-USDT-SWAP", "50000.33")
    # 0.01 x 0.01 x 50000.33 = 5.000033 -> fee 0.0025000165 -> 0.00250001
    fill = venue_execute(instrument=btc, side="buy", quantity=D("0.01"))
    assert fill.notional == D("5.000033")
    assert fill.fee == D("0.00250001")
    assert taker_fee(instrument="BTC-USDT-SWAP", notional=D("5.000033")) == D("0.00250001")


@pytest.mark.parametrize("quantity", [D("0.015"), D("1.001"), D("0"), D("-1"), "x"])
def test_off_lot_or_non_positive_quantity_is_refused(quantity):
    priced("BTC-USDT-SWAP", "50000")
    with pytest.raises(ApplicationError) as exc:
        venue_execute(instrument="BTC-USDT-SWAP", side="buy", quantity=quantity)
    assert "quantity" in exc.value.fields


def test_spot_quantity_on_the_satoshi_grid_is_accepted():
    priced("BTC-USDT", "50000")
    fill = venue_execute(instrument="BTC-USDT", side="sell", quantity=D("0.00000001"))
    assert fill.notional == D("0.0005") and fill.fee == D("0.0000005")


def test_no_price_is_refused():
    instrument("ETH-USDT-SWAP")
    with pytest.raises(ApplicationError) as exc:
        venue_execute(instrument="ETH-USDT-SWAP", side="buy", quantity=D("1"))
    assert exc.value.message == "No price yet for ETH-USDT-SWAP."


def test_unknown_side_is_refused():
    priced("BTC-USDT-SWAP", "50000")
    with pytest.raises(ApplicationError) as exc:
        venue_execute(instrument="BTC-USDT-SWAP", side="long", quantity=D("1"))
    assert exc.value.fields == {"side": "Must be buy or sell."}
