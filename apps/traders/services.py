"""Lead traders and their trading (SPEC §2, §5).

Every lead action is a top-level money service with its own durable transaction. Locks, in
the global order: the LeadTrader row, then the lead's position, then ledger accounts (pk
order, inside ledger_post / positions_apply). Each action writes its ``LeadEvent`` (the
outbox) in the same transaction as the trade, so a trade is never mirrored unless it
happened, and never lost if it did.
Idempotency: the ledger keys are derived from the event id (``lead-event:<id>``), so a
trade's money is booked exactly once with the event.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict, InsufficientFunds, NotFound
from apps.core.inputs import parse_decimal
from apps.core.locks import for_update
from apps.core.money import exact, fmt_amount, fmt_usdt, to_decimal, to_lot, usdt, usdt_down
from apps.core.transactions import money_atomic
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import account_create, account_main, ledger_post
from apps.market import math as pmath
from apps.market.models import Instrument
from apps.market.selectors import price_get
from apps.market.services import venue_price
from apps.positions.models import LeadEvent, MarginMode, Position, Side
from apps.positions.outbox import lead_event_recorded
from apps.positions.selectors import account_figures_one
from apps.positions.services import (
    AddSpec,
    MarginSpec,
    OpenSpec,
    market_close_spec,
    positions_apply,
)
from apps.traders.models import LeadTrader

MAX_PROFIT_SHARE = Decimal("0.30")


# --- input parsing shared by the API, forms and services -----------------------------------
def parse_amount(value, *, field: str, label: str = "Amount") -> Decimal:
    return parse_decimal(value, field=field, label=label, positive=True)


def _instrument(value: Instrument | str, *, kind: str = Instrument.Kind.PERPETUAL) -> Instrument:
    if isinstance(value, Instrument):
        return value
    try:
        inst = Instrument.objects.get(name=str(value).upper(), active=True)
    except Instrument.DoesNotExist:
        raise ApplicationError(
            f"Unknown instrument {value!r}.",
            code="unknown_instrument",
            fields={"instrument": "Choose one of the listed instruments."},
        ) from None
    if inst.kind != kind:
        raise ApplicationError(
            f"{inst.name} is not a {kind} instrument.", fields={"instrument": "Wrong market."}
        )
    return inst


def _lock_lead(lead: LeadTrader | int, *, allow_ended: bool = False) -> LeadTrader:
    """Level 3 of apps.core.locks. An ended lead may only unwind (close positions)."""
    pk = lead.pk if isinstance(lead, LeadTrader) else lead
    try:
        locked = for_update(LeadTrader.objects).get(pk=pk)
    except (LeadTrader.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such lead trader.") from None
    if not locked.is_active and not allow_ended:
        raise Conflict("This lead trader has ended their strategy.", code="lead_not_active")
    return locked


def _lock_own_position(lead: LeadTrader, position: Position | int) -> Position:
    pk = position.pk if isinstance(position, Position) else position
    try:
        pos = (
            for_update(Position.objects, of=("self",))
            .select_related("instrument")
            .get(pk=pk, account_id=lead.futures_account_id, lead_position__isnull=True)
        )
    except Position.DoesNotExist:
        raise NotFound("No such position in your lead futures account.") from None
    if pos.status != Position.Status.OPEN:
        raise Conflict("This position is already closed.", code="position_closed")
    return pos


def _exec_side(position_side: str, *, opening: bool) -> str:
    buys = (position_side == Side.LONG) == opening
    return "buy" if buys else "sell"


# --- approval -------------------------------------------------------------------------------
def lead_trader_approve(
    *,
    email: str,
    nickname: str,
    profit_share_ratio: Decimal | str = Decimal("0.10"),
    max_copiers: int | None = None,
    bio: str = "",
    operator=None,
) -> LeadTrader:
    """Make an existing user a lead trader with a lead futures and a lead spot account."""
    User = get_user_model()
    try:
        ratio = to_decimal(profit_share_ratio)
    except (TypeError, ValueError):
        raise ApplicationError(
            "Profit share ratio must be a number between 0 and 0.30.",
            fields={"profit_share_ratio": "Enter a number between 0 and 0.30."},
        ) from None
    if not (0 <= ratio <= MAX_PROFIT_SHARE) or ratio != usdt(ratio):
        raise ApplicationError(
            "Profit share ratio must be between 0 and 0.30 (0% to 30%).",
            fields={"profit_share_ratio": "Between 0 and 0.30."},
        )
    nickname = (nickname or "").strip()
    if not nickname or len(nickname) > 40:
        raise ApplicationError(
            "A nickname of 1 to 40 characters is required.",
            fields={"nickname": "1 to 40 characters."},
        )
    if max_copiers is not None and (not isinstance(max_copiers, int) or max_copiers < 1):
        raise ApplicationError(
            "Max copiers must be a whole number of at least 1.",
            fields={"max_copiers": "At least 1."},
        )
    try:
        user = User.objects.get(email__iexact=(email or "").strip())
    except User.DoesNotExist:
        raise ApplicationError(
            f"No user with the e-mail {email!r}.", fields={"email": "No such user."}
        ) from None
    with money_atomic():
        if LeadTrader.objects.filter(user=user).exists():
            raise Conflict(f"{user.email} is already a lead trader.", code="already_lead")
        if LeadTrader.objects.filter(nickname__iexact=nickname).exists():
            raise Conflict(
                f"The nickname {nickname!r} is taken.",
                code="nickname_taken",
                fields={"nickname": "Taken."},
            )
        futures = account_create(
            kind=Account.Kind.LEAD_FUTURES, owner=user, code=f"lead_futures:{user.pk}"
        )
        spot = account_create(kind=Account.Kind.LEAD_SPOT, owner=user, code=f"lead_spot:{user.pk}")
        extra = {} if max_copiers is None else {"max_copiers": max_copiers}
        try:
            lead = LeadTrader.objects.create(
                user=user,
                nickname=nickname,
                bio=bio,
                profit_share_ratio=ratio,
                futures_account=futures,
                spot_account=spot,
                approved_by=operator,
                **extra,
            )
        except IntegrityError:
            raise Conflict("This lead trader already exists.", code="already_lead") from None
    account_main(user=user)
    return lead


def lead_trader_end(*, lead: LeadTrader | int, actor=None) -> LeadTrader:
    """End the strategy: no more copies can start; every copy, futures and spot, is stopped by
    mirroring an ``ended`` event on each lead account (positions closed and holdings sold at
    market, profit share settled, cash returned)."""
    with money_atomic():
        locked = _lock_lead(lead)
        locked.status = LeadTrader.Status.ENDED
        locked.ended_at = timezone.now()
        locked.save(update_fields=["status", "ended_at"])
        for account_id in (locked.futures_account_id, locked.spot_account_id):
            event = LeadEvent.objects.create(account_id=account_id, kind=LeadEvent.Kind.ENDED)
            lead_event_recorded(event.pk)
    return locked


# --- transfers ----------------------------------------------------------------------------
def lead_transfer(
    *, lead: LeadTrader, market: str, direction: str, amount, key: str | None = None
) -> Account:
    """Move cash between the lead's main account and a lead account. Out moves only free
    cash (margin in use and open cross losses stay)."""
    amount = parse_amount(amount, field="amount_usdt")
    if market not in ("futures", "spot"):
        raise ApplicationError(
            "Market must be futures or spot.", fields={"market": "futures or spot"}
        )
    if direction not in ("in", "out"):
        raise ApplicationError("Direction must be in or out.", fields={"direction": "in or out"})
    key = key or f"lead-transfer:{uuid.uuid4()}"
    with money_atomic():
        locked = for_update(LeadTrader.objects).get(pk=lead.pk)
        lead_acc_id = locked.futures_account_id if market == "futures" else locked.spot_account_id
        main = account_main(user=locked.user)
        if direction == "in":
            if locked.status != LeadTrader.Status.ACTIVE:
                raise Conflict("Your strategy has ended: you can only move money out.")
            # Said here in the lead's words (the ledger's own refusal names internal accounts);
            # ledger_post still locks the main account and refuses a race past this read.
            if amount > main.balance:
                raise InsufficientFunds(
                    f"Your main account holds {fmt_usdt(main.balance)} USDT: that is all you can "
                    "move in.",
                    fields={"amount_usdt": f"At most {fmt_amount(main.balance)}."},
                )
            postings = [(main.pk, -amount), (lead_acc_id, amount)]
        else:
            free = account_figures_one(lead_acc_id).available
            if amount > free:
                raise InsufficientFunds(
                    f"Only {fmt_amount(free)} USDT is free in your lead {market} account "
                    "(margin in use stays).",
                    fields={"amount_usdt": f"At most {fmt_amount(free)}."},
                )
            postings = [(lead_acc_id, -amount), (main.pk, amount)]
        ledger_post(
            key=key,
            kind=JournalEntry.Kind.TRANSFER,
            postings=postings,
            memo=f"lead {market} transfer {direction}",
        )
    return Account.objects.get(pk=lead_acc_id)


# --- trading ------------------------------------------------------------------------------
def _parse_leverage(value, instrument: Instrument) -> int:
    try:
        lev = int(str(value))
    except (TypeError, ValueError):
        raise ApplicationError(
            "Leverage must be a whole number.", fields={"leverage": "Whole number."}
        ) from None
    if not 1 <= lev <= (instrument.max_leverage or 1):
        raise ApplicationError(
            f"Leverage must be between 1 and {instrument.max_leverage}x for {instrument.name}.",
            fields={"leverage": f"1 to {instrument.max_leverage}."},
        )
    return lev


def _refuse_without_equity(equity: Decimal, *, account: str = "futures") -> None:
    """Smart Sync sizes every copy by the lead's share of equity: with no positive equity
    (isolated losses can exceed the free cash) there is no share to copy."""
    if equity <= 0:
        field = "margin_usdt" if account == "futures" else "amount_usdt"
        raise ApplicationError(
            f"Your lead {account} account's equity is {fmt_amount(equity)} USDT: you cannot "
            "trade until it is above 0. Transfer funds in first.",
            code="no_equity",
            fields={field: "Your account equity must be above 0."},
        )


def open_quote(
    *, instrument: Instrument, margin: Decimal, leverage: int, price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """What an open of ``margin`` USDT at ``leverage`` will be at ``price``: (contracts, margin
    used, fee). Each is one exact quotient rounded once (SPEC §3). Refuses a margin below the
    minimum size. The lead console shows this before the lead confirms."""
    inst, lev = instrument, leverage
    size = to_lot(exact(margin) * lev / (exact(price) * exact(inst.contract_value)), inst.lot_size)
    if size < inst.min_size:
        need = usdt_down(pmath.initial_margin(inst.min_size, inst.contract_value, price, lev))
        raise ApplicationError(
            f"Margin too small: the minimum size {inst.min_size.normalize()} contracts needs "
            f"{fmt_amount(need)} USDT at {lev}x.",
            code="below_min_size",
            fields={"margin_usdt": f"At least {fmt_amount(need)}."},
        )
    used = usdt_down(pmath.initial_margin(size, inst.contract_value, price, lev))
    fee = usdt_down(exact(pmath.notional(size, inst.contract_value, price)) * exact(inst.taker_fee))
    return size, used, fee


def open_fits(*, used: Decimal, fee: Decimal, available: Decimal) -> bool:
    """An open is paid from the lead futures account's available: its margin and its fee."""
    return used + fee <= available


