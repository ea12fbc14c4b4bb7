"""The shell around the pure Smart Sync engine: turns rows into engine inputs and intents
into write specs. No writes happen here; mirroring and copy services do them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from apps import smart_sync as ss
from apps.market.models import Instrument
from apps.positions.selectors import AccountFigures
from apps.positions.services import CloseSpec, MarginSpec, OpenSpec


def policy() -> ss.Policy:
    conf = settings.SMART_SYNC
    return ss.Policy(
        slippage_tolerance=conf["SLIPPAGE_TOLERANCE"],
        bump_cap=conf["BUMP_CAP"],
        margin_level_skip=conf["MARGIN_LEVEL_SKIP"],
    )


def engine_instrument(inst: Instrument) -> ss.Instrument:
    return ss.Instrument(
        name=inst.name,
        contract_value=inst.contract_value,
        lot_size=inst.lot_size,
        min_size=inst.min_size,
        taker_fee=inst.taker_fee,
        max_leverage=inst.max_leverage,
        mmr=inst.mmr,
        kind=inst.kind,
    )


def copy_state(
    copy_id: int, figures: AccountFigures, *, lead_position_id: int | None = None
) -> ss.CopyState:
    linked = tuple(
        ss.FollowerPosition(
            id=p.id,
            lead_position_id=p.lead_position_id,
            side=p.side,
            margin_mode=p.margin_mode,
            leverage=p.leverage,
            size=p.size,
            entry_price=p.entry_price,
            margin=p.margin,
        )
        for p in figures.positions
        if lead_position_id is not None and p.lead_position_id == lead_position_id
    )
    return ss.CopyState(
        copy_id=copy_id,
        equity=figures.equity,
        available=figures.available,
        positions=linked,
        cross_upnl=figures.cross_upnl,
    )


def open_spec(
    intent: ss.Intent,
    *,
    account_id: int,
    instrument_id: int,
    lead_position_id: int,
    reference_price: Decimal | None,
    lead_event_id: int | None,
) -> OpenSpec:
    return OpenSpec(
        account_id=account_id,
        instrument_id=instrument_id,
        side=intent.side,
        margin_mode=intent.margin_mode,
        leverage=intent.leverage,
        size=intent.size,
        price=intent.price,
        margin=intent.margin,
        fee=intent.fee,
        lead_position_id=lead_position_id,
        reference_price=reference_price,
        lead_event_id=lead_event_id,
        explanation=intent.explanation,
    )


def close_spec(
    intent: ss.Intent,
    *,
    reason: str,
    lead_event_id: int | None,
    reference_price: Decimal | None,
) -> CloseSpec:
    return CloseSpec(
        position_id=intent.position_id,
        quantity=intent.size,
        price=intent.price,
        realized_pnl=intent.realized_pnl,
        fee=intent.fee,
        margin_released=intent.margin_released,
        reason=reason,
        lead_event_id=lead_event_id,
        reference_price=reference_price,
        action="close",
    )


def margin_spec(intent: ss.Intent, current_margin: Decimal) -> MarginSpec:
    if intent.action == "set_leverage":
        return MarginSpec(intent.position_id, intent.margin, intent.leverage)
    if intent.action == "add_margin":
        return MarginSpec(intent.position_id, current_margin + intent.margin)
    return MarginSpec(intent.position_id, current_margin - intent.margin)
