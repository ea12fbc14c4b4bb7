"""The risk pass (SPEC §4 liquidation, §7 Total Stop Loss for Trader), run on every price change
and by a beat sweep; set-based and exactly once.

``risk_pass(instrument_ids=...)`` (None: every instrument):
1. finds, in one statement, the accounts that may need liquidating and the copies whose stop
   loss may have triggered (apps/positions/risk.py ``risk_candidates``);
2. liquidates lead accounts: locks the LeadTrader rows (level 3 of apps.core.locks), re-reads
   the figures, closes what is due at the mark, and writes a ``liquidation`` LeadEvent per lead
   sub-position (the outbox): followers' linked positions then close at market by mirroring;
3. liquidates copy accounts: locks the Copy rows (level 4), re-reads, closes, records a
   ``liquidated`` CopyEvent and tells the follower (price, loss);
4. triggers Total Stop Loss for Trader: copies whose PnL (equity - net investment: realized and
   unrealized, after fees and funding) is at or below minus the amount. The copy stops taking
   opens (it is "stopping"), the trigger (time, PnL, equity, marks) is recorded, and its
   positions are handled by the action chosen: close all at market (then the copy stops and its
   cash returns), keep and follow the lead's closes, or hand over (the lead's later events no
   longer touch them; the follower closes them);
5. stops the stopping copies that hold no position any more: their cash returns.

Exactly once: every act happens under the row locks and re-checks fresh figures first, so two
passes at once, or a pass racing a lead close, a stop or a manual close, act once (the second
finds nothing due). The ledger keys (``liquidation:<lowest position>``, ``stop:<copy>``) would
refuse a double booking anyway. Each chunk of accounts is its own durable transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.accounts.services import notifications_create_bulk
from apps.copies import notices
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures_many
from apps.copies.services import copies_stop_locked
from apps.core.bulk import bulk_insert
from apps.core.locks import lock_rows
from apps.core.money import ZERO, usdt
from apps.ledger.models import Account
from apps.positions.models import LeadEvent, Position
from apps.positions.outbox import lead_event_recorded
from apps.positions.risk import Liquidation, liquidations, risk_candidates
from apps.positions.selectors import account_figures
from apps.positions.services import positions_apply
from apps.traders.models import LeadTrader

log = logging.getLogger(__name__)
CHUNK = 500


@dataclass
class RiskReport:
    liquidated_positions: int = 0
    liquidated_accounts: int = 0
    stop_losses: int = 0
    stopped: int = 0
    details: list[str] = field(default_factory=list)


def risk_pass(*, instrument_ids: list[int] | None = None) -> RiskReport:
    """One pass for these instruments (None: all). Safe to run any time, concurrently."""
    report = RiskReport()
    found = risk_candidates(instrument_ids)
    if found.accounts:
        kinds = dict(Account.objects.filter(pk__in=found.accounts).values_list("pk", "kind"))
        leads = sorted(a for a, k in kinds.items() if k == Account.Kind.LEAD_FUTURES)
        copies = sorted(a for a, k in kinds.items() if k == Account.Kind.COPY)
        for chunk in _chunks(leads):
            _liquidate_leads(chunk, report)
        for chunk in _chunks(copies):
            _liquidate_copies(chunk, report)
    stop_losses = set(found.stop_loss_copies)
    if instrument_ids is None:  # the sweep: also copies whose loss is realized (no position)
        stop_losses |= set(stop_loss_candidates_without_positions())
    for chunk in _chunks(list(stop_losses)):
        _trigger_stop_losses(chunk, report)
    for chunk in _chunks(stopping_without_positions()):
        _finish_stopping(chunk, report)
    return report


def _chunks(ids: list[int]) -> list[list[int]]:
    ids = sorted(ids)
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _apply(liqs: list[Liquidation]):
    specs = [s for liq in liqs for s in liq.specs]
    return positions_apply(
        key=f"liquidation:{min(s.position_id for s in specs)}",
        memo=f"liquidation of {len(specs)} positions at the mark",
        closes=specs,
    )


# --- lead accounts ----------------------------------------------------------------------------


def _liquidate_leads(account_ids: list[int], report: RiskReport) -> None:
    with transaction.atomic(durable=True):
        lock_rows(LeadTrader.objects.filter(futures_account_id__in=account_ids))
        liqs = liquidations(account_figures(account_ids))
        if not liqs:
            return
        leads = {
            lt.futures_account_id: lt
            for lt in LeadTrader.objects.filter(futures_account_id__in=[x.account_id for x in liqs])
        }
        events = _lead_events(liqs)
        liqs = [
            Liquidation(
                account_id=liq.account_id,
                specs=[_with_event(s, events[s.position_id]) for s in liq.specs],
                rows=liq.rows,
                cross=liq.cross,
            )
            for liq in liqs
        ]
        result = _apply(liqs)
        notifications_create_bulk(
            rows=[
                notices.lead_liquidated(
                    user_id=leads[liq.account_id].user_id,
                    rows=liq.rows,
                    amounts=result.close_amounts,
                    cross=liq.cross,
                )
                for liq in liqs
            ]
        )
        for event in events.values():
            lead_event_recorded(event.pk)
        _count(report, liqs)


def _lead_events(liqs: list[Liquidation]) -> dict[int, LeadEvent]:
    """The outbox rows: followers close their linked positions at market when mirrored."""
    rows = {r.id: r for liq in liqs for r in liq.rows}
    positions = Position.objects.in_bulk(list(rows))
    out = {}
    for pid, row in rows.items():
        pos = positions[pid]
        out[pid] = LeadEvent.objects.create(
            account_id=row.account_id,
            kind=LeadEvent.Kind.LIQUIDATION,
            position=pos,
            instrument_id=row.instrument_id,
            side=row.side,
            margin_mode=row.margin_mode,
            leverage=row.leverage,
            fill_price=row.mark,
            size=row.size,
            lead_size_before=row.size,
            fraction=Decimal(1),
        )
    return out


def _with_event(spec, event: LeadEvent):
    return replace(spec, lead_event_id=event.pk)


# --- copy accounts ----------------------------------------------------------------------------


def _liquidate_copies(account_ids: list[int], report: RiskReport) -> None:
    with transaction.atomic(durable=True):
        locked = lock_rows(Copy.objects.filter(account_id__in=account_ids, status="active"))
        copies = {
            c.account_id: c for c in Copy.objects.filter(pk__in=locked).select_related("lead")
        }
        liqs = liquidations(account_figures(list(copies)))
        if not liqs:
            return
        result = _apply(liqs)
        events, rows = [], []
        for liq in liqs:
            copy = copies[liq.account_id]
            for row in liq.rows:
                amount = result.close_amounts.get(row.id, ZERO)
                events.append(_liquidated_event(copy, row, amount, liq))
            rows.append(
                notices.copy_liquidated(
                    user_id=copy.follower_id,
                    copy_id=copy.pk,
                    nickname=copy.lead.nickname,
                    rows=liq.rows,
                    amounts=result.close_amounts,
                    cross=liq.cross,
                )
            )
        bulk_insert(CopyEvent, events, returning=None)
        notifications_create_bulk(rows=rows)
        _count(report, liqs)


def _liquidated_event(copy: Copy, row, amount: Decimal, liq: Liquidation) -> dict:
    return {
        "copy_id": copy.pk,
        "kind": CopyEvent.Kind.LIQUIDATED,
        "position_id": row.id,
        "amount": amount,
        "reason": (
            f"{'Cross margin level at or below 100%' if liq.cross else 'Liquidation price reached'}:"
            f" closed at {row.mark}"
        ),
        "explanation": {
            "price": str(row.mark),
            "mode": row.margin_mode,
            "margin": str(row.margin),
            "loss": str(-amount),
        },
    }


def _count(report: RiskReport, liqs: list[Liquidation]) -> None:
    report.liquidated_accounts += len(liqs)
    report.liquidated_positions += sum(len(liq.specs) for liq in liqs)


# --- Total Stop Loss for Trader ---------------------------------------------------------------


def stop_loss_candidates_without_positions() -> list[int]:
    """Copies without an open position whose realized loss reached their Total Stop Loss
    (their PnL no longer moves with prices; the sweep checks them)."""
    return [
        c.pk
        for c in Copy.objects.filter(
            status=Copy.Status.ACTIVE,
            stop_loss_triggered_at__isnull=True,
            total_stop_loss__isnull=False,
        )
        .exclude(account__positions__status=Position.Status.OPEN)
        .select_related("account")
        .only("pk", "total_investment", "total_stop_loss", "account__balance")
        if c.account.balance - c.total_investment <= -c.total_stop_loss
    ]


def _trigger_stop_losses(copy_ids: list[int], report: RiskReport) -> None:
    with transaction.atomic(durable=True):
        lock_rows(Copy.objects.filter(pk__in=copy_ids))
        copies = list(
            Copy.objects.filter(
                pk__in=copy_ids, status=Copy.Status.ACTIVE, stop_loss_triggered_at__isnull=True
            )
            .exclude(total_stop_loss=None)
            .select_related("lead__user")
            .order_by("pk")
        )
        figures = copy_figures_many(copies)
        due = [c for c in copies if figures[c.pk].pnl <= -c.total_stop_loss]
        if not due:
            return
        marks = _marks([c.account_id for c in due])
        now = timezone.now()
        for c in due:
            f = figures[c.pk]
            c.stop_loss_triggered_at = now
            c.copying = False
            c.stop_loss_trigger = {
                "pnl_usdt": str(usdt(f.pnl)),
                "equity_usdt": str(usdt(f.equity)),
                "stop_loss_usdt": str(c.total_stop_loss),
                "action": c.stop_loss_action,
                "marks": marks.get(c.account_id, {}),
                "reason": f"copy PnL {usdt(f.pnl)} USDT reached -{c.total_stop_loss} USDT",
            }
        Copy.objects.bulk_update(due, ["stop_loss_triggered_at", "copying", "stop_loss_trigger"])
        _record_triggers(due, figures)
        _act_on_trigger(due)
        report.stop_losses += len(due)


def _marks(account_ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for acc, name, price in (
        Position.objects.filter(account_id__in=account_ids, status=Position.Status.OPEN)
        .values_list("account_id", "instrument__name", "instrument__price__price")
        .distinct()
    ):
        out.setdefault(acc, {})[name] = str(price)
    return out


def _record_triggers(due: list[Copy], figures) -> None:
    bulk_insert(
        CopyEvent,
        [
            {
                "copy_id": c.pk,
                "kind": CopyEvent.Kind.STOP_LOSS,
                "amount": figures[c.pk].pnl,
                "reason": Copy.StopLossAction(c.stop_loss_action).label,
                "explanation": c.stop_loss_trigger,
            }
            for c in due
        ],
        returning=None,
    )
    notifications_create_bulk(
        rows=[
            notices.stop_loss_triggered(
                user_id=c.follower_id,
                copy_id=c.pk,
                nickname=c.lead.nickname,
                pnl=figures[c.pk].pnl,
                stop_loss=c.total_stop_loss,
                action=c.stop_loss_action,
                open_positions=figures[c.pk].open_positions,
            )
            for c in due
        ]
    )


def _act_on_trigger(due: list[Copy]) -> None:
    close_all = [c for c in due if c.stop_loss_action == Copy.StopLossAction.CLOSE_ALL]
    hand_over = [c for c in due if c.stop_loss_action == Copy.StopLossAction.HAND_OVER]
    if close_all:
        copies_stop_locked(close_all, reason=Copy.StopReason.STOP_LOSS)
    if hand_over:
        Position.objects.filter(
            account_id__in=[c.account_id for c in hand_over], status=Position.Status.OPEN
        ).update(handed_over=True)
        bulk_insert(
            CopyEvent,
            [
                {
                    "copy_id": c.pk,
                    "kind": CopyEvent.Kind.HANDED_OVER,
                    "reason": "Open positions handed over to you: close them when you choose",
                }
                for c in hand_over
            ],
            returning=None,
        )


# --- stopping copies whose last position closed ---------------------------------------------


def stopping_without_positions() -> list[int]:
    """Stopping copies (stop loss triggered, "keep" or "hand over") that hold no position."""
    return list(
        Copy.objects.filter(status=Copy.Status.ACTIVE, stop_loss_triggered_at__isnull=False)
        .exclude(
            account__positions__status=Position.Status.OPEN,
        )
        .values_list("pk", flat=True)
    )


def _finish_stopping(copy_ids: list[int], report: RiskReport) -> None:
    with transaction.atomic(durable=True):
        lock_rows(Copy.objects.filter(pk__in=copy_ids))
        copies = [
            c
            for c in Copy.objects.filter(pk__in=copy_ids, status=Copy.Status.ACTIVE)
            .select_related("lead__user")
            .order_by("pk")
            if c.stop_loss_triggered_at is not None
        ]
        still_open = set(
            Position.objects.filter(
                account_id__in=[c.account_id for c in copies], status=Position.Status.OPEN
            ).values_list("account_id", flat=True)
        )
        done = [c for c in copies if c.account_id not in still_open]
        if done:
            copies_stop_locked(done, reason=Copy.StopReason.STOP_LOSS)
            report.stopped += len(done)
