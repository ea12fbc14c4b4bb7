"""Mirroring every lead event (SPEC §5.3, §6): one table row per rule and branch."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D

import pytest

from apps.smart_sync import (
    INTENT_ACTIONS,
    REASON_ADD_CASH,
    REASON_AT_MINIMUM,
    REASON_CLOSE_BELOW_LOT,
    REASON_CROSS,
    REASON_ENDED,
    REASON_LEVERAGE_CASH,
    REASON_LEVERAGE_UNCHANGED,
    REASON_MARGIN_ZERO,
    REASON_NOT_LINKED,
    REASON_SAFE,
    plan_event,
)

from .builders import BTC, BTC_SPOT, LEAD_POSITION, POLICY, copy_state, event, position

pytestmark = []

MIN_01 = replace(BTC, name="MIN-0.1", min_size=D("0.1"))


def plan_one(ev, pos, available="1000", instrument=BTC):
    [intent] = plan_event(
        ev, [copy_state(available=available, positions=[pos])], instrument, POLICY
    )
    assert intent.action in INTENT_ACTIONS
    json.dumps(intent.explanation)
    return intent


def test_partial_close_b_example():
    # given the 1 contract long of the worked example, entered at 50,000 with margin 100
    pos = position(margin_mode="cross")
    # when the lead closes 40% at 52,000
    intent = plan_one(event("partial_close", fraction=D("0.4"), price_now=D("52000")), pos)
    # then 0.4 closes, +8 realized, fee 0.104, 40 margin released
    assert (intent.action, intent.position_id, intent.size) == ("close", 100, D("0.4"))
    assert intent.realized_pnl == D("8.00000000")
    assert (intent.fee, intent.margin_released, intent.close_all) == (D("0.104"), D("40"), False)
    assert intent.price == D("52000")


# id, instrument, event kind, event overrides, position overrides, available, expected attributes
CASES = [
    # partial close ---------------------------------------------------------------------------
    (
        "partial-close-short-loses",
        BTC,
        "partial_close",
        {"fraction": D("0.4"), "price_now": D("52000")},
        {"side": "short"},
        "1000",
        {"action": "close", "size": D("0.4"), "realized_pnl": D("-8"), "close_all": False},
    ),
    (
        "partial-close-rounds-down-to-lot",
        BTC,
        "partial_close",
        {"fraction": D("0.333")},
        {},
        "1000",
        {"action": "close", "size": D("0.33"), "margin_released": D("33"), "close_all": False},
    ),
    (
        "partial-close-released-margin-rounds-down",
        BTC,
        "partial_close",
        {"fraction": D("0.5")},
        {"size": D("0.03"), "margin": D("0.30000001")},
        "1000",
        {"action": "close", "size": D("0.01"), "margin_released": D("0.10000000")},
    ),
    (
        "partial-close-remainder-below-min-closes-all",
        MIN_01,
        "partial_close",
        {"fraction": D("0.95")},
        {},
        "1000",
        {"action": "close", "size": D("1.00"), "close_all": True, "margin_released": D("100")},
    ),
    (
        "partial-close-remainder-at-min-keeps-it",
        MIN_01,
        "partial_close",
        {"fraction": D("0.9")},
        {},
        "1000",
        {"action": "close", "size": D("0.90"), "close_all": False, "margin_released": D("90")},
    ),
    (
        "partial-close-below-lot-skips",
        BTC,
        "partial_close",
        {"fraction": D("0.4")},
        {"size": D("0.01"), "margin": D("1")},
        "1000",
        {"action": "skip", "reason": REASON_CLOSE_BELOW_LOT, "size": D(0)},
    ),
    (
        "partial-close-fraction-one-closes-all",
        BTC,
        "partial_close",
        {"fraction": D("1")},
        {},
        "1000",
        {"action": "close", "size": D("1.00"), "close_all": True},
    ),
    (
        "partial-close-never-guards-slippage",
        BTC,
        "partial_close",
        {"fraction": D("0.5"), "fill_price": D("50000"), "price_now": D("30000")},
        {},
        "0",
        {"action": "close", "size": D("0.5"), "realized_pnl": D("-100"), "fee": D("0.075")},
    ),
    (
        # exact loss 1 x 0.01 x 0.000000001 = 1e-11: rounds toward zero, the user pays nothing
        "realized-loss-rounds-toward-zero-for-a-short",
        BTC,
        "partial_close",
        {"fraction": D("0.5"), "price_now": D("50000.000000001")},
        {"side": "short", "size": D("2")},
        "1000",
        {"action": "close", "size": D("1"), "realized_pnl": D("0")},
    ),
    (
        # exact loss 2 x 0.01 x 0.123456789 = 0.00246913578: the user pays 0.00246913
        "realized-loss-of-a-long-rounds-toward-zero",
        BTC,
        "close",
        {"price_now": D("49999.876543211")},
        {"size": D("2")},
        "1000",
        {"action": "close", "size": D("2"), "realized_pnl": D("-0.00246913")},
    ),
    (
        "realized-gain-never-rounds-up",
        BTC,
        "partial_close",
        {"fraction": D("0.5"), "price_now": D("50000.000000001")},
        {"size": D("2")},
        "1000",
        {"action": "close", "size": D("1"), "realized_pnl": D("0")},
    ),
    # full close and liquidation ------------------------------------------------------------------
    (
        "close-closes-fully",
        BTC,
        "close",
        {"price_now": D("48000")},
        {},
        "1000",
        {
            "action": "close",
            "size": D("1.00"),
            "close_all": True,
            "realized_pnl": D("-20"),
            "fee": D("0.24"),
            "margin_released": D("100"),
        },
    ),
    (
        "liquidation-closes-fully-at-market",
        BTC,
        "liquidation",
        {"price_now": D("40180")},
        {"side": "long"},
        "0",
        {"action": "close", "size": D("1.00"), "close_all": True, "realized_pnl": D("-98.2")},
    ),
    (
        "close-short-gains-when-price-falls",
        BTC,
        "close",
        {"price_now": D("45000")},
        {"side": "short"},
        "1000",
        {"action": "close", "realized_pnl": D("50"), "fee": D("0.225")},
    ),
    # leverage change (position 1 contract at 50,000, 5x, margin 100) --------------------------
    (
        "leverage-up-releases-margin",
        BTC,
        "leverage",
        {"leverage": 10, "previous_leverage": 5},
        {},
        "0",
        {"action": "set_leverage", "leverage": 10, "margin": D("50")},
    ),
    (
        "leverage-down-funded",
        BTC,
        "leverage",
        {"leverage": 2, "previous_leverage": 5},
        {},
        "150",
        {"action": "set_leverage", "leverage": 2, "margin": D("250")},
    ),
    (
        "leverage-down-insufficient-keeps-old",
        BTC,
        "leverage",
        {"leverage": 2, "previous_leverage": 5},
        {},
        "149.99999999",
        {
            "action": "sync_failed",
            "leverage": 5,
            "margin": D("100"),
            "reason": REASON_LEVERAGE_CASH,
        },
    ),
    (
        "leverage-new-margin-rounds-down",
        BTC,
        "leverage",
        {"leverage": 3, "previous_leverage": 5},
        {},
        "1000",
        {"action": "set_leverage", "leverage": 3, "margin": D("166.66666666")},
    ),
    (
        "leverage-uses-entry-not-mark",
        BTC,
        "leverage",
        {"leverage": 10, "price_now": D("70000")},
        {"margin_mode": "cross"},
        "0",
        {"action": "set_leverage", "margin": D("50")},
    ),
    (
        "leverage-unchanged-skips",
        BTC,
        "leverage",
        {"leverage": 5},
        {},
        "0",
        {"action": "skip", "reason": REASON_LEVERAGE_UNCHANGED},
    ),
    # margin add: lead adds 20 to a 200 margin; follower margin 100 -> 10 ---------------------
    (
        "margin-add-at-risk-adds",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200"), "price_now": D("41000")},
        {},
        "100",
        {"action": "add_margin", "margin": D("10"), "reason": ""},
    ),
    (
        "margin-add-cash-exact",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200"), "price_now": D("41000")},
        {},
        "10",
        {"action": "add_margin", "margin": D("10")},
    ),
    (
        "margin-add-insufficient-fails",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200"), "price_now": D("41000")},
        {},
        "9.99999999",
        {"action": "sync_failed", "margin": D("10"), "reason": REASON_ADD_CASH},
    ),
    (
        "margin-add-above-1000pct-skips",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {},
        "1000",
        {"action": "skip", "reason": REASON_SAFE},
    ),
    (
        "margin-add-at-exactly-1000pct-adds",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {"leverage": 50, "margin": D("22.5")},
        "1000",
        {"action": "add_margin", "margin": D("2.25")},
    ),
    (
        "margin-add-just-above-1000pct-skips",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {"leverage": 50, "margin": D("22.50000001")},
        "1000",
        {"action": "skip", "reason": REASON_SAFE},
    ),
    (
        "margin-add-short-losing-adds",
        BTC,
        "margin_add",
        {"margin": D("1"), "lead_margin_before": D("3"), "price_now": D("59000")},
        {"side": "short"},
        "1000",
        {"action": "add_margin", "margin": D("33.33333333")},
    ),
    (
        "margin-add-cross-skips",
        BTC,
        "margin_add",
        {"margin": D("20"), "lead_margin_before": D("200"), "price_now": D("41000")},
        {"margin_mode": "cross"},
        "1000",
        {"action": "skip", "reason": REASON_CROSS},
    ),
    (
        "margin-add-rounds-to-zero-skips",
        BTC,
        "margin_add",
        {"margin": D("0.00000001"), "lead_margin_before": D("1000"), "price_now": D("41000")},
        {},
        "1000",
        {"action": "skip", "reason": REASON_MARGIN_ZERO},
    ),
    # margin reduce (position margin 150 after adds; floor = 500 / 5 = 100) ---------------------
    (
        "margin-reduce-proportional",
        BTC,
        "margin_reduce",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {"margin": D("150")},
        "0",
        {"action": "reduce_margin", "margin": D("15")},
    ),
    (
        "margin-reduce-clamped-at-floor",
        BTC,
        "margin_reduce",
        {"margin": D("100"), "lead_margin_before": D("200")},
        {"margin": D("150")},
        "0",
        {"action": "reduce_margin", "margin": D("50")},
    ),
    (
        "margin-reduce-clamp-keeps-inexact-floor",
        BTC,
        "margin_reduce",
        {"margin": D("100"), "lead_margin_before": D("200")},
        {"leverage": 3, "margin": D("170")},
        "0",
        {"action": "reduce_margin", "margin": D("3.33333333")},
    ),
    (
        "margin-reduce-at-minimum-skips",
        BTC,
        "margin_reduce",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {"margin": D("100")},
        "0",
        {"action": "skip", "reason": REASON_AT_MINIMUM},
    ),
    (
        "margin-reduce-cross-skips",
        BTC,
        "margin_reduce",
        {"margin": D("20"), "lead_margin_before": D("200")},
        {"margin": D("150"), "margin_mode": "cross"},
        "0",
        {"action": "skip", "reason": REASON_CROSS},
    ),
    # spot sell (holding 0.002 BTC at average cost 50,000, cost basis 100) -----------------------
    (
        "spot-sell-half",
        BTC_SPOT,
        "spot_sell",
        {"fraction": D("0.5"), "price_now": D("55000")},
        {"size": D("0.002"), "leverage": 1, "margin_mode": "", "margin": D("100")},
        "0",
        {
            "action": "close",
            "size": D("0.001"),
            "realized_pnl": D("5"),
            "fee": D("0.055"),
            "margin_released": D("50"),
            "close_all": False,
        },
    ),
    (
        "spot-sell-remainder-below-min-sells-all",
        BTC_SPOT,
        "spot_sell",
        {"fraction": D("0.6"), "price_now": D("40000")},
        {"size": D("0.00002"), "leverage": 1, "margin_mode": "", "margin": D("1")},
        "0",
        {"action": "close", "size": D("0.00002"), "close_all": True, "realized_pnl": D("-0.2")},
    ),
    (
        "spot-sell-all",
        BTC_SPOT,
        "spot_sell",
        {"fraction": D("1")},
        {"size": D("0.002"), "leverage": 1, "margin_mode": "", "margin": D("100")},
        "0",
        {"action": "close", "size": D("0.002"), "close_all": True, "margin_released": D("100")},
    ),
]


@pytest.mark.parametrize(
    ("instrument", "kind", "ev_overrides", "pos_overrides", "available", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_linked_event_table(instrument, kind, ev_overrides, pos_overrides, available, expected):
    # given a copy holding one position linked to the lead sub-position
    pos = position(**pos_overrides)
    # when the lead event is planned
    intent = plan_one(event(kind, **ev_overrides), pos, available, instrument)
    # then the intent carries the expected decision, and its explanation names the same reason
    for attr, value in expected.items():
        assert getattr(intent, attr) == value, attr
    assert intent.position_id == pos.id
    assert intent.explanation["reason"] == intent.reason
    assert intent.explanation["event"] == kind


def test_margin_reduce_never_below_entry_notional_over_leverage():
    pos = position(leverage=3, margin=D("170"))
    intent = plan_one(event("margin_reduce", margin=D("100"), lead_margin_before=D("200")), pos)
    assert pos.margin - intent.margin >= pos.size * BTC.contract_value * pos.entry_price / 3
    assert intent.explanation["clamped"] is True


def test_leverage_failure_explains_the_shortfall():
    intent = plan_one(event("leverage", leverage=2), position(), available="10")
    assert D(intent.explanation["new_margin"]) == D("250")
    assert D(intent.explanation["available"]) == D("10")


@pytest.mark.parametrize(
    "kind",
    ["partial_close", "close", "liquidation", "leverage", "margin_add", "margin_reduce"],
)
def test_event_on_unlinked_position_skips(kind):
    # given one copy with no position and one whose position follows another lead sub-position
    copies = [
        copy_state(1),
        copy_state(2, positions=[position(lead_position_id=LEAD_POSITION + 1)]),
    ]
    ev = event(kind, fraction=D("0.5"), margin=D("1"), lead_margin_before=D("10"), leverage=10)
    # when planned
    intents = plan_event(ev, copies, BTC, POLICY)
    # then both copies are left alone, each with a "not linked" skip
    assert [(i.copy_id, i.action, i.reason) for i in intents] == [
        (1, "skip", REASON_NOT_LINKED),
        (2, "skip", REASON_NOT_LINKED),
    ]


def test_spot_sell_unlinked_skips():
    ev = event("spot_sell", fraction=D("0.5"))
    [intent] = plan_event(ev, [copy_state()], BTC_SPOT, POLICY)
    assert (intent.action, intent.reason) == ("skip", REASON_NOT_LINKED)


@pytest.mark.parametrize("instrument", [BTC, BTC_SPOT])
def test_ended_stops_every_copy_in_copy_id_order(instrument):
    copies = [copy_state(3), copy_state(1, positions=[position()]), copy_state(2)]
    intents = plan_event(event("ended", lead_position_id=None), copies, instrument, POLICY)
    assert [(i.copy_id, i.action, i.reason) for i in intents] == [
        (1, "stop", REASON_ENDED),
        (2, "stop", REASON_ENDED),
        (3, "stop", REASON_ENDED),
    ]


def test_intents_ordered_by_copy_then_position():
    copies = [
        copy_state(5, positions=[position(id=12), position(id=11)]),
        copy_state(4, positions=[position(id=20)]),
    ]
    intents = plan_event(event("close"), copies, BTC, POLICY)
    assert [(i.copy_id, i.position_id) for i in intents] == [(4, 20), (5, 11), (5, 12)]


def test_open_returns_one_intent_per_copy_in_copy_id_order():
    copies = [copy_state(c) for c in (9, 2, 5)]
    intents = plan_event(event("open"), copies, BTC, POLICY)
    assert [i.copy_id for i in intents] == [2, 5, 9]


def test_duplicate_copy_is_refused():
    with pytest.raises(ValueError):
        plan_event(event("open"), [copy_state(1), copy_state(1)], BTC, POLICY)


@pytest.mark.parametrize(
    ("kind", "overrides"),
    [
        ("partial_close", {"fraction": None}),
        ("partial_close", {"fraction": D("0")}),
        ("close", {"lead_position_id": None}),
        ("leverage", {"leverage": None}),
        ("margin_add", {"margin": None, "lead_margin_before": D("1")}),
        ("margin_add", {"margin": D("1"), "lead_margin_before": None}),
        ("margin_reduce", {"margin": D("1"), "lead_margin_before": D("0")}),
        ("open", {"price_now": D("0")}),
        ("bogus", {}),
    ],
)
def test_malformed_event_raises(kind, overrides):
    copies = [copy_state(positions=[position()])]
    with pytest.raises(ValueError):
        plan_event(event(kind, **overrides), copies, BTC, POLICY)


def test_empty_copies_plan_nothing():
    assert plan_event(event("open"), [], BTC, POLICY) == []
