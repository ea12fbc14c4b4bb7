"""Spot buys explained in words (apps.copies.explain, SPEC §6): the engine's stored explanation of
a spot buy, sized by the real planner, told as amount, quantity, cap, slippage and result. No
database: the figures are hand calculations beside each case (BTC-USDT: lot 1e-8, minimum
0.00001 BTC, taker fee 0.001)."""

from __future__ import annotations

from decimal import Decimal as D

from apps import smart_sync as ss
from apps.copies import explain

BTC = ss.Instrument(
    name="BTC-USDT",
    contract_value=D("1"),
    lot_size=D("0.00000001"),
    min_size=D("0.00001"),
    taker_fee=D("0.001"),
    max_leverage=None,
    mmr=None,
    kind="spot",
)


def _buy(*, equity, available, price_now="50000", amount="1000", lead_equity="10000"):
    event = ss.LeadEvent(
        kind="spot_buy",
        lead_position_id=1,
        side="long",
        margin_mode="spot",
        leverage=1,
        previous_leverage=None,
        fill_price=D("50000"),
        margin=None,
        lead_margin_before=None,
        lead_equity_before=D(lead_equity),
        fraction=None,
        price_now=D(price_now),
        amount=D(amount),
    )
    state = ss.CopyState(copy_id=1, equity=D(equity), available=D(available))
    [intent] = ss.plan_event(event, [state], BTC, ss.DEFAULT_POLICY)
    return intent


def test_the_spec_example_in_words():
    # 1,000 of 10,000 = 10%; a copy of 1,000 spends 100: 0.002 BTC, fee 0.1
    lines = explain.sizing(_buy(equity="1000", available="1000").explanation, base_asset="BTC")
    assert lines == [
        "Ratio: the lead spent 10% of their spot equity on this buy (the amount ÷ the lead's "
        "spot equity just before).",
        "Base: your copy's equity was 1,000.00 USDT when it was sized.",
        "Amount: 10% × 1,000.00 USDT = 100.00 USDT to spend.",
        "Quantity: 100.00 USDT ÷ 50,000.00 USDT per BTC = 0.002 BTC, rounded down to the lot: "
        "0.002 BTC.",
        "Result: 0.002 BTC at 50,000.00 USDT, cost 100.00 USDT, fee 0.10 USDT paid on top.",
    ]


def test_a_buy_capped_by_the_cash_available():
    # 100 wanted, only 50.05 available: the most whose cost + 0.1% fee fits is 50 USDT = 0.001
    intent = _buy(equity="1000", available="50.05")
    assert intent.action == "open" and intent.size == D("0.001")
    lines = explain.sizing(intent.explanation, base_asset="BTC")
    assert (
        "Cap: its cost and fee did not fit in the copy's available 50.05 USDT, so it was "
        "reduced to 0.001 BTC." in lines
    )
    assert (
        lines[-1]
        == "Result: 0.001 BTC at 50,000.00 USDT, cost 50.00 USDT, fee 0.05 USDT paid on top."
    )


def test_a_buy_missed_because_the_price_moved():
    # the lead filled at 50,000; at 50,300 the price is 0.6% worse than the 0.5% tolerance
    intent = _buy(equity="1000", available="1000", price_now="50300")
    assert intent.action == "miss"
    lines = explain.sizing(intent.explanation, base_asset="BTC")
    assert lines[-1].startswith("Price check: the lead filled at 50,000.00 USDT;")
    assert "(0.6%)" in lines[-1] and lines[-1].endswith(
        "Nothing was bought: price moved beyond slippage tolerance."
    )
    assert not any("contract" in line for line in lines)


def test_spot_words_come_from_the_event_even_without_the_flag():
    exp = _buy(equity="1000", available="1000").explanation
    assert explain.sizing(exp, base_asset="BTC") == explain.sizing(exp, base_asset="BTC", spot=True)
