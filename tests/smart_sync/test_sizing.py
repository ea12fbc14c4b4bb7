"""Sizing an open (SPEC §5.2) and a spot buy (SPEC §6): every decision of the ordered rules."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from apps.smart_sync import (
    REASON_BELOW_MIN,
    REASON_INSUFFICIENT,
    REASON_SLIPPAGE,
    Policy,
    plan_event,
    size_open,
)

from .builders import BTC, BTC_SPOT, ETH, POLICY, copy_state, event

pytestmark = []


def plan_one(ev, copy, instrument=BTC, policy=POLICY):
    [intent] = plan_event(ev, [copy], instrument, policy)
    json.dumps(intent.explanation)  # the explanation is always JSON-serializable
    return intent


def test_open_worked_example_sizes_one_contract_at_ratio_point_one():
    # given lead equity 10,000 opening 1,000 margin 5x long cross; a copy of 1,000
    ev = event("open", margin=D("1000"), lead_equity_before=D("10000"), leverage=5)
    # when planned at 50,000
    intent = plan_one(ev, copy_state(equity="1000", available="1000"))
    # then 1 contract, margin 100, fee 0.25, and 899.75 left
    assert intent.action == "open"
    assert (intent.size, intent.margin, intent.fee) == (D("1"), D("100"), D("0.25"))
    assert (intent.side, intent.leverage, intent.margin_mode) == ("long", 5, "cross")
    assert intent.price == D("50000")
    assert D("1000") - intent.margin - intent.fee == D("899.75")
    exp = intent.explanation
    assert D(exp["ratio"]) == D("0.1")
    assert D(exp["base"]) == D("1000")
    assert D(exp["target_margin"]) == D("100")
    assert D(exp["rounded_size"]) == D("1")
    assert exp["capped"] is False and exp["bumped"] is False
    assert exp["reason"] == ""


def test_open_bump_example_bumps_to_min_size():
    # given copy equity 100, ratio 0.003, 10x at 50,000 -> 0.006 contracts
    ev = event("open", margin=D("30"), lead_equity_before=D("10000"), leverage=10)
    intent = plan_one(ev, copy_state(equity="100", available="100"))
    # then rounded to 0, bumped to 0.01 with margin 0.5
    assert D(intent.explanation["raw_size"]) == D("0.006")
    assert D(intent.explanation["rounded_size"]) == 0
    assert intent.explanation["bumped"] is True
    assert D(intent.explanation["bumped_to"]) == D("0.01")
    assert (intent.action, intent.size, intent.margin) == ("open", D("0.01"), D("0.5"))
    assert intent.fee == D("0.0025")


# id, event overrides, (equity, available), expected (action, size, margin, fee, reason), flags
OPEN_CASES = [
    (
        "long-slippage-above-threshold-misses",
        {"price_now": D("50250.01")},
        ("1000", "1000"),
        ("miss", D(0), D(0), D(0), REASON_SLIPPAGE),
        {},
    ),
    (
        "long-slippage-at-threshold-opens",
        {"price_now": D("50250")},
        ("1000", "1000"),
        ("open", D("0.99"), D("99.495"), D("0.2487375"), ""),
        {},
    ),
    (
        "long-price-fell-opens",
        {"price_now": D("45000")},
        ("1000", "1000"),
        ("open", D("1.11"), D("99.9"), D("0.24975"), ""),
        {},
    ),
    (
        "short-slippage-below-threshold-misses",
        {"side": "short", "price_now": D("49749.99")},
        ("1000", "1000"),
        ("miss", D(0), D(0), D(0), REASON_SLIPPAGE),
        {},
    ),
    (
        "short-slippage-at-threshold-opens",
        {"side": "short", "price_now": D("49750")},
        ("1000", "1000"),
        ("open", D("1.00"), D("99.5"), D("0.24875"), ""),
        {},
    ),
    (
        "short-price-rose-opens",
        {"side": "short", "price_now": D("55000")},
        ("1000", "1000"),
        ("open", D("0.90"), D("99"), D("0.2475"), ""),
        {},
    ),
    (
        "guard-off-ignores-slippage",
        {"price_now": D("60000"), "guard_slippage": False},
        ("1000", "1000"),
        ("open", D("0.83"), D("99.6"), D("0.249"), ""),
        {},
    ),
    (
        "available-cap-reduces-to-what-fits",
        {},
        ("1000", "50"),
        ("open", D("0.49"), D("49"), D("0.1225"), ""),
        {"capped": True},
    ),
    (
        "available-cap-exact-fit-not-capped",
        {},
        ("1000", "100.25"),
        ("open", D("1"), D("100"), D("0.25"), ""),
        {},
    ),
    (
        "available-cap-one-satoshi-short",
        {},
        ("1000", "100.24999999"),
        ("open", D("0.99"), D("99"), D("0.2475"), ""),
        {"capped": True},
    ),
    (
        "cap-below-min-misses-insufficient",
        {},
        ("1000", "1"),
        ("miss", D(0), D(0), D(0), REASON_INSUFFICIENT),
        {"capped": True},
    ),
    (
        "cap-zero-available-misses-insufficient",
        {},
        ("1000", "0"),
        ("miss", D(0), D(0), D(0), REASON_INSUFFICIENT),
        {"capped": True},
    ),
    (
        "bump-allowed-at-exactly-ten-times-target",
        {"margin": D("5"), "leverage": 10},
        ("100", "100"),
        ("open", D("0.01"), D("0.5"), D("0.0025"), ""),
        {"bumped": True},
    ),
    (
        "bump-refused-above-ten-times-target",
        {"margin": D("4.99"), "leverage": 10},
        ("100", "100"),
        ("miss", D(0), D(0), D(0), REASON_BELOW_MIN),
        {},
    ),
    (
        "bump-refused-by-cash",
        {"margin": D("30"), "leverage": 10},
        ("100", "0.5"),
        ("miss", D(0), D(0), D(0), REASON_INSUFFICIENT),
        {},
    ),
    (
        "bump-allowed-cash-exact",
        {"margin": D("30"), "leverage": 10},
        ("100", "0.5025"),
        ("open", D("0.01"), D("0.5"), D("0.0025"), ""),
        {"bumped": True},
    ),
    (
        "zero-equity-misses-below-min",
        {},
        ("0", "1000"),
        ("miss", D(0), D(0), D(0), REASON_BELOW_MIN),
        {},
    ),
    (
        "negative-equity-misses-below-min",
        {},
        ("-5", "1000"),
        ("miss", D(0), D(0), D(0), REASON_BELOW_MIN),
        {},
    ),
    (
        "slippage-checked-before-zero-equity",
        {"price_now": D("51000")},
        ("0", "0"),
        ("miss", D(0), D(0), D(0), REASON_SLIPPAGE),
        {},
    ),
    (
        "isolated-mode-and-leverage-copied",
        {"margin_mode": "isolated", "leverage": 20, "side": "short"},
        ("1000", "1000"),
        ("open", D("4"), D("100"), D("1"), ""),
        {},
    ),
    (
        "no-fill-price-no-guard",
        {"fill_price": None, "price_now": D("80000")},
        ("1000", "1000"),
        ("open", D("0.62"), D("99.2"), D("0.248"), ""),
        {},
    ),
]


@pytest.mark.parametrize(
    ("overrides", "funds", "expected", "flags"),
    [c[1:] for c in OPEN_CASES],
    ids=[c[0] for c in OPEN_CASES],
)
def test_open_table(overrides, funds, expected, flags):
    # given a lead open and a copy's equity and available cash
    ev = event("open", **overrides)
    equity, available = funds
    # when planned
    intent = plan_one(ev, copy_state(equity=equity, available=available))
    # then the decision, size and money match, with the reason recorded in the explanation
    action, size, margin, fee, reason = expected
    assert (intent.action, intent.size, intent.margin, intent.fee) == (action, size, margin, fee)
    assert intent.reason == reason == intent.explanation["reason"]
    assert intent.explanation["capped"] is flags.get("capped", False)
    assert intent.explanation["bumped"] is flags.get("bumped", False)
    assert intent.side == ev.side and intent.leverage == ev.leverage
    assert intent.margin_mode == ev.margin_mode
    if action == "open":
        assert intent.margin + intent.fee <= D(available)
        assert D(intent.explanation["size"]) == size


def test_open_capped_explanation_records_available_and_capped_size():
    intent = plan_one(event("open"), copy_state(equity="1000", available="50"))
    exp = intent.explanation
    assert exp["capped"] is True
    assert D(exp["available"]) == D("50")
    assert D(exp["rounded_size"]) == D("1") and D(exp["capped_size"]) == D("0.49")


def test_open_slippage_explanation_records_price_move():
    intent = plan_one(event("open", price_now=D("50500")), copy_state())
    assert D(intent.explanation["slippage"]) == D("0.01")
    assert intent.explanation["fill_price"] == "50000"


def test_open_custom_tolerance_widens_the_guard():
    intent = plan_one(event("open", price_now=D("50400")), copy_state(), policy=Policy(D("0.01")))
    assert intent.action == "open"


def test_open_custom_bump_cap_refuses_bump():
    ev = event("open", margin=D("30"), leverage=10)
    intent = plan_one(ev, copy_state(equity="100"), policy=Policy(bump_cap=D("1")))
    assert (intent.action, intent.reason) == ("miss", REASON_BELOW_MIN)


def test_open_missing_lead_equity_is_a_shell_bug():
    with pytest.raises(ValueError):
        plan_event(event("open", lead_equity_before=None), [copy_state()], BTC, POLICY)
    with pytest.raises(ValueError):
        plan_event(event("open", lead_equity_before=D(0)), [copy_state()], BTC, POLICY)
    with pytest.raises(ValueError):
        plan_event(event("open", margin=None), [copy_state()], BTC, POLICY)
    with pytest.raises(ValueError):
        plan_event(event("open", side=""), [copy_state()], BTC, POLICY)


# ---- Copy Ongoing Positions: size_open ----------------------------------------------------------


def size_at_start(**overrides):
    fields = {
        "copy_id": 9,
        "ratio": D("0.1"),
        "equity": D("1000"),
        "available": D("1000"),
        "price": D("50000"),
        "side": "long",
        "leverage": 5,
        "margin_mode": "isolated",
        "instrument": BTC,
        "policy": POLICY,
    }
    fields.update(overrides)
    return size_open(**fields)


def test_size_open_copy_ongoing_positions_has_no_slippage_guard():
    # given the lead filled at 40,000 long and the price is now 50,000 (25% worse)
    intent = size_at_start(fill_price=D("40000"))
    # then the copy still opens at market
    assert (intent.copy_id, intent.action, intent.size) == (9, "open", D("1"))
    assert intent.explanation["event"] == "copy_start"


def test_size_open_can_guard_when_asked():
    intent = size_at_start(fill_price=D("40000"), guard_slippage=True)
    assert (intent.action, intent.reason) == ("miss", REASON_SLIPPAGE)


# ---- spot buy (SPEC §6) -------------------------------------------------------------------------


def spot_buy(**overrides):
    fields = {
        "side": "",
        "margin_mode": "",
        "leverage": None,
        "lead_position_id": None,
        "margin": None,
        "amount": D("1000"),
        "lead_equity_before": D("10000"),
    }
    fields.update(overrides)
    return event("spot_buy", **fields)


def test_spot_buy_example_buys_for_a_tenth_of_equity():
    # given lead equity 10,000 buying 1,000 USDT of BTC at 50,000; a copy of 1,000
    intent = plan_one(spot_buy(), copy_state(), BTC_SPOT)
    # then 0.002 BTC for 100 USDT, fee 0.1 on top, 899.9 kept
    assert (intent.action, intent.size, intent.margin, intent.fee) == (
        "open",
        D("0.002"),
        D("100"),
        D("0.1"),
    )
    assert (intent.side, intent.leverage) == ("long", 1)
    assert D("1000") - intent.margin - intent.fee == D("899.9")


SPOT_CASES = [
    ("slippage-misses", {"price_now": D("50250.01")}, ("1000", "1000"), ("miss", D(0), "")),
    ("slippage-at-threshold", {"price_now": D("50250")}, ("1000", "1000"), ("open", None, "")),
    ("cap", {}, ("1000", "50"), ("open", D("0.000999"), "")),
    ("cap-below-min", {}, ("1000", "0.5"), ("miss", D(0), REASON_INSUFFICIENT)),
    ("bump-allowed", {"amount": D("5")}, ("100", "100"), ("open", D("0.00001"), "")),
    ("bump-refused-x10", {"amount": D("4.99")}, ("100", "100"), ("miss", D(0), REASON_BELOW_MIN)),
    ("bump-refused-cash", {"amount": D("5")}, ("100", "0.5"), ("miss", D(0), REASON_INSUFFICIENT)),
    ("zero-equity", {}, ("0", "0"), ("miss", D(0), REASON_BELOW_MIN)),
]


@pytest.mark.parametrize(
    ("overrides", "funds", "expected"),
    [c[1:] for c in SPOT_CASES],
    ids=[c[0] for c in SPOT_CASES],
)
def test_spot_buy_table(overrides, funds, expected):
    intent = plan_one(
        spot_buy(**overrides), copy_state(equity=funds[0], available=funds[1]), BTC_SPOT
    )
    action, size, reason = expected
    assert intent.action == action
    if size is not None:
        assert intent.size == size
    if action == "miss":
        assert intent.reason == (reason or REASON_SLIPPAGE)
    else:
        assert intent.margin == (intent.size * intent.price).quantize(D("0.00000001"), "ROUND_DOWN")
        assert intent.margin + intent.fee <= D(funds[1])
        assert intent.size % BTC_SPOT.lot_size == 0 and intent.size >= BTC_SPOT.min_size


def test_spot_buy_cap_is_the_largest_quantity_that_fits():
    intent = plan_one(spot_buy(), copy_state(available="50"), BTC_SPOT)
    assert (intent.size, intent.margin, intent.fee) == (D("0.000999"), D("49.95"), D("0.04995"))
    one_more = intent.size + BTC_SPOT.lot_size
    assert one_more * D("50000") * (1 + BTC_SPOT.taker_fee) > D("50")


def test_spot_event_on_perpetual_is_refused():
    with pytest.raises(ValueError):
        plan_event(spot_buy(), [copy_state()], BTC, POLICY)
    with pytest.raises(ValueError):
        plan_event(event("open"), [copy_state()], BTC_SPOT, POLICY)


def test_open_on_instrument_sized_per_lot_not_per_unit():
    # ETH contract value 0.1 at 3,000: notional per contract 300; target 100 at 5x -> 1.66 contracts
    intent = plan_one(event("open", fill_price=D("3000"), price_now=D("3000")), copy_state(), ETH)
    assert (intent.size, intent.margin, intent.fee) == (D("1.66"), D("99.6"), D("0.249"))
