"""Builders for Smart Sync engine tests: the seeded instruments of SPEC §4 and event defaults."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from apps.smart_sync import CopyState, FollowerPosition, Instrument, LeadEvent, Policy

BTC = Instrument(
    name="BTC-USDT-SWAP",
    contract_value=D("0.01"),
    lot_size=D("0.01"),
    min_size=D("0.01"),
    taker_fee=D("0.0005"),
    max_leverage=100,
    mmr=D("0.004"),
    kind="perpetual",
)
ETH = replace(BTC, name="ETH-USDT-SWAP", contract_value=D("0.1"))
SOL = replace(BTC, name="SOL-USDT-SWAP", contract_value=D("1"), max_leverage=50, mmr=D("0.01"))
BTC_SPOT = Instrument(
    name="BTC-USDT",
    contract_value=D("1"),
    lot_size=D("0.00000001"),
    min_size=D("0.00001"),
    taker_fee=D("0.001"),
    max_leverage=None,
    mmr=None,
    kind="spot",
)
ETH_SPOT = replace(BTC_SPOT, name="ETH-USDT", min_size=D("0.0001"))
SOL_SPOT = replace(BTC_SPOT, name="SOL-USDT", min_size=D("0.001"))
PERPETUALS = (BTC, ETH, SOL)
SPOTS = (BTC_SPOT, ETH_SPOT, SOL_SPOT)
POLICY = Policy()
LEAD_POSITION = 7


def event(kind: str = "open", **overrides) -> LeadEvent:
    """A lead event with the worked example's figures (SPEC §5.2) as defaults."""
    fields = {
        "kind": kind,
        "lead_position_id": LEAD_POSITION,
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "previous_leverage": None,
        "fill_price": D("50000"),
        "margin": D("1000"),
        "lead_margin_before": None,
        "lead_equity_before": D("10000"),
        "fraction": None,
        "price_now": D("50000"),
    }
    fields.update(overrides)
    return LeadEvent(**fields)


def position(**overrides) -> FollowerPosition:
    """The 1 contract 5x long of the worked example, isolated unless told otherwise."""
    fields = {
        "id": 100,
        "lead_position_id": LEAD_POSITION,
        "side": "long",
        "margin_mode": "isolated",
        "leverage": 5,
        "size": D("1.00"),
        "entry_price": D("50000"),
        "margin": D("100"),
    }
    fields.update(overrides)
    return FollowerPosition(**fields)


def copy_state(copy_id: int = 1, equity="1000", available="1000", positions=()) -> CopyState:
    return CopyState(
        copy_id=copy_id, equity=D(equity), available=D(available), positions=tuple(positions)
    )