def lead_position_open(
    *,
    lead: LeadTrader,
    instrument: Instrument | str,
    side: str,
    margin_mode: str,
    leverage,
    margin,
) -> Position:
    """Open a new lead sub-position at market (hedge mode: every open is its own)."""
    inst = _instrument(instrument)
    if side not in Side.values:
        raise ApplicationError("Side must be long or short.", fields={"side": "long or short"})
    if margin_mode not in (MarginMode.CROSS, MarginMode.ISOLATED):  # spot is a holding, not a mode
        raise ApplicationError(
            "Margin mode must be cross or isolated.", fields={"margin_mode": "cross or isolated"}
        )
    lev = _parse_leverage(leverage, inst)
    margin = parse_amount(margin, field="margin_usdt", label="Margin")
    with money_atomic():
        locked = _lock_lead(lead)
        for_update(Account.objects).get(pk=locked.futures_account_id)
        figures = account_figures_one(locked.futures_account_id)
        _refuse_without_equity(figures.equity)
        price = venue_price(instrument=inst, side=_exec_side(side, opening=True))
        size, used, fee = open_quote(instrument=inst, margin=margin, leverage=lev, price=price)
        if not open_fits(used=used, fee=fee, available=figures.available):
            raise InsufficientFunds(
                f"Margin {fmt_amount(used)} + fee {fmt_amount(fee)} USDT exceeds the {fmt_amount(figures.available)} USDT "
                "available in your lead futures account.",
                fields={"margin_usdt": "Not enough available."},
            )
        event = LeadEvent.objects.create(
            account_id=locked.futures_account_id,
            kind=LeadEvent.Kind.OPEN,
            instrument=inst,
            side=side,
            margin_mode=margin_mode,
            leverage=lev,
            fill_price=price,
            size=size,
            margin=used,
            lead_equity_before=usdt_down(figures.equity),
        )
        result = positions_apply(
            key=f"lead-event:{event.pk}",
            memo=f"lead open {inst.name}",
            opens=[
                OpenSpec(
                    account_id=locked.futures_account_id,
                    instrument_id=inst.pk,
                    side=side,
                    margin_mode=margin_mode,
                    leverage=lev,
                    size=size,
                    price=price,
                    margin=used,
                    fee=fee,
                    lead_event_id=event.pk,
                )
            ],
        )
        event.position_id = result.opened[0]
        event.save(update_fields=["position"])
        lead_event_recorded(event.pk)
    return Position.objects.get(pk=result.opened[0])


