from decimal import ROUND_HALF_UP, Decimal

import pytest

from apps.core.money import usdt_down
from apps.market import math as pm

D = Decimal
BTC_CV = D("0.01")


def test_notional_and_initial_margin_of_the_spec_worked_example():
    # SPEC §5.2: 1 contract BTC at 50,000, 5x -> notional 500, margin 100
    assert pm.notional(D("1"), BTC_CV, D("50000")) == D("500")
    assert pm.initial_margin(D("1"), BTC_CV, D("50000"), 5) == D("100")


def test_initial_margin_refuses_non_positive_leverage():
    with pytest.raises(ValueError):
        pm.initial_margin(D("1"), BTC_CV, D("50000"), 0)


@pytest.mark.parametrize(
    ("side", "mark", "expected"),
    [
        ("long", D("52000"), D("20")),
        ("long", D("35000"), D("-150")),
        ("short", D("52000"), D("-20")),
        ("short", D("48000"), D("20")),
    ],
)
def test_upnl_sign_follows_side(side, mark, expected):
    assert pm.upnl(side, D("1"), BTC_CV, D("50000"), mark) == expected


def test_realized_pnl_of_the_spec_partial_close_b():
    # SPEC §5.3 B: close 0.4 of 1 contract BTC long from 50,000 at 52,000
    closed = D("0.4")
    pnl = pm.realized_pnl("long", closed, BTC_CV, D("50000"), D("52000"))
    fee = usdt_down(pm.notional(closed, BTC_CV, D("52000")) * D("0.0005"))
    assert pnl == D("8.000")
    assert fee == D("0.104")


def test_unknown_side_is_a_programming_error():
    with pytest.raises(ValueError):
        pm.upnl("buy", D("1"), BTC_CV, D("1"), D("2"))


def test_liquidation_price_isolated_spec_reference():
    # SPEC §4: 5x isolated long, 1 contract BTC at 50,000, margin 100 -> 40,180.8137
    price = pm.liquidation_price_isolated(
        "long", D("1"), BTC_CV, D("50000"), D("100"), D("0.004"), D("0.0005")
    )
    assert price.quantize(D("0.0001"), rounding=ROUND_HALF_UP) == D("40180.8137")
    # and at that mark the margin level is exactly 100%
    level = pm.margin_level(
        D("100"),
        pm.upnl("long", D("1"), BTC_CV, D("50000"), price),
        D("1"),
        BTC_CV,
        price,
        D("0.004"),
        D("0.0005"),
    )
    assert abs(level - 1) < D("1e-20")


def test_liquidation_price_isolated_short_is_above_entry_and_levels_to_one():
    price = pm.liquidation_price_isolated(
        "short", D("2"), BTC_CV, D("50000"), D("100"), D("0.004"), D("0.0005")
    )
    assert price > D("50000")
    upnl = pm.upnl("short", D("2"), BTC_CV, D("50000"), price)
    level = pm.margin_level(D("100"), upnl, D("2"), BTC_CV, price, D("0.004"), D("0.0005"))
    assert abs(level - 1) < D("1e-20")


def test_fully_margined_long_never_liquidates():
    assert pm.liquidation_price_isolated(
        "long", D("1"), BTC_CV, D("50000"), D("500"), D("0.004"), D("0.0005")
    ) == D("0")


def test_margin_level_definition_and_empty_position():
    # (100 + 0) / (500 x 0.0045) = 44.44...
    level = pm.margin_level(D("100"), D("0"), D("1"), BTC_CV, D("50000"), D("0.004"), D("0.0005"))
    assert level == D("100") / D("2.25")
    assert pm.margin_level(D("1"), D("0"), D("0"), BTC_CV, D("1"), D("0.004"), D("0.0005")) > 10**9
    assert pm.maintenance_requirement(D("1"), BTC_CV, D("50000"), D("0.004"), D("0.0005")) == D(
        "2.25"
    )


def test_math_refuses_floats():
    with pytest.raises(TypeError):
        pm.notional(D("1"), BTC_CV, 50000.0)
