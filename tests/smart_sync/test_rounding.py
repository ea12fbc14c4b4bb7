"""smart_sync's local rounding helpers must agree with apps/core/money.py, the project's rule."""

from decimal import Decimal as D

import pytest

from apps.core import money
from apps.smart_sync.rounding import money_down, money_floor, to_lot

pytestmark = []

AMOUNTS = [
    "0",
    "-0",
    "0.000000001",
    "-0.000000001",
    "0.00000001",
    "0.123456789",
    "-0.123456789",
    "0.104",
    "8.0000000099",
    "-8.0000000099",
    "99.49999999999",
    "166.6666666666666666666666667",
    "-166.6666666666666666666666667",
    "123456789.987654321",
    "1E-30",
    "-1E-30",
    "5E+3",
]
LOTS = ["0.01", "0.00000001", "1", "0.5", "0.001", "1E-8"]
QUANTITIES = ["0", "-1", "0.006", "0.995", "1", "1.000", "0.0099999", "123.456789", "7", "2E+2"]


@pytest.mark.parametrize("value", AMOUNTS)
def test_money_down_matches_core_usdt_down(value):
    # given an amount, when rounded by both helpers, then value and exponent agree
    ours, core = money_down(D(value)), money.usdt_down(D(value))
    assert ours == core and str(ours) == str(core)


@pytest.mark.parametrize("value", AMOUNTS)
def test_money_floor_matches_core_usdt_floor(value):
    ours, core = money_floor(D(value)), money.usdt_floor(D(value))
    assert ours == core and str(ours) == str(core)


@pytest.mark.parametrize("lot", LOTS)
@pytest.mark.parametrize("quantity", QUANTITIES)
def test_to_lot_matches_core_to_lot(quantity, lot):
    ours, core = to_lot(D(quantity), D(lot)), money.to_lot(D(quantity), D(lot))
    assert ours == core and str(ours) == str(core)


def test_to_lot_refuses_non_positive_lot():
    with pytest.raises(ValueError):
        to_lot(D("1"), D("0"))


def test_money_floor_never_credits_more_than_exact():
    assert money_floor(D("-0.000000001")) == D("-0.00000001")
    assert money_down(D("-0.000000001")) == D("0")