def _fraction(value) -> Decimal:
    try:
        f = to_decimal(value)
    except (TypeError, ValueError):
        f = Decimal(-1)
    if not (0 < f <= 1):
        raise ApplicationError(
            "Fraction must be greater than 0 and at most 1 (1 closes all).",
            fields={"fraction": "0 < fraction <= 1"},
        )
    return f


def _fraction_quantity(position: Position, inst: Instrument, f: Decimal, *, verb: str) -> Decimal:
    """The quantity a lead's close (or spot sell) of fraction ``f`` takes: one exact product
    floored to the lot; a remainder below the minimum size goes too."""
    size = position.size
    qty = size if f == 1 else to_lot(exact(size) * exact(f), inst.lot_size)
    if size - qty < inst.min_size:
        qty = size
    if qty <= 0:
        raise ApplicationError(
            f"That fraction {verb} less than one lot ({inst.lot_size.normalize()}).",
            fields={"fraction": "Too small."},
        )
    return qty


def _book_lead_close(event: LeadEvent, position: Position, *, memo: str) -> None:
    """Book the lead's side of a close or spot sell event (its size at its fill price), then
    hand the event to the mirroring."""
    positions_apply(
        key=f"lead-event:{event.pk}",
        memo=memo,
        closes=[
            market_close_spec(
                position=position,
                instrument=event.instrument,
                quantity=event.size,
                price=event.fill_price,
                reason=Position.CloseReason.LEAD,
                lead_event_id=event.pk,
            )
        ],
    )
    lead_event_recorded(event.pk)


