"""Planning the mirror of one lead event for every copy (SPEC §5.3, §6).

``plan_event(event, copies, instrument, policy)`` returns intents; it reads nothing and writes
nothing. The shell around it locks rows, moves money and records each intent with its explanation.

Invariants:
- Output order: copies by ``copy_id``; within a copy, linked positions by position id. Every copy
  gets at least one intent (``skip`` "not linked to this copy" when it holds no linked position).
- No slippage guard on closes, ever: they execute at ``event.price_now``.
- Money rounds toward zero at 8 places (fees, realized PnL, margins, margin deltas, released
  margin); quantities round DOWN to the lot grid. Each is one exact quotient, rounded once: a
  partial close takes to_lot(follower size x closed quantity / lead size before).
- A close leaves either nothing or at least the minimum size.
- A margin reduce never takes the margin below entry notional / leverage.
- A malformed event (a field its kind needs is missing or out of range, a spot event on a perpetual,
  a lead equity before that is not positive) raises ``ValueError`` for the whole event: no copy
  can be planned. A copy whose own figures cannot be planned (an arithmetic error on its inputs)
  gets a ``failed`` intent with the error in its explanation; the other copies are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter

from .rounding import dec_text, exact, money_down, to_lot
from .sizing import ONE, OpenSizer
from .types import (
    FUTURES_EVENT_KINDS,
    REASON_ADD_CASH,
    REASON_AT_MINIMUM,
    REASON_CLOSE_BELOW_LOT,
    REASON_CROSS,
    REASON_ENDED,
    REASON_FAILED,
    REASON_LEVERAGE_CASH,
    REASON_LEVERAGE_UNCHANGED,
    REASON_MARGIN_ZERO,
    REASON_NOT_LINKED,
    REASON_SAFE,
    SPOT_EVENT_KINDS,
    CopyState,
    FollowerPosition,
    Instrument,
    Intent,
    LeadEvent,
    Policy,
)

DEFAULT_POLICY = Policy()
_by_copy_id = attrgetter("copy_id")
_by_position_id = attrgetter("id")


def plan_event(
    event: LeadEvent,
    copies: Sequence[CopyState],
    instrument: Instrument,
    policy: Policy = DEFAULT_POLICY,
) -> list[Intent]:
    """One intent per (copy, affected position), ordered by copy id."""
    kinds = SPOT_EVENT_KINDS if instrument.kind == "spot" else FUTURES_EVENT_KINDS
    if event.kind not in kinds:
        raise ValueError(f"event kind {event.kind!r} does not apply to a {instrument.kind}")
    if event.price_now is None or event.price_now <= 0:
        raise ValueError("price_now must be positive")
    ordered = sorted(copies, key=_by_copy_id)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.copy_id == after.copy_id:
            raise ValueError(f"copy {after.copy_id} appears twice")
    return _HANDLERS[event.kind](event, ordered, instrument, policy)


def _failed(
    copy_id: int, event_kind: str, exc: Exception, position_id: int | None = None
) -> Intent:
    return Intent(
        copy_id=copy_id,
        action="failed",
        position_id=position_id,
        reason=REASON_FAILED,
        explanation={"event": event_kind, "reason": REASON_FAILED, "error": repr(exc)[:200]},
    )


def _guard(copy_id: int, event_kind: str, plan: Callable[[], Intent], position_id=None) -> Intent:
    """Plan one copy; an error on that copy's own inputs fails that copy alone."""
    try:
        return plan()
    except (ArithmeticError, ValueError, TypeError) as exc:
        return _failed(copy_id, event_kind, exc, position_id)


# ---- opens -----------------------------------------------------------------------------------


def _lead_ratio(part: Decimal | None, equity_before: Decimal | None, what: str) -> Fraction:
    """The lead's share of equity, exact: lead margin (or amount) / lead equity before."""
    if part is None or part <= 0:
        raise ValueError(f"the event needs a positive {what}")
    if equity_before is None or equity_before <= 0:
        raise ValueError("the event needs a positive lead_equity_before")
    return exact(part) / exact(equity_before)


