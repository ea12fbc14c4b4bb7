"""smart_sync's local rounding helpers must agree with apps/core/money.py, the project's rule."""

from decimal import Decimal as D
from fractions import Fraction

import pytest

from apps.core import money
from apps.smart_sync.rounding import dec_text, money_down, to_lot

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


FRACTIONS = [(1, 3), (-1, 3), (2, 3), (-2, 3), (1, 10**9), (-1, 10**9), (10**12 + 1, 10**4)]


@pytest.mark.parametrize(("n", "d"), FRACTIONS)
def test_money_down_of_an_exact_fraction_matches_core(n, d):
    ours, core = money_down(Fraction(n, d)), money.usdt_down(Fraction(n, d))
    assert ours == core and str(ours) == str(core)


@pytest.mark.parametrize(
    ("n", "d", "expected"),
    [
        (1, 3, "0.33333333"),
        (-1, 3, "-0.33333333"),  # a loss of 1/3 books 0.33333333, not 0.33333334
        (-1, 10**12, "0.00000000"),  # an exact loss of 1e-12 books nothing (was 1e-8)
        (123456789, 10**9, "0.12345678"),
        (-123456789, 10**9, "-0.12345678"),
    ],
)
def test_money_down_rounds_toward_zero_both_ways(n, d, expected):
    assert money_down(Fraction(n, d)) == D(expected)


@pytest.mark.parametrize("lot", LOTS)
@pytest.mark.parametrize(("n", "d"), [(638, 100), (19, 3), (1, 3), (2, 300), (10**20 + 1, 10**18)])
def test_to_lot_of_an_exact_fraction_matches_core(n, d, lot):
    ours, core = to_lot(Fraction(n, d), D(lot)), money.to_lot(Fraction(n, d), D(lot))
    assert ours == core and str(ours) == str(core)


def test_to_lot_of_an_exact_quotient_keeps_the_boundary_lot():
    # 523.50452 x 10,000 x 3 / (10,000 x 2461.62 x 0.1) is exactly 6.38 contracts
    exact = Fraction(D("523.50452")) * 10000 * 3 / (Fraction(10000) * Fraction(D("2461.62")) / 10)
    assert to_lot(exact, D("0.01")) == D("6.38")
    # the old chain of rounded Decimal quotients landed under the boundary
    chained = D("523.50452") / D("10000") * D("10000") * (D(3) / (D("2461.62") * D("0.1")))
    assert to_lot(chained, D("0.01")) == D("6.37")


@pytest.mark.parametrize(
    ("value", "text"),
    [(Fraction(1, 10), "0.1"), (Fraction(638, 100), "6.38"), (Fraction(1, 3), "0.333333333333333333…"),
     (Fraction(-2, 3), "-0.666666666666666666…"), (Fraction(5), "5"), (D("0E-8"), "0.00000000")],
)  # fmt: skip
def test_dec_text_is_exact_or_marked_cut(value, text):
    assert dec_text(value) == text


@pytest.mark.parametrize("lot", LOTS)
@pytest.mark.parametrize("quantity", QUANTITIES)
def test_to_lot_matches_core_to_lot(quantity, lot):
    ours, core = to_lot(D(quantity), D(lot)), money.to_lot(D(quantity), D(lot))
    assert ours == core and str(ours) == str(core)


def test_to_lot_refuses_non_positive_lot():
    with pytest.raises(ValueError):
        to_lot(D("1"), D("0"))


def test_money_down_never_charges_more_than_exact():
    assert money_down(D("-0.000000001")) == D("0")