def lead_position_close(*, lead: LeadTrader, position: Position | int, fraction) -> Position:
    """Close a fraction (0 < f <= 1) of a sub-position at market. A remainder below the
    minimum size is closed too; the event records the fraction actually closed."""
    f = _fraction(fraction)
    with money_atomic():
        locked = _lock_lead(lead, allow_ended=True)  # an ended lead may still unwind
        pos = _lock_own_position(locked, position)
        inst = pos.instrument
        qty = _fraction_quantity(pos, inst, f, verb="closes")
        price = venue_price(instrument=inst, side=_exec_side(pos.side, opening=False))
        full = qty == pos.size
        event = LeadEvent.objects.create(
            account_id=locked.futures_account_id,
            kind=LeadEvent.Kind.CLOSE if full else LeadEvent.Kind.PARTIAL_CLOSE,
            position=pos,
            instrument=inst,
            side=pos.side,
            margin_mode=pos.margin_mode,
            leverage=pos.leverage,
            fill_price=price,
            size=qty,
            lead_size_before=pos.size,  # followers close exactly size x qty / this
            fraction=Decimal(1) if full else qty / pos.size,  # display only
        )
        _book_lead_close(event, pos, memo=f"lead close {qty} {inst.name}")
    pos.refresh_from_db()
    return pos


def lead_position_leverage(*, lead: LeadTrader, position: Position | int, leverage) -> Position:
    """Change a sub-position's leverage; its margin becomes entry notional / new leverage."""
    with money_atomic():
        locked = _lock_lead(lead)
        pos = _lock_own_position(locked, position)
        lev = _parse_leverage(leverage, pos.instrument)
        if lev == pos.leverage:
            raise ApplicationError(
                f"The position is already at {lev}x.", fields={"leverage": "Unchanged."}
            )
        for_update(Account.objects).get(pk=locked.futures_account_id)
        new_margin = usdt_down(
            pmath.initial_margin(pos.size, pos.instrument.contract_value, pos.entry_price, lev)
        )
        if new_margin > pos.margin:
            free = account_figures_one(locked.futures_account_id).available
            if new_margin - pos.margin > free:
                raise InsufficientFunds(
                    f"Lowering leverage to {lev}x needs {fmt_amount(new_margin - pos.margin)} USDT more "
                    f"margin; {fmt_amount(free)} USDT is available.",
                    fields={"leverage": "Not enough available."},
                )
        event = LeadEvent.objects.create(
            account_id=locked.futures_account_id,
            kind=LeadEvent.Kind.LEVERAGE,
            position=pos,
            instrument=pos.instrument,
            side=pos.side,
            margin_mode=pos.margin_mode,
            leverage=lev,
            previous_leverage=pos.leverage,
            lead_margin_before=pos.margin,
            margin=new_margin,
        )
        positions_apply(
            key=f"lead-event:{event.pk}", margin_changes=[MarginSpec(pos.pk, new_margin, lev)]
        )
        lead_event_recorded(event.pk)
    pos.refresh_from_db()
    return pos