def _plan_open(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    if event.leverage is None:
        raise ValueError("an open needs the lead's leverage")
    sizer = OpenSizer(
        ratio=_lead_ratio(event.margin, event.lead_equity_before, "margin"),
        price=event.price_now,
        side=event.side,
        leverage=event.leverage,
        margin_mode=event.margin_mode,
        instrument=instrument,
        policy=policy,
        fill_price=event.fill_price,
        guard_slippage=event.guard_slippage,
        event_kind=event.kind,
    )
    size, kind = sizer.size, event.kind
    return [
        _guard(c.copy_id, kind, lambda c=c: size(c.copy_id, c.equity, c.available)) for c in copies
    ]


def _plan_spot_buy(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    sizer = OpenSizer(
        ratio=_lead_ratio(event.amount, event.lead_equity_before, "amount"),
        price=event.price_now,
        side="long",
        leverage=1,
        margin_mode=event.margin_mode,
        instrument=instrument,
        policy=policy,
        fill_price=event.fill_price,
        guard_slippage=event.guard_slippage,
        event_kind=event.kind,
    )
    size, kind = sizer.size, event.kind
    return [
        _guard(c.copy_id, kind, lambda c=c: size(c.copy_id, c.equity, c.available)) for c in copies
    ]


# ---- events on a linked position ---------------------------------------------------------------

PositionPlanner = Callable[[CopyState, FollowerPosition], Intent]


def _each_linked(event: LeadEvent, copies: list[CopyState], plan: PositionPlanner) -> list[Intent]:
    lead_id = event.lead_position_id
    if lead_id is None:
        raise ValueError(f"a {event.kind} event needs lead_position_id")
    out: list[Intent] = []
    for copy in copies:
        linked = [p for p in copy.positions if p.lead_position_id == lead_id]
        if not linked:
            out.append(
                Intent(
                    copy_id=copy.copy_id,
                    action="skip",
                    price=event.price_now,
                    reason=REASON_NOT_LINKED,
                    explanation={
                        "event": event.kind,
                        "lead_position_id": lead_id,
                        "reason": REASON_NOT_LINKED,
                    },
                )
            )
            continue
        if len(linked) > 1:
            linked.sort(key=_by_position_id)
        for position in linked:
            out.append(
                _guard(
                    copy.copy_id,
                    event.kind,
                    lambda copy=copy, position=position: plan(copy, position),
                    position.id,
                )
            )
    return out


def _skip(copy: CopyState, pos: FollowerPosition, price: Decimal, reason: str, exp: dict) -> Intent:
    exp["reason"] = reason
    return Intent(
        copy_id=copy.copy_id,
        action="skip",
        position_id=pos.id,
        price=price,
        leverage=pos.leverage,
        side=pos.side,
        margin_mode=pos.margin_mode,
        reason=reason,
        explanation=exp,
    )


def _unit(instrument: Instrument) -> Decimal:
    """Base units per contract: the contract value, or 1 for spot."""
    return ONE if instrument.kind == "spot" else instrument.contract_value


def _close_intent(
    copy: CopyState,
    pos: FollowerPosition,
    size: Decimal,
    close_all: bool,
    price: Decimal,
    instrument: Instrument,
    exp: dict,
) -> Intent:
    cv = exact(_unit(instrument))
    notional = exact(size) * cv * exact(price)
    fee = money_down(notional * exact(instrument.taker_fee))
    released = (
        pos.margin if close_all else money_down(exact(pos.margin) * exact(size) / exact(pos.size))
    )
    if instrument.kind == "spot":
        # a holding's "margin" is its cost basis at average cost: the sale realizes what it
        # fetches minus the cost it releases (SPEC §6: realized PnL uses average cost)
        realized = money_down(notional - exact(released))
    else:
        move = exact(size) * cv * (exact(price) - exact(pos.entry_price))
        realized = money_down(-move if pos.side == "short" else move)
    exp.update(
        {
            "size": dec_text(size),
            "close_all": close_all,
            "entry_price": dec_text(pos.entry_price),
            "price": dec_text(price),
            "realized_pnl": dec_text(realized),
            "fee": dec_text(fee),
            "margin_released": dec_text(released),
            "reason": "",
        }
    )
    return Intent(
        copy_id=copy.copy_id,
        action="close",
        position_id=pos.id,
        size=size,
        price=price,
        fee=fee,
        leverage=pos.leverage,
        side=pos.side,
        margin_mode=pos.margin_mode,
        realized_pnl=realized,
        margin_released=released,
        close_all=close_all,
        explanation=exp,
    )


def _close_share(event: LeadEvent) -> Fraction:
    """The exact share of a sub-position the lead closed: closed quantity / size before.
    Events recorded before the quantities were stored carry only their (rounded) fraction."""
    if event.size is not None and event.lead_size_before is not None:
        if event.size <= 0 or event.lead_size_before <= 0:
            raise ValueError(f"a {event.kind} event needs positive size and lead_size_before")
        return exact(event.size) / exact(event.lead_size_before)
    if event.fraction is None or event.fraction <= 0:
        raise ValueError(f"a {event.kind} event needs a positive fraction")
    return exact(event.fraction)


def _plan_partial_close(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    f = _close_share(event)
    price, lot, min_size = event.price_now, instrument.lot_size, instrument.min_size
    f_s = dec_text(f)

    def plan(copy: CopyState, pos: FollowerPosition) -> Intent:
        exp = {"event": event.kind, "fraction": f_s, "position_size": dec_text(pos.size)}
        if f >= 1:
            return _close_intent(copy, pos, pos.size, True, price, instrument, exp)
        # one exact quotient: follower size x closed quantity / lead size before
        size = to_lot(exact(pos.size) * f, lot)
        exp["rounded_size"] = dec_text(size)
        if size <= 0:
            return _skip(copy, pos, price, REASON_CLOSE_BELOW_LOT, exp)
        close_all = pos.size - size < min_size
        exp["remainder_below_min"] = close_all
        if close_all:
            size = pos.size
        return _close_intent(copy, pos, size, close_all, price, instrument, exp)

    return _each_linked(event, copies, plan)


def _plan_close(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    price = event.price_now

    def plan(copy: CopyState, pos: FollowerPosition) -> Intent:
        exp = {"event": event.kind, "position_size": dec_text(pos.size)}
        return _close_intent(copy, pos, pos.size, True, price, instrument, exp)

    return _each_linked(event, copies, plan)


def _plan_leverage(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    if event.leverage is None or event.leverage < 1:
        raise ValueError("a leverage event needs the new leverage >= 1")
    new_lev = event.leverage
    price, cv = event.price_now, exact(instrument.contract_value)

    def plan(copy: CopyState, pos: FollowerPosition) -> Intent:
        new_margin = money_down(exact(pos.size) * cv * exact(pos.entry_price) / new_lev)
        exp = {
            "event": event.kind,
            "old_leverage": pos.leverage,
            "new_leverage": new_lev,
            "old_margin": dec_text(pos.margin),
            "new_margin": dec_text(new_margin),
            "available": dec_text(copy.available),
        }
        if pos.leverage == new_lev:
            return _skip(copy, pos, price, REASON_LEVERAGE_UNCHANGED, exp)
        if new_margin > pos.margin and new_margin - pos.margin > copy.available:
            exp["reason"] = REASON_LEVERAGE_CASH
            return Intent(
                copy_id=copy.copy_id,
                action="sync_failed",
                position_id=pos.id,
                price=price,
                margin=pos.margin,
                leverage=pos.leverage,
                side=pos.side,
                margin_mode=pos.margin_mode,
                reason=REASON_LEVERAGE_CASH,
                explanation=exp,
            )
        exp["reason"] = ""
        return Intent(
            copy_id=copy.copy_id,
            action="set_leverage",
            position_id=pos.id,
            price=price,
            margin=new_margin,
            leverage=new_lev,
            side=pos.side,
            margin_mode=pos.margin_mode,
            explanation=exp,
        )

    return _each_linked(event, copies, plan)


def _margin_inputs(event: LeadEvent) -> tuple[Decimal, Decimal]:
    d, before = event.margin, event.lead_margin_before
    if d is None or d <= 0:
        raise ValueError(f"a {event.kind} event needs the margin delta d > 0")
    if before is None or before <= 0:
        raise ValueError(f"a {event.kind} event needs a positive lead_margin_before")
    return d, before


def _margin_intent(
    copy: CopyState, pos: FollowerPosition, action: str, delta: Decimal, price: Decimal, exp: dict
) -> Intent:
    reason = REASON_ADD_CASH if action == "sync_failed" else ""
    exp["reason"] = reason
    return Intent(
        copy_id=copy.copy_id,
        action=action,
        position_id=pos.id,
        price=price,
        margin=delta,
        leverage=pos.leverage,
        side=pos.side,
        margin_mode=pos.margin_mode,
        reason=reason,
        explanation=exp,
    )


def _plan_margin_add(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    d, lead_before = _margin_inputs(event)
    if instrument.mmr is None:
        raise ValueError("margin level needs the instrument's MMR")
    price, cv = event.price_now, exact(instrument.contract_value)
    rate = exact(instrument.mmr) + exact(instrument.taker_fee)
    skip_above = exact(policy.margin_level_skip)

    def plan(copy: CopyState, pos: FollowerPosition) -> Intent:
        exp: dict = {
            "event": event.kind,
            "lead_delta": dec_text(d),
            "old_margin": dec_text(pos.margin),
        }
        if pos.margin_mode != "isolated":
            return _skip(copy, pos, price, REASON_CROSS, exp)
        move = exact(pos.size) * cv * (exact(price) - exact(pos.entry_price))
        upnl = -move if pos.side == "short" else move
        maintenance = exact(pos.size) * cv * exact(price) * rate
        level = (exact(pos.margin) + upnl) / maintenance if maintenance > 0 else None
        exp["margin_level"] = dec_text(level, 6)
        if level is None or level > skip_above:
            return _skip(copy, pos, price, REASON_SAFE, exp)
        delta = money_down(exact(d) * exact(pos.margin) / exact(lead_before))
        exp["delta"] = dec_text(delta)
        exp["available"] = dec_text(copy.available)
        if delta <= 0:
            return _skip(copy, pos, price, REASON_MARGIN_ZERO, exp)
        if delta > copy.available:
            return _margin_intent(copy, pos, "sync_failed", delta, price, exp)
        exp["new_margin"] = dec_text(pos.margin + delta)
        return _margin_intent(copy, pos, "add_margin", delta, price, exp)

    return _each_linked(event, copies, plan)


def _plan_margin_reduce(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    d, lead_before = _margin_inputs(event)
    price, cv = event.price_now, exact(instrument.contract_value)

    def plan(copy: CopyState, pos: FollowerPosition) -> Intent:
        exp: dict = {
            "event": event.kind,
            "lead_delta": dec_text(d),
            "old_margin": dec_text(pos.margin),
        }
        if pos.margin_mode != "isolated":
            return _skip(copy, pos, price, REASON_CROSS, exp)
        wanted = money_down(exact(d) * exact(pos.margin) / exact(lead_before))
        floor = exact(pos.size) * cv * exact(pos.entry_price) / pos.leverage
        # margin - money_down(margin - floor) >= floor: the new margin never goes below the floor
        room = money_down(exact(pos.margin) - floor)
        delta = wanted if wanted <= room else room
        exp.update(
            {
                "wanted": dec_text(wanted),
                "floor": dec_text(floor),
                "clamped": delta != wanted,
                "delta": dec_text(delta),
            }
        )
        if delta <= 0:
            return _skip(copy, pos, price, REASON_AT_MINIMUM, exp)
        exp["new_margin"] = dec_text(pos.margin - delta)
        return _margin_intent(copy, pos, "reduce_margin", delta, price, exp)

    return _each_linked(event, copies, plan)


def _plan_ended(
    event: LeadEvent, copies: list[CopyState], instrument: Instrument, policy: Policy
) -> list[Intent]:
    return [
        Intent(
            copy_id=c.copy_id,
            action="stop",
            price=event.price_now,
            reason=REASON_ENDED,
            explanation={"event": event.kind, "reason": REASON_ENDED},
        )
        for c in copies
    ]


_HANDLERS = {
    "open": _plan_open,
    "partial_close": _plan_partial_close,
    "close": _plan_close,
    "liquidation": _plan_close,
    "leverage": _plan_leverage,
    "margin_add": _plan_margin_add,
    "margin_reduce": _plan_margin_reduce,
    "ended": _plan_ended,
    "spot_buy": _plan_spot_buy,
    "spot_sell": _plan_partial_close,
}
