"""Copies: start, modify, stop, close by hand (SPEC §5.1, §5.4).

Every function here is a top-level money service that owns a durable transaction.
Locks, in the global order: the follower's User row, the LeadTrader row (start only), the
Copy row(s), positions, then ledger accounts (pk order, inside the ledger). Every write to a
copy account happens under its Copy row lock, which is what lets mirroring read balances
without locking the accounts first.

Idempotency keys: ``copy-start:<copy>``, ``copy-ongoing:<copy>``,
``copy-investment:<copy>:<n>``, ``stop:<lowest copy of the batch>``, ``copy-return:<copy>``,
``manual-close:<position>:<its fills so far>``. Starting twice is refused by the
one-active-copy constraint; a repeated "set total investment to X" is a no-op the second time.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from apps.accounts.services import notification_create, notifications_create_bulk
from apps.copies import engine, hooks, notices
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures
from apps.core.bulk import bulk_insert, bulk_set
from apps.core.exceptions import ApplicationError, Conflict, InsufficientFunds, NotFound
from apps.core.inputs import parse_decimal
from apps.core.locks import for_update, lock_one, lock_user
from apps.core.money import ZERO, exact, fmt_amount, usdt_down
from apps.core.transactions import money_atomic
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import (
    EntrySpec,
    account_create,
    account_main,
    ledger_post,
    ledger_post_batch,
)
from apps.market.models import Instrument
from apps.market.services import venue_price
from apps.positions.models import Fill, LeadEvent, Position
from apps.positions.selectors import account_figures, account_figures_one, realized_totals
from apps.positions.services import CloseSpec, market_close_spec, positions_apply
from apps.traders.models import LeadTrader


def main_account_ids(user_ids) -> dict[int, int]:
    """user id -> main account id, one query (every copier has one: it funded the copy)."""
    return dict(
        Account.objects.filter(kind=Account.Kind.MAIN, owner_id__in=list(user_ids)).values_list(
            "owner_id", "pk"
        )
    )


def _conf(name):
    return settings.SMART_SYNC[name]


def _money(value, *, field: str, label: str) -> Decimal:
    return parse_decimal(value, field=field, label=label)


def _stop_loss(value, *, investment: Decimal) -> Decimal | None:
    if value in (None, ""):
        return None
    amount = _money(value, field="total_stop_loss_usdt", label="Total Stop Loss for Trader")
    if amount <= 0 or amount >= investment:
        raise ApplicationError(
            f"Total Stop Loss for Trader must be more than 0 and less than your total "
            f"investment ({fmt_amount(investment)} USDT).",
            code="invalid_stop_loss",
            fields={"total_stop_loss_usdt": f"Between 0 and {fmt_amount(investment)} (exclusive)."},
        )
    return amount


def _stop_loss_action(value) -> str:
    value = value or Copy.StopLossAction.CLOSE_ALL
    if value not in Copy.StopLossAction.values:
        raise ApplicationError(
            "Stop loss action must be close_all, keep or hand_over.",
            fields={"stop_loss_action": "close_all, keep or hand_over"},
        )
    return value


def _lock_copy(copy: Copy | int, *, user=None) -> Copy:
    """Level 4 of apps.core.locks: one copy row (the follower's own when ``user`` is given)."""
    qs = Copy.objects.select_related("lead__user")
    if user is not None:
        qs = qs.filter(follower=user)
    return lock_one(qs, copy.pk if isinstance(copy, Copy) else copy, missing="No such copy.")


# --- start ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CopyRequest:
    """A valid request to start a copy (the wizard's steps and the API share this check)."""

    investment: Decimal
    stop_loss: Decimal | None
    stop_loss_action: str
    market: str


def copy_request_validate(
    *,
    market: str = Copy.Market.FUTURES,
    total_investment,
    total_stop_loss=None,
    stop_loss_action: str | None = None,
) -> CopyRequest:
    """SPEC §5.1's checks that need no database: amounts, stop loss, action, market."""
    investment = _money(total_investment, field="total_investment_usdt", label="Total Investment")
    minimum = _conf("MIN_INVESTMENT")
    if investment < minimum:
        raise ApplicationError(
            f"The minimum Total Investment is {fmt_amount(minimum)} USDT.",
            code="below_minimum",
            fields={"total_investment_usdt": f"At least {fmt_amount(minimum)} USDT."},
        )
    stop_loss = _stop_loss(total_stop_loss, investment=investment)
    action = _stop_loss_action(stop_loss_action)
    if market not in Copy.Market.values:
        raise ApplicationError(
            "Market must be futures or spot.", fields={"market": "futures or spot"}
        )
    return CopyRequest(investment, stop_loss, action, market)


def copy_start(
    *,
    follower,
    lead: LeadTrader | int,
    market: str = Copy.Market.FUTURES,
    total_investment,
    copy_ongoing_positions: bool = False,
    total_stop_loss=None,
    stop_loss_action: str | None = None,
) -> Copy:
    """Start a Smart Sync copy: validate (SPEC §5.1), move the investment into a new copy
    account, snapshot the lead's profit share ratio and, with Copy Ongoing Positions, open
    every current lead sub-position at market (ratio = its margin / lead equity now).

    Locks: the follower (level 2), the lead trader (3), the main account (6). Idempotency:
    the one-active-copy constraint refuses a second start; the ledger key is
    ``copy-start:<copy>``; requests add their Idempotency-Key (apps.accounts.idempotency)."""
    req = copy_request_validate(
        market=market,
        total_investment=total_investment,
        total_stop_loss=total_stop_loss,
        stop_loss_action=stop_loss_action,
    )
    with money_atomic():
        lock_user(follower)
        locked_lead = _start_lock_lead(lead)
        _start_refusals(follower, locked_lead, req)
        main = account_main(user=follower)
        _start_refuse_short(main, req.investment)
        copy = _start_create(follower, locked_lead, req, copy_ongoing_positions)
        ledger_post(
            key=f"copy-start:{copy.pk}",
            kind=JournalEntry.Kind.COPY_FUNDING,
            postings=[(main.pk, -req.investment), (copy.account_id, req.investment)],
            memo=f"Smart Sync copy of {locked_lead.nickname}",
        )
        CopyEvent.objects.create(copy=copy, kind=CopyEvent.Kind.STARTED, amount=req.investment)
        if copy_ongoing_positions:
            _copy_ongoing_positions(copy, locked_lead)
        _, kind, message, data = notices.copy_started(
            user_id=follower.pk,
            copy_id=copy.pk,
            nickname=locked_lead.nickname,
            investment=req.investment,
        )
        notification_create(user=follower, kind=kind, message=message, data=data)
    return copy


def _start_lock_lead(lead: LeadTrader | int) -> LeadTrader:
    lead_pk = lead.pk if isinstance(lead, LeadTrader) else lead
    try:
        return lock_one(
            LeadTrader.objects.select_related("user"), lead_pk, missing="No such lead trader."
        )
    except NotFound:
        raise NotFound("No such lead trader.", fields={"trader": "Unknown trader."}) from None


def copy_start_check(
    *,
    follower,
    lead: LeadTrader | int,
    market: str = Copy.Market.FUTURES,
    total_investment=None,
    total_stop_loss=None,
    stop_loss_action: str | None = None,
) -> CopyRequest | None:
    """``copy_start``'s refusals without moving money or taking locks, in the same order and
    words, for the copy wizard to show next to their field before the person confirms.
    Without ``total_investment`` only the refusals about the trader and the follower's copies
    run (copying yourself, an ended or full lead, a duplicate, too many copies) and None is
    returned. ``copy_start`` checks everything again under its locks: this is advice, not a
    reservation."""
    req = None
    if total_investment is not None:
        req = copy_request_validate(
            market=market,
            total_investment=total_investment,
            total_stop_loss=total_stop_loss,
            stop_loss_action=stop_loss_action,
        )
    lead_pk = lead.pk if isinstance(lead, LeadTrader) else lead
    found = LeadTrader.objects.filter(pk=lead_pk).first()
    if found is None:
        raise NotFound("No such lead trader.", fields={"trader": "Unknown trader."})
    _start_refusals_for(follower, found, market)
    if req is not None:
        main = Account.objects.filter(kind=Account.Kind.MAIN, owner=follower).first()
        _refuse_short(main.balance if main else ZERO, req.investment)
    return req


def copy_stop_loss_amount(*, total_investment, value, unit: str = "usdt") -> Decimal | None:
    """Total Stop Loss for Trader as an amount: ``value`` USDT (``unit="usdt"``) or ``value`` %
    of the Total Investment (``unit="percent"``, more than 0 and less than 100), rounded toward
    zero at 8 places. Empty means no stop loss (None). The amount is then checked like any
    other (``copy_request_validate``)."""
    if value in (None, ""):
        return None
    if unit == "usdt":
        return _money(value, field="total_stop_loss_usdt", label="Total Stop Loss for Trader")
    if unit != "percent":
        raise ApplicationError(
            "The stop loss unit must be USDT or % of the Total Investment.",
            fields={"total_stop_loss_usdt": "USDT or %."},
        )
    investment = _money(total_investment, field="total_investment_usdt", label="Total Investment")
    percent = _money(value, field="total_stop_loss_usdt", label="Total Stop Loss for Trader")
    if not 0 < percent < 100:
        raise ApplicationError(
            "A Total Stop Loss for Trader in % must be more than 0 and less than 100 "
            f"(got {value}).",
            code="invalid_stop_loss",
            fields={"total_stop_loss_usdt": "Between 0 and 100 % (exclusive)."},
        )
    return usdt_down(exact(investment) * exact(percent) / 100)


def _start_refusals(follower, lead: LeadTrader, req: CopyRequest) -> None:
    """SPEC §5.1's refusals that read the database (under the follower and lead locks)."""
    _start_refusals_for(follower, lead, req.market)


def _start_refusals_for(follower, lead: LeadTrader, market: str) -> None:
    if lead.user_id == follower.pk:
        raise ApplicationError(
            "You cannot copy yourself.", code="self_copy", fields={"trader": "That is you."}
        )
    if not lead.is_active:
        raise Conflict(
            f"{lead.nickname} has ended their strategy and cannot be copied.",
            code="lead_not_active",
        )
    mine = Copy.objects.filter(follower=follower, status=Copy.Status.ACTIVE)
    if mine.filter(lead=lead, market=market).exists():
        raise Conflict(
            f"You are already copying {lead.nickname}. Change its Settings instead.",
            code="duplicate_copy",
        )
    limit = _conf("MAX_ACTIVE_COPIES")
    if mine.count() >= limit:
        raise Conflict(
            f"You already have {limit} active copies, the most allowed. Stop one first.",
            code="too_many_copies",
        )
    copiers = Copy.objects.filter(lead=lead, market=market, status=Copy.Status.ACTIVE)
    if copiers.count() >= lead.max_copiers:
        raise Conflict(f"{lead.nickname} is full ({lead.max_copiers} copiers).", code="lead_full")


def _start_refuse_short(main: Account, investment: Decimal) -> None:
    _refuse_short(for_update(Account.objects).get(pk=main.pk).balance, investment)


def _refuse_short(balance: Decimal, investment: Decimal) -> None:
    if balance < investment:
        raise InsufficientFunds(
            f"Your main account has {fmt_amount(balance)} USDT available; you asked to invest "
            f"{fmt_amount(investment)} USDT. Invest less, or have more deposited into your main account first.",
            fields={"total_investment_usdt": f"At most {fmt_amount(balance)} USDT."},
        )


def _start_create(follower, lead: LeadTrader, req: CopyRequest, ongoing: bool) -> Copy:
    lead_account = _lead_account(lead, req.market)
    last_event = (
        LeadEvent.objects.filter(account_id=lead_account)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    account = account_create(
        kind=Account.Kind.COPY, owner=follower, code=f"copy:new:{follower.pk}:{lead.pk}"
    )
    try:
        copy = Copy.objects.create(
            follower=follower,
            lead=lead,
            market=req.market,
            account=account,
            total_investment=req.investment,
            copy_ongoing_positions=bool(ongoing),
            total_stop_loss=req.stop_loss,
            stop_loss_action=req.stop_loss_action,
            profit_share_ratio=lead.profit_share_ratio,
            start_after_event_id=last_event or 0,
        )
    except IntegrityError:
        raise Conflict("You are already copying this trader.", code="duplicate_copy") from None
    account.code = f"copy:{copy.pk}"
    account.save(update_fields=["code"])
    return copy


def _lead_account(lead: LeadTrader, market: str) -> int:
    """The lead account a copy of ``market`` follows."""
    return lead.spot_account_id if market == Copy.Market.SPOT else lead.futures_account_id


def _copy_ongoing_positions(copy: Copy, lead: LeadTrader) -> None:
    """Open each current lead sub-position at market, ratio = its margin / lead equity now,
    without the slippage guard (the follower asked for market)."""
    mine = account_figures_one(copy.account_id)
    planned = engine.ongoing_intents(
        lead_account_id=_lead_account(lead, copy.market),
        copy_id=copy.pk,
        equity=mine.equity,
        available=mine.available,
    )
    opens, events = [], []
    for lp, intent in planned:
        if intent.action == "open":
            opens.append(
                engine.open_spec(
                    intent,
                    account_id=copy.account_id,
                    instrument_id=lp.instrument_id,
                    lead_position_id=lp.id,
                    reference_price=lp.entry_price,
                    lead_event_id=None,
                )
            )
            events.append(
                {
                    "copy_id": copy.pk,
                    "kind": CopyEvent.Kind.COPIED,
                    "explanation": intent.explanation,
                }
            )
        else:
            events.append(
                {
                    "copy_id": copy.pk,
                    "kind": CopyEvent.Kind.MISSED,
                    "reason": intent.reason,
                    "explanation": intent.explanation,
                }
            )
    result = positions_apply(
        key=f"copy-ongoing:{copy.pk}", memo="Copy Ongoing Positions", opens=opens
    )
    opened = iter(result.opened)
    for ev in events:
        if ev["kind"] == CopyEvent.Kind.COPIED:
            ev["position_id"] = next(opened)
    bulk_insert(CopyEvent, events, returning=None)


# --- settings and investment ----------------------------------------------------------------
def copy_settings_update(*, copy: Copy | int, user, **changes) -> Copy:
    """Change Total Stop Loss for Trader and/or its action (the Settings page's Save)."""
    with money_atomic():
        locked = _lock_copy(copy, user=user)
        if not locked.is_active:
            raise Conflict("This copy has stopped; its settings can no longer change.")
        fields = []
        if "total_stop_loss" in changes:
            locked.total_stop_loss = _stop_loss(
                changes["total_stop_loss"], investment=locked.total_investment
            )
            fields.append("total_stop_loss")
        if "stop_loss_action" in changes:
            locked.stop_loss_action = _stop_loss_action(changes["stop_loss_action"])
            fields.append("stop_loss_action")
        if fields:
            locked.save(update_fields=fields)
    return locked


def copy_investment_modify(*, copy: Copy | int, user, total_investment) -> Copy:
    """Modify: set a new Total Investment. An increase moves money in from the main account;
    a decrease moves free copy cash out, only while the new total stays >= the minimum and
    the cash is not in use by positions. Setting the current total again changes nothing."""
    new_total = _money(total_investment, field="total_investment_usdt", label="Total Investment")
    minimum = _conf("MIN_INVESTMENT")
    if new_total < minimum:
        raise ApplicationError(
            f"The Total Investment must stay at least {fmt_amount(minimum)} USDT. To take everything "
            "out, stop copying.",
            code="below_minimum",
            fields={"total_investment_usdt": f"At least {fmt_amount(minimum)} USDT."},
        )
    with money_atomic():
        lock_user(user)
        locked = _lock_copy(copy, user=user)
        if not locked.is_active:
            raise Conflict("This copy has stopped; start a new copy instead.", code="copy_stopped")
        delta = new_total - locked.total_investment
        if delta == 0:
            return locked
        if locked.total_stop_loss is not None and locked.total_stop_loss >= new_total:
            raise ApplicationError(
                f"Your Total Stop Loss for Trader ({fmt_amount(locked.total_stop_loss)} USDT) must stay "
                "below the Total Investment: lower it first.",
                code="invalid_stop_loss",
                fields={
                    "total_investment_usdt": f"More than {fmt_amount(locked.total_stop_loss)}."
                },
            )
        main = account_main(user=user)
        n = locked.events.filter(kind=CopyEvent.Kind.INVESTMENT).count() + 1
        if delta > 0:
            # locked: a deposit or withdrawal racing this must not turn into a 500 at the
            # balance constraint; it waits, and this check sees its result
            balance = for_update(Account.objects).get(pk=main.pk).balance
            if delta > balance:
                raise InsufficientFunds(
                    f"Increasing by {fmt_amount(delta)} USDT needs more than the {fmt_amount(balance)} USDT in "
                    "your main account.",
                    fields={
                        "total_investment_usdt": f"At most {fmt_amount(locked.total_investment + balance)}."
                    },
                )
            postings = [(main.pk, -delta), (locked.account_id, delta)]
        else:
            # profit share the copy owes its lead is paid first from its free cash: it stays
            owed = locked.profit_share_owed
            free = max(ZERO, copy_figures(locked).available - owed)
            if -delta > free:
                why = "the rest is margin in use"
                if owed > 0:
                    why += f" or the {fmt_amount(owed)} USDT of profit share it owes the lead"
                raise InsufficientFunds(
                    f"Only {fmt_amount(free)} USDT of this copy is free ({why}); you can "
                    "decrease by at most that much.",
                    code="funds_in_use",
                    fields={
                        "total_investment_usdt": f"At least {fmt_amount(locked.total_investment - usdt_down(free))}."
                    },
                )
            postings = [(locked.account_id, delta), (main.pk, -delta)]
        ledger_post(
            key=f"copy-investment:{locked.pk}:{n}",
            kind=JournalEntry.Kind.COPY_FUNDING if delta > 0 else JournalEntry.Kind.COPY_RETURN,
            postings=postings,
            memo=f"Modify Total Investment to {new_total}",
        )
        locked.total_investment = new_total
        locked.save(update_fields=["total_investment"])
        CopyEvent.objects.create(
            copy=locked,
            kind=CopyEvent.Kind.INVESTMENT,
            amount=delta,
            reason=notices.investment_changed(
                copy_id=locked.pk, new_total=new_total, increased=delta > 0
            ),
        )
    return locked


# --- closing ----------------------------------------------------------------------------------
def _market_close_specs(
    positions, instruments: dict[int, Instrument], *, reason: str
) -> list[CloseSpec]:
    prices: dict[tuple[int, str], Decimal] = {}
    specs = []
    for p in positions:
        inst = instruments[p.instrument_id]
        side = "sell" if p.side == "long" else "buy"
        if (inst.pk, side) not in prices:
            prices[(inst.pk, side)] = venue_price(instrument=inst, side=side)
        price = prices[(inst.pk, side)]
        specs.append(
            market_close_spec(
                position=p, instrument=inst, quantity=p.size, price=price, reason=reason
            )
        )
    return specs


def copy_position_close(*, copy: Copy | int, position: Position | int, user) -> Position:
    """The follower closes one copied position by hand at market; its funds stay in the copy
    account and later lead events on that sub-position no longer touch this copy."""
    pos_pk = position.pk if isinstance(position, Position) else position
    with money_atomic():
        locked = _lock_copy(copy, user=user)
        figs = account_figures_one(locked.account_id)
        rows = [p for p in figs.positions if p.id == _int(pos_pk)]
        if not rows:
            raise NotFound("No such open position in this copy.")
        inst = Instrument.objects.get(pk=rows[0].instrument_id)
        specs = _market_close_specs(rows, {inst.pk: inst}, reason=Position.CloseReason.MANUAL)
        # a spot holding sold out and bought into again is the same row (one per lead
        # holding): its fills so far tell this close apart from an earlier one
        fills = Fill.objects.filter(position_id=rows[0].id).count()
        result = positions_apply(
            key=f"manual-close:{rows[0].id}:{fills}",
            memo="closed by hand at market",
            closes=specs,
        )
        CopyEvent.objects.create(
            copy=locked,
            kind=CopyEvent.Kind.MANUAL_CLOSE,
            position_id=rows[0].id,
            amount=result.close_amounts[rows[0].id],
            reason="Closed by you at market",
        )
        if locked.is_stopping and len(figs.positions) == 1:
            # the last position of a copy whose Total Stop Loss triggered: the cash returns now
            copies_stop_locked([locked], reason=Copy.StopReason.STOP_LOSS)
    return Position.objects.get(pk=rows[0].id)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("No such position.") from None


def copies_stop_locked(
    copies: list[Copy], *, reason: str, lead_event: LeadEvent | None = None
) -> None:
    """Stop many copies (rows locked by the caller, level 4) in a constant number of
    statements: close every position at market, settle profit share, return all cash to each
    main account, mark stopped. A stopped copy holds no money and no open position.
    Idempotency keys: ``stop:<lowest copy of the batch>`` (one stop per copy ever),
    ``profit-share:<copy>:<n>``, ``copy-return:<copy>``."""
    copies = [c for c in copies if c.is_active]
    if not copies:
        return
    _stop_close_positions(copies, reason)
    paid = _stop_settle_profit_share(copies, reason)
    returned = _stop_return_cash(copies)
    _stop_mark(copies, reason)
    _stop_record(copies, reason, lead_event, returned, paid)


_CLOSE_REASON = {
    Copy.StopReason.LEAD_ENDED: Position.CloseReason.LEAD_ENDED,
    Copy.StopReason.STOP_LOSS: Position.CloseReason.STOP_LOSS,
}


def _stop_close_positions(copies: list[Copy], reason: str) -> None:
    figs = account_figures([c.account_id for c in copies])
    positions = [p for c in copies for p in figs[c.account_id].positions]
    instruments = {
        i.pk: i for i in Instrument.objects.filter(pk__in={p.instrument_id for p in positions})
    }
    positions_apply(
        key=f"stop:{min(c.pk for c in copies)}",
        memo=f"copy stopped ({reason}): positions closed at market",
        closes=_market_close_specs(
            positions,
            instruments,
            reason=_CLOSE_REASON.get(reason, Position.CloseReason.STOP_COPY),
        ),
    )


def _stop_settle_profit_share(copies: list[Copy], reason: str) -> dict[int, Decimal]:
    totals = realized_totals([c.account_id for c in copies])
    realized = {
        c.pk: totals[c.account_id]["realized"]
        - totals[c.account_id]["fees"]
        + totals[c.account_id]["funding"]
        for c in copies
    }
    trigger = "lead_ended" if reason == Copy.StopReason.LEAD_ENDED else "stop"
    return hooks.settle_on_stop(copies=copies, realized=realized, trigger=trigger)


def _stop_return_cash(copies: list[Copy]) -> dict[int, Decimal]:
    """Everything left in each copy account goes back to its follower's main account."""
    balances = dict(
        Account.objects.filter(pk__in=[c.account_id for c in copies]).values_list("pk", "balance")
    )
    mains = main_account_ids({c.follower_id for c in copies})
    ledger_post_batch(
        [
            EntrySpec(
                key=f"copy-return:{c.pk}",
                kind=JournalEntry.Kind.COPY_RETURN,
                postings=(
                    (c.account_id, -balances[c.account_id]),
                    (mains[c.follower_id], balances[c.account_id]),
                ),
                memo="copy stopped: funds returned",
            )
            for c in copies
            if balances[c.account_id] > 0
        ]
    )
    return {c.pk: balances[c.account_id] for c in copies}


def _stop_mark(copies: list[Copy], reason: str) -> None:
    now = timezone.now()
    bulk_set(
        Copy,
        [
            {
                "id": c.pk,
                "status": Copy.Status.STOPPED,
                "stopped_at": now,
                "stop_reason": reason,
                "copying": False,
                "high_water_mark": c.high_water_mark,
                "profit_share_paid": c.profit_share_paid,
            }
            for c in copies
        ],
        ["status", "stopped_at", "stop_reason", "copying", "high_water_mark", "profit_share_paid"],
    )
    for c in copies:
        c.status, c.stopped_at, c.stop_reason = Copy.Status.STOPPED, now, reason


def _stop_record(
    copies: list[Copy],
    reason: str,
    lead_event: LeadEvent | None,
    returned: dict[int, Decimal],
    paid: dict[int, Decimal],
) -> None:
    ended = reason == Copy.StopReason.LEAD_ENDED
    label = Copy.StopReason(reason).label
    bulk_insert(
        CopyEvent,
        [
            {
                "copy_id": c.pk,
                "kind": CopyEvent.Kind.LEAD_ENDED if ended else CopyEvent.Kind.STOPPED,
                "lead_event_id": lead_event.pk if lead_event else None,
                "amount": returned[c.pk],
                "reason": label,
                "explanation": {
                    "returned_usdt": str(returned[c.pk]),
                    "profit_share_usdt": str(paid.get(c.pk, ZERO)),
                },
            }
            for c in copies
        ],
        returning=None,
    )
    notifications_create_bulk(
        rows=[
            notices.lead_ended(
                user_id=c.follower_id,
                copy_id=c.pk,
                nickname=c.lead.nickname,
                returned=returned[c.pk],
            )
            if ended
            else notices.copy_stopped(
                user_id=c.follower_id,
                copy_id=c.pk,
                nickname=c.lead.nickname,
                reason_label=label,
                returned=returned[c.pk],
            )
            for c in copies
        ]
    )


def copy_stop(*, copy: Copy | int, user=None, reason: str = Copy.StopReason.USER) -> Copy:
    """Stop copying: close every position at market, settle profit share, return all cash
    to the main account; the copy and its history stay (status stopped)."""
    with money_atomic():
        if user is not None:
            lock_user(user)
        locked = _lock_copy(copy, user=user)
        if not locked.is_active:
            raise Conflict("This copy has already stopped.", code="copy_stopped")
        copies_stop_locked([locked], reason=reason)
    locked.refresh_from_db()
    return locked