def lead_position_margin(*, lead: LeadTrader, position: Position | int, amount) -> Position:
    """Add (amount > 0) or reduce (amount < 0) an isolated sub-position's margin. Reducing
    never goes below entry notional / leverage."""
    delta = parse_decimal(amount, field="amount_usdt", label="Amount")
    if delta == 0:
        raise ApplicationError(
            "Amount must not be 0: a positive amount adds margin, a negative one reduces it.",
            fields={"amount_usdt": "Non-zero number."},
        )
    with money_atomic():
        locked = _lock_lead(lead)
        pos = _lock_own_position(locked, position)
        if pos.margin_mode != MarginMode.ISOLATED:
            raise ApplicationError(
                "Margin can only be added to or reduced from isolated positions.",
                code="not_isolated",
                fields={"amount_usdt": "Cross positions share margin."},
            )
        for_update(Account.objects).get(pk=locked.futures_account_id)
        if delta > 0:
            free = account_figures_one(locked.futures_account_id).available
            if delta > free:
                raise InsufficientFunds(
                    f"Only {fmt_amount(free)} USDT is available to add.",
                    fields={"amount_usdt": f"At most {fmt_amount(free)}."},
                )
        else:
            floor = usdt_down(
                pmath.initial_margin(
                    pos.size, pos.instrument.contract_value, pos.entry_price, pos.leverage
                )
            )
            if pos.margin + delta < floor:
                raise ApplicationError(
                    f"Margin cannot go below {fmt_amount(floor)} USDT (entry notional / leverage); "
                    f"you can reduce by at most {fmt_amount(max(Decimal(0), pos.margin - floor))} USDT.",
                    code="below_initial_margin",
                    fields={"amount_usdt": "Too much."},
                )
        event = LeadEvent.objects.create(
            account_id=locked.futures_account_id,
            kind=LeadEvent.Kind.MARGIN_ADD if delta > 0 else LeadEvent.Kind.MARGIN_REDUCE,
            position=pos,
            instrument=pos.instrument,
            side=pos.side,
            margin_mode=pos.margin_mode,
            leverage=pos.leverage,
            margin=abs(delta),
            lead_margin_before=pos.margin,
            fill_price=price_get(pos.instrument),
        )
        positions_apply(
            key=f"lead-event:{event.pk}", margin_changes=[MarginSpec(pos.pk, pos.margin + delta)]
        )
        lead_event_recorded(event.pk)
    pos.refresh_from_db()
    return pos


# --- spot trading (SPEC §6) -------------------------------------------------------------------
def _spot_holding(lead: LeadTrader, inst: Instrument) -> Position | None:
    """The lead's one open holding of an asset (average cost), locked (level 5)."""
    return (
        for_update(Position.objects, of=("self",))
        .filter(
            account_id=lead.spot_account_id,
            instrument=inst,
            status=Position.Status.OPEN,
            lead_position__isnull=True,
        )
        .first()
    )


def spot_buy_quote(*, instrument: Instrument, amount: Decimal, price: Decimal):
    """What a market buy of ``amount`` USDT gets at ``price``: (quantity, cost, fee). Quantity
    rounds down to the lot; the fee is the taker fee on the amount spent, on top (SPEC §6)."""
    qty = to_lot(exact(amount) / exact(price), instrument.lot_size)
    if qty < instrument.min_size:
        need = usdt_down(exact(instrument.min_size) * exact(price))
        raise ApplicationError(
            f"Amount too small: the minimum {instrument.min_size.normalize()} "
            f"{instrument.base_asset} costs {fmt_amount(need)} USDT at {fmt_amount(price)}.",
            code="below_min_size",
            fields={"amount_usdt": f"At least {fmt_amount(need)}."},
        )
    cost = usdt_down(exact(qty) * exact(price))
    fee = usdt_down(exact(cost) * exact(instrument.taker_fee))
    return qty, cost, fee


