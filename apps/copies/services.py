"""Copies: start, modify, stop, close by hand (SPEC §5.1, §5.4).

Every function here is a top-level money service that owns a durable transaction.
Locks, in the global order: the follower's User row, the LeadTrader row (start only), the
Copy row(s), positions, then ledger accounts (pk order, inside the ledger). Every write to a
copy account happens under its Copy row lock, which is what lets mirroring read balances
without locking the accounts first.

Idempotency keys: ``copy-start:<copy>``, ``copy-ongoing:<copy>``,
``copy-investment:<copy>:<n>``, ``stop:<lowest copy of the batch>``, ``copy-return:<copy>``,
``manual-close:<position>``. Starting twice is refused by the one-active-copy constraint;
a repeated "set total investment to X" is a no-op the second time.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps import smart_sync as ss
from apps.accounts.services import notification_create, notifications_create_bulk
from apps.copies import engine
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures
from apps.core.bulk import bulk_insert, bulk_set
from apps.core.exceptions import ApplicationError, Conflict, InsufficientFunds, NotFound
from apps.core.inputs import parse_decimal
from apps.core.money import ZERO, usdt, usdt_down
from apps.fees.services import profit_share_settle_many
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
from apps.positions.models import LeadEvent, Position
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
            f"investment ({usdt(investment)} USDT).",
            code="invalid_stop_loss",
            fields={"total_stop_loss_usdt": f"Between 0 and {usdt(investment)} (exclusive)."},
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


def _lock_user(user) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()


def _lock_copy(copy: Copy | int, *, user=None) -> Copy:
    pk = copy.pk if isinstance(copy, Copy) else copy
    qs = Copy.objects.select_for_update(of=("self",)).select_related("lead__user")
    if user is not None:
        qs = qs.filter(follower=user)
    try:
        return qs.get(pk=pk)
    except Copy.DoesNotExist:
        raise NotFound("No such copy.") from None


# --- start ------------------------------------------------------------------------------------
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
    every current lead sub-position at market (ratio = its margin / lead equity now)."""
    investment = _money(total_investment, field="total_investment_usdt", label="Total Investment")
    minimum = _conf("MIN_INVESTMENT")
    if investment < minimum:
        raise ApplicationError(
            f"The minimum Total Investment is {minimum} USDT.",
            code="below_minimum",
            fields={"total_investment_usdt": f"At least {minimum} USDT."},
        )
    stop_loss = _stop_loss(total_stop_loss, investment=investment)
    action = _stop_loss_action(stop_loss_action)
    if market == Copy.Market.SPOT:
        raise ApplicationError(
            "Spot Smart Sync is not available yet: copy this trader's futures instead.",
            code="spot_unavailable",
            fields={"market": "Only futures for now."},
        )
    if market != Copy.Market.FUTURES:
        raise ApplicationError("Market must be futures or spot.", fields={"market": "futures"})
    lead_pk = lead.pk if isinstance(lead, LeadTrader) else lead

    with transaction.atomic(durable=True):
        _lock_user(follower)
        try:
            locked_lead = (
                LeadTrader.objects.select_for_update().select_related("user").get(pk=lead_pk)
            )
        except (LeadTrader.DoesNotExist, ValueError, TypeError):
            raise NotFound("No such lead trader.", fields={"trader": "Unknown trader."}) from None
        if locked_lead.user_id == follower.pk:
            raise ApplicationError(
                "You cannot copy yourself.", code="self_copy", fields={"trader": "That is you."}
            )
        if not locked_lead.is_active:
            raise Conflict(
                f"{locked_lead.nickname} has ended their strategy and cannot be copied.",
                code="lead_not_active",
            )
        mine = Copy.objects.filter(follower=follower, status=Copy.Status.ACTIVE)
        if mine.filter(lead=locked_lead, market=market).exists():
            raise Conflict(
                f"You are already copying {locked_lead.nickname}. Change its Settings instead.",
                code="duplicate_copy",
            )
        limit = _conf("MAX_ACTIVE_COPIES")
        if mine.count() >= limit:
            raise Conflict(
                f"You already have {limit} active copies, the most allowed. Stop one first.",
                code="too_many_copies",
            )
        copiers = Copy.objects.filter(
            lead=locked_lead, market=market, status=Copy.Status.ACTIVE
        ).count()
        if copiers >= locked_lead.max_copiers:
            raise Conflict(
                f"{locked_lead.nickname} is full ({locked_lead.max_copiers} copiers).",
                code="lead_full",
            )
        main = account_main(user=follower)
        main_balance = Account.objects.select_for_update().get(pk=main.pk).balance
        if main_balance < investment:
            raise InsufficientFunds(
                f"Your main account has {usdt(main_balance)} USDT available; you asked to "
                f"invest {investment} USDT.",
                fields={"total_investment_usdt": f"At most {usdt(main_balance)}."},
            )
        last_event = (
            LeadEvent.objects.filter(account_id=locked_lead.futures_account_id)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        account = account_create(
            kind=Account.Kind.COPY, owner=follower, code=f"copy:new:{follower.pk}:{lead_pk}"
        )
        try:
            copy = Copy.objects.create(
                follower=follower,
                lead=locked_lead,
                market=market,
                account=account,
                total_investment=investment,
                copy_ongoing_positions=bool(copy_ongoing_positions),
                total_stop_loss=stop_loss,
                stop_loss_action=action,
                profit_share_ratio=locked_lead.profit_share_ratio,
                start_after_event_id=last_event or 0,
            )
        except IntegrityError:
            raise Conflict("You are already copying this trader.", code="duplicate_copy") from None
        account.code = f"copy:{copy.pk}"
        account.save(update_fields=["code"])
        ledger_post(
            key=f"copy-start:{copy.pk}",
            kind=JournalEntry.Kind.COPY_FUNDING,
            postings=[(main.pk, -investment), (account.pk, investment)],
            memo=f"Smart Sync copy of {locked_lead.nickname}",
        )
        CopyEvent.objects.create(copy=copy, kind=CopyEvent.Kind.STARTED, amount=investment)
        if copy_ongoing_positions:
            _copy_ongoing_positions(copy, locked_lead)
        notification_create(
            user=follower,
            kind="copy_started",
            message=f"You started copying {locked_lead.nickname} with {investment} USDT.",
            data={"copy": copy.pk},
        )
    return copy


def _copy_ongoing_positions(copy: Copy, lead: LeadTrader) -> None:
    """Open each current lead sub-position at market, ratio = its margin / lead equity now,
    without the slippage guard (the follower asked for market)."""
    lead_figs = account_figures_one(lead.futures_account_id)
    if not lead_figs.positions or lead_figs.equity <= 0:
        return
    instruments = {
        i.pk: i
        for i in Instrument.objects.filter(pk__in={p.instrument_id for p in lead_figs.positions})
    }
    mine = account_figures_one(copy.account_id)
    equity, available = mine.equity, mine.available
    opens, events = [], []
    for lp in lead_figs.positions:
        inst = instruments[lp.instrument_id]
        if lp.mark is None:
            continue
        side = "buy" if lp.side == "long" else "sell"
        price = venue_price(instrument=inst, side=side)
        event = ss.LeadEvent(
            kind="open",
            lead_position_id=lp.id,
            side=lp.side,
            margin_mode=lp.margin_mode,
            leverage=lp.leverage,
            previous_leverage=None,
            fill_price=price,
            margin=lp.margin,
            lead_margin_before=None,
            lead_equity_before=lead_figs.equity,
            fraction=None,
            price_now=price,
            guard_slippage=False,
        )
        state = ss.CopyState(copy_id=copy.pk, equity=equity, available=available)
        [intent] = ss.plan_event(event, [state], engine.engine_instrument(inst), engine.policy())
        explanation = {**intent.explanation, "source": "Copy Ongoing Positions"}
        intent = dataclasses.replace(intent, explanation=explanation)
        if intent.action == "open":
            opens.append(
                engine.open_spec(
                    intent,
                    account_id=copy.account_id,
                    instrument_id=inst.pk,
                    lead_position_id=lp.id,
                    reference_price=lp.entry_price,
                    lead_event_id=None,
                )
            )
            available -= intent.margin + intent.fee
            equity -= intent.fee
            events.append(
                {"copy_id": copy.pk, "kind": CopyEvent.Kind.COPIED, "explanation": explanation}
            )
        else:
            events.append(
                {
                    "copy_id": copy.pk,
                    "kind": CopyEvent.Kind.MISSED,
                    "reason": intent.reason,
                    "explanation": explanation,
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
    with transaction.atomic(durable=True):
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
            f"The Total Investment must stay at least {minimum} USDT. To take everything "
            "out, stop copying.",
            code="below_minimum",
            fields={"total_investment_usdt": f"At least {minimum} USDT."},
        )
    with transaction.atomic(durable=True):
        _lock_user(user)
        locked = _lock_copy(copy, user=user)
        if not locked.is_active:
            raise Conflict("This copy has stopped; start a new copy instead.", code="copy_stopped")
        delta = new_total - locked.total_investment
        if delta == 0:
            return locked
        if locked.total_stop_loss is not None and locked.total_stop_loss >= new_total:
            raise ApplicationError(
                f"Your Total Stop Loss for Trader ({locked.total_stop_loss} USDT) must stay "
                "below the Total Investment: lower it first.",
                code="invalid_stop_loss",
                fields={"total_investment_usdt": f"More than {locked.total_stop_loss}."},
            )
        main = account_main(user=user)
        n = locked.events.filter(kind=CopyEvent.Kind.INVESTMENT).count() + 1
        if delta > 0:
            # locked: a deposit or withdrawal racing this must not turn into a 500 at the
            # balance constraint; it waits, and this check sees its result
            balance = Account.objects.select_for_update().get(pk=main.pk).balance
            if delta > balance:
                raise InsufficientFunds(
                    f"Increasing by {delta} USDT needs more than the {usdt(balance)} USDT in "
                    "your main account.",
                    fields={
                        "total_investment_usdt": f"At most {usdt(locked.total_investment + balance)}."
                    },
                )
            postings = [(main.pk, -delta), (locked.account_id, delta)]
        else:
            free = copy_figures(locked).available
            if -delta > free:
                raise InsufficientFunds(
                    f"Only {usdt_down(free)} USDT of this copy is free (the rest is margin in "
                    "use); you can decrease by at most that much.",
                    code="funds_in_use",
                    fields={
                        "total_investment_usdt": f"At least {usdt(locked.total_investment - usdt_down(free))}."
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
            reason=f"Total Investment {'increased' if delta > 0 else 'decreased'} to {new_total} USDT",
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
    with transaction.atomic(durable=True):
        locked = _lock_copy(copy, user=user)
        figs = account_figures_one(locked.account_id)
        rows = [p for p in figs.positions if p.id == _int(pos_pk)]
        if not rows:
            raise NotFound("No such open position in this copy.")
        inst = Instrument.objects.get(pk=rows[0].instrument_id)
        specs = _market_close_specs(rows, {inst.pk: inst}, reason=Position.CloseReason.MANUAL)
        positions_apply(
            key=f"manual-close:{rows[0].id}", memo="closed by hand at market", closes=specs
        )
        CopyEvent.objects.create(
            copy=locked,
            kind=CopyEvent.Kind.MANUAL_CLOSE,
            position_id=rows[0].id,
            amount=specs[0].realized_pnl - specs[0].fee,
            reason="Closed by you at market",
        )
    return Position.objects.get(pk=rows[0].id)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("No such position.") from None


def copies_stop_locked(
    copies: list[Copy], *, reason: str, lead_event: LeadEvent | None = None
) -> None:
    """Stop many copies (rows locked by the caller) in a constant number of statements:
    close every position at market, settle profit share, return all cash to each main
    account, mark stopped. A stopped copy holds no money and no open position."""
    copies = [c for c in copies if c.is_active]
    if not copies:
        return
    account_ids = [c.account_id for c in copies]
    figs = account_figures(account_ids)
    positions = [p for c in copies for p in figs[c.account_id].positions]
    instruments = {
        i.pk: i for i in Instrument.objects.filter(pk__in={p.instrument_id for p in positions})
    }
    close_reason = (
        Position.CloseReason.LEAD_ENDED
        if reason == Copy.StopReason.LEAD_ENDED
        else Position.CloseReason.STOP_LOSS
        if reason == Copy.StopReason.STOP_LOSS
        else Position.CloseReason.STOP_COPY
    )
    # One stop per copy ever, so the lowest copy id names this batch's entry uniquely.
    positions_apply(
        key=f"stop:{min(c.pk for c in copies)}",
        memo=f"copy stopped ({reason}): positions closed at market",
        closes=_market_close_specs(positions, instruments, reason=close_reason),
    )
    totals = realized_totals(account_ids)
    realized = {
        c.pk: totals[c.account_id]["realized"]
        - totals[c.account_id]["fees"]
        + totals[c.account_id]["funding"]
        for c in copies
    }
    trigger = "lead_ended" if reason == Copy.StopReason.LEAD_ENDED else "stop"
    paid = profit_share_settle_many(copies=copies, realized=realized, trigger=trigger)
    balances = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "balance"))
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
    kind = (
        CopyEvent.Kind.LEAD_ENDED
        if reason == Copy.StopReason.LEAD_ENDED
        else CopyEvent.Kind.STOPPED
    )
    bulk_insert(
        CopyEvent,
        [
            {
                "copy_id": c.pk,
                "kind": kind,
                "lead_event_id": lead_event.pk if lead_event else None,
                "amount": balances[c.account_id],
                "reason": Copy.StopReason(reason).label,
                "explanation": {
                    "returned_usdt": str(balances[c.account_id]),
                    "profit_share_usdt": str(paid.get(c.pk, ZERO)),
                },
            }
            for c in copies
        ],
        returning=None,
    )
    if reason == Copy.StopReason.LEAD_ENDED:
        rows = [
            (
                c.follower_id,
                "lead_ended",
                f"{c.lead.nickname} ended their strategy. Your copy stopped and "
                f"{usdt(balances[c.account_id])} USDT returned to your main account.",
                {"copy": c.pk},
            )
            for c in copies
        ]
    else:
        rows = [
            (
                c.follower_id,
                "copy_stopped",
                f"Your copy of {c.lead.nickname} stopped ({Copy.StopReason(reason).label.lower()}); "
                f"{usdt(balances[c.account_id])} USDT returned to your main account.",
                {"copy": c.pk},
            )
            for c in copies
        ]
    notifications_create_bulk(rows=rows)
    for c in copies:
        c.status, c.stopped_at, c.stop_reason = Copy.Status.STOPPED, now, reason


def copy_stop(*, copy: Copy | int, user=None, reason: str = Copy.StopReason.USER) -> Copy:
    """Stop copying: close every position at market, settle profit share, return all cash
    to the main account; the copy and its history stay (status stopped)."""
    with transaction.atomic(durable=True):
        if user is not None:
            _lock_user(user)
        locked = _lock_copy(copy, user=user)
        if not locked.is_active:
            raise Conflict("This copy has already stopped.", code="copy_stopped")
        copies_stop_locked([locked], reason=reason)
    locked.refresh_from_db()
    return locked
