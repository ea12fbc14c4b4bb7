"""Properties of the engine over random inputs (SPEC §11.4): lot grid, cash, ratio preserved."""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.smart_sync import (
    REASON_BELOW_MIN,
    REASON_INSUFFICIENT,
    REASON_SLIPPAGE,
    CopyState,
    LeadEvent,
    money_down,
    plan_event,
)

from .builders import LEAD_POSITION, PERPETUALS, POLICY, SPOTS, position

pytestmark = []

ONE_SATOSHI = D("0.00000001")
MISS_REASONS = {REASON_SLIPPAGE, REASON_INSUFFICIENT, REASON_BELOW_MIN}


def money(lo: str, hi: str):
    return st.decimals(D(lo), D(hi), places=8, allow_nan=False, allow_infinity=False)


prices = st.decimals(D("0.01"), D("200000"), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def opens(draw):
    instrument = draw(st.sampled_from(PERPETUALS + SPOTS))
    spot = instrument.kind == "spot"
    lead_equity = draw(money("100", "10000000"))
    lead_margin = draw(money("0.00000001", "1")) * lead_equity
    fill = draw(prices)
    move = draw(st.decimals(D("-0.01"), D("0.01"), places=4))
    price_now = max(D("0.01"), (fill * (1 + move)).quantize(D("0.01")))
    leverage = 1 if spot else draw(st.integers(1, instrument.max_leverage))
    side = "long" if spot else draw(st.sampled_from(["long", "short"]))
    event = LeadEvent(
        kind="spot_buy" if spot else "open",
        lead_position_id=LEAD_POSITION,
        side=side,
        margin_mode="" if spot else draw(st.sampled_from(["cross", "isolated"])),
        leverage=leverage,
        previous_leverage=None,
        fill_price=fill,
        margin=None if spot else lead_margin,
        amount=lead_margin if spot else None,
        lead_margin_before=None,
        lead_equity_before=lead_equity,
        fraction=None,
        price_now=price_now,
        guard_slippage=draw(st.booleans()),
    )
    equity = draw(money("0", "1000000"))
    available = draw(st.one_of(money("0", "1000000"), st.just(equity)))
    return event, instrument, CopyState(copy_id=1, equity=equity, available=available)


@settings(max_examples=400, deadline=None)
@given(opens())
def test_open_sizes_on_lot_grid_and_within_cash(case):
    event, instrument, copy = case
    [intent] = plan_event(event, [copy], instrument, POLICY)
    json.dumps(intent.explanation)
    if intent.action == "miss":
        assert intent.reason in MISS_REASONS
        assert intent.size == 0 and intent.margin == 0 and intent.fee == 0
        return
    assert intent.action == "open"
    # sizes on the lot grid and at least the minimum size
    assert intent.size % instrument.lot_size == 0
    assert intent.size >= instrument.min_size
    # margin + fee never above the cash available
    assert intent.margin + intent.fee <= copy.available
    # margin and fee are the exact formulas rounded down
    unit = (
        event.price_now
        if instrument.kind == "spot"
        else instrument.contract_value * event.price_now
    )
    notional = intent.size * unit
    assert intent.margin == money_down(notional / intent.leverage)
    assert intent.fee == money_down(notional * instrument.taker_fee)


@settings(max_examples=400, deadline=None)
@given(opens())
def test_open_preserves_the_lead_ratio_within_one_lot(case):
    event, instrument, copy = case
    [intent] = plan_event(event, [copy], instrument, POLICY)
    exp = intent.explanation
    if intent.action != "open" or exp["capped"] or exp["bumped"]:
        return
    unit = (
        event.price_now
        if instrument.kind == "spot"
        else instrument.contract_value * event.price_now
    )
    one_lot_margin = instrument.lot_size * unit / intent.leverage
    lead_ratio = (event.margin or event.amount) / event.lead_equity_before
    target = lead_ratio * copy.equity
    # the follower's share (margin / equity) equals the lead's ratio within one lot's margin
    assert D(0) <= target - intent.margin <= one_lot_margin + ONE_SATOSHI
    assert abs(intent.margin / copy.equity - lead_ratio) <= (one_lot_margin + ONE_SATOSHI) / (
        copy.equity
    )


@settings(max_examples=300, deadline=None)
@given(opens())
def test_capped_open_is_the_largest_that_fits(case):
    event, instrument, copy = case
    [intent] = plan_event(event, [copy], instrument, POLICY)
    if intent.action != "open" or not intent.explanation["capped"]:
        return
    unit = (
        event.price_now
        if instrument.kind == "spot"
        else instrument.contract_value * event.price_now
    )
    bigger = (intent.size + instrument.lot_size) * unit
    cost = money_down(bigger / intent.leverage) + money_down(bigger * instrument.taker_fee)
    assert cost > copy.available


@st.composite
def partial_closes(draw):
    instrument = draw(st.sampled_from(PERPETUALS + SPOTS))
    size = max(instrument.min_size, draw(st.integers(1, 10_000_000)) * instrument.lot_size)
    pos = position(
        size=size,
        side=draw(st.sampled_from(["long", "short"])),
        entry_price=draw(prices),
        margin=draw(money("0.00000001", "100000")),
    )
    event = LeadEvent(
        kind="spot_sell" if instrument.kind == "spot" else "partial_close",
        lead_position_id=LEAD_POSITION,
        side=pos.side,
        margin_mode=pos.margin_mode,
        leverage=None,
        previous_leverage=None,
        fill_price=None,
        margin=None,
        lead_margin_before=None,
        lead_equity_before=None,
        fraction=draw(st.decimals(D("0.0001"), D("1"), places=4)),
        price_now=draw(prices),
    )
    return event, instrument, CopyState(1, D(0), D(0), (pos,))


@settings(max_examples=400, deadline=None)
@given(partial_closes())
def test_partial_close_leaves_nothing_or_at_least_min_size(case):
    event, instrument, copy = case
    [pos] = copy.positions
    [intent] = plan_event(event, [copy], instrument, POLICY)
    json.dumps(intent.explanation)
    if intent.action == "skip":
        assert pos.size * event.fraction < instrument.lot_size
        return
    assert intent.action == "close"
    assert intent.size % instrument.lot_size == 0
    assert 0 < intent.size <= pos.size
    remainder = pos.size - intent.size
    assert remainder == 0 or remainder >= instrument.min_size
    assert intent.close_all is (remainder == 0)
    assert 0 <= intent.margin_released <= pos.margin
    # a realized PnL rounds toward zero (SPEC §3): a profit is never credited above the exact
    # value, a loss never charged above it, and both are within one satoshi of it
    if instrument.kind == "spot":  # average cost: what the sale fetches minus the cost released
        exact = intent.size * event.price_now - intent.margin_released
    else:
        exact = intent.size * instrument.contract_value * (event.price_now - pos.entry_price)
        exact = -exact if pos.side == "short" else exact
    assert abs(intent.realized_pnl) <= abs(exact) < abs(intent.realized_pnl) + ONE_SATOSHI
    assert intent.realized_pnl == 0 or (intent.realized_pnl > 0) == (exact > 0)


@settings(max_examples=300, deadline=None)
@given(
    margin=money("1", "100000"),
    leverage=st.integers(1, 100),
    entry=prices,
    lots=st.integers(1, 100_000),
    d=money("0.00000001", "100000"),
    lead_before=money("1", "100000"),
)
def test_margin_reduce_never_below_entry_notional_over_leverage(
    margin, leverage, entry, lots, d, lead_before
):
    pos = position(size=lots * D("0.01"), leverage=leverage, entry_price=entry, margin=margin)
    event = LeadEvent(
        kind="margin_reduce",
        lead_position_id=LEAD_POSITION,
        side="long",
        margin_mode="isolated",
        leverage=leverage,
        previous_leverage=None,
        fill_price=None,
        margin=d,
        lead_margin_before=lead_before,
        lead_equity_before=None,
        fraction=None,
        price_now=entry,
    )
    [intent] = plan_event(event, [CopyState(1, margin, D(0), (pos,))], PERPETUALS[0], POLICY)
    floor = pos.size * D("0.01") * entry / leverage
    if intent.action == "reduce_margin":
        assert intent.margin > 0
        assert pos.margin - intent.margin >= floor
    else:
        assert intent.action == "skip"