def lead_spot_buy(*, lead: LeadTrader, instrument: Instrument | str, amount) -> Position:
    """A market buy of ``amount`` USDT of an asset on the lead spot account, added to the lead's
    holding at average cost, with its ``spot_buy`` lead event (ratio = amount spent / spot
    equity before). Locks: the lead (3), the holding (5), ledger accounts (6)."""
    inst = _instrument(instrument, kind=Instrument.Kind.SPOT)
    amount = parse_amount(amount, field="amount_usdt", label="Amount")
    with money_atomic():
        locked = _lock_lead(lead)
        for_update(Account.objects).get(pk=locked.spot_account_id)
        figures = account_figures_one(locked.spot_account_id)
        _refuse_without_equity(figures.equity, account="spot")
        price = venue_price(instrument=inst, side="buy")
        qty, cost, fee = spot_buy_quote(instrument=inst, amount=amount, price=price)
        if cost + fee > figures.available:
            raise InsufficientFunds(
                f"Buying {fmt_amount(cost)} USDT of {inst.base_asset} + fee {fmt_amount(fee)} USDT "
                f"needs more than the {fmt_amount(figures.available)} USDT available in your "
                "lead spot account.",
                fields={"amount_usdt": f"At most about {fmt_amount(figures.available)}."},
            )
        holding = _spot_holding(locked, inst)
        event = LeadEvent.objects.create(
            account_id=locked.spot_account_id,
            kind=LeadEvent.Kind.SPOT_BUY,
            instrument=inst,
            side=Side.LONG,
            margin_mode=MarginMode.SPOT,
            leverage=1,
            fill_price=price,
            size=qty,
            amount=cost,
            lead_equity_before=usdt_down(figures.equity),
        )
        if holding is None:
            result = positions_apply(
                key=f"lead-event:{event.pk}",
                memo=f"lead spot buy {inst.name}",
                opens=[
                    OpenSpec(
                        account_id=locked.spot_account_id,
                        instrument_id=inst.pk,
                        side=Side.LONG,
                        margin_mode=MarginMode.SPOT,
                        leverage=1,
                        size=qty,
                        price=price,
                        margin=cost,
                        fee=fee,
                        lead_event_id=event.pk,
                    )
                ],
            )
            holding_id = result.opened[0]
        else:
            holding_id = holding.pk
            positions_apply(
                key=f"lead-event:{event.pk}",
                memo=f"lead spot buy {inst.name}",
                adds=[
                    AddSpec(
                        position_id=holding.pk,
                        account_id=locked.spot_account_id,
                        size=qty,
                        price=price,
                        cost=cost,
                        fee=fee,
                        lead_event_id=event.pk,
                    )
                ],
            )
        event.position_id = holding_id
        event.save(update_fields=["position"])
        lead_event_recorded(event.pk)
    return Position.objects.get(pk=holding_id)


def lead_spot_sell(*, lead: LeadTrader, instrument: Instrument | str, fraction) -> Position:
    """Sell a fraction (0 < f <= 1) of the lead's holding of an asset at market: it receives
    quantity x price less the taker fee (SPEC §6). A remainder below the minimum is sold too;
    the ``spot_sell`` event records the quantity sold and the holding before, so followers
    sell exactly that share of their copied holding. An ended lead may still sell."""
    inst = _instrument(instrument, kind=Instrument.Kind.SPOT)
    f = _fraction(fraction)
    with money_atomic():
        locked = _lock_lead(lead, allow_ended=True)
        holding = _spot_holding(locked, inst)
        if holding is None:
            raise NotFound(
                f"You hold no {inst.base_asset} in your lead spot account.",
                fields={"instrument": "Nothing to sell."},
            )
        qty = _fraction_quantity(holding, inst, f, verb="sells")
        price = venue_price(instrument=inst, side="sell")
        event = LeadEvent.objects.create(
            account_id=locked.spot_account_id,
            kind=LeadEvent.Kind.SPOT_SELL,
            position=holding,
            instrument=inst,
            side=Side.LONG,
            margin_mode=MarginMode.SPOT,
            leverage=1,
            fill_price=price,
            size=qty,
            lead_size_before=holding.size,
            fraction=Decimal(1) if qty == holding.size else qty / holding.size,  # display only
        )
        _book_lead_close(event, holding, memo=f"lead spot sell {qty} {inst.name}")
    holding.refresh_from_db()
    return holding
