"""The shell around the pure Smart Sync engine: turns rows into engine inputs and intents
into write specs. No writes happen here; mirroring and copy services do them.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.conf import settings

from apps import smart_sync as ss
from apps.core.money import exact, usdt_down
from apps.market.models import Instrument
from apps.market.services import venue_price
from apps.positions.selectors import AccountFigures, OpenPositionRow, account_figures_one
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


def ongoing_intents(
    *, lead_account_id: int, copy_id: int, equity: Decimal, available: Decimal
) -> list[tuple[OpenPositionRow, ss.Intent]]:
    """Copy Ongoing Positions (SPEC §5.1) or, for spot, Buy Existing Assets (SPEC §6): how a copy
    of ``equity`` would open each current lead sub-position (spot: buy each holding) at market
    now, with ratio = its margin (spot: its value) / the lead's equity now and no slippage
    guard. Each open uses up cash before the next is sized. Reads only: copy_start writes these
    and the wizard previews them, so both show the same numbers."""
    lead = account_figures_one(lead_account_id)
    if not lead.positions or lead.equity <= 0:
        return []
    instruments = {
        i.pk: i for i in Instrument.objects.filter(pk__in={p.instrument_id for p in lead.positions})
    }
    out = []
    for lp in lead.positions:
        if lp.mark is None:
            continue
        inst = instruments[lp.instrument_id]
        # the mark is already on the row: no query per lead position
        price = venue_price(
            instrument=inst, side="buy" if lp.side == "long" else "sell", reference=lp.mark
        )
        spot = inst.kind == Instrument.Kind.SPOT
        event = ss.LeadEvent(
            # Buy Existing Assets (SPEC §6): weight = the holding's value / the lead's equity
            kind="spot_buy" if spot else "open",
            lead_position_id=lp.id,
            side=lp.side,
            margin_mode=lp.margin_mode,
            leverage=lp.leverage,
            previous_leverage=None,
            fill_price=price,
            margin=None if spot else lp.margin,
            amount=usdt_down(exact(lp.size) * exact(lp.mark)) if spot else None,
            lead_margin_before=None,
            lead_equity_before=lead.equity,
            fraction=None,
            price_now=price,
            guard_slippage=False,
        )
        state = ss.CopyState(copy_id=copy_id, equity=equity, available=available)
        [intent] = ss.plan_event(event, [state], engine_instrument(inst), policy())
        intent = dataclasses.replace(
            intent, explanation={**intent.explanation, "source": "Copy Ongoing Positions"}
        )
        out.append((lp, intent))
        if intent.action == "open":
            available -= intent.margin + intent.fee
            equity -= intent.fee
    return out
