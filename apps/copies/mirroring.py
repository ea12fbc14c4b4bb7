"""Mirroring lead events to copies (SPEC §5.3), set-based and exactly once.

How it works:
- A lead action writes a ``LeadEvent`` (the outbox) with its trade. After commit,
  ``lead_event_dispatch`` splits the eligible copies into id ranges (chunks) that separate
  tasks, on separate workers, mirror in parallel.
- A chunk runs in one durable transaction: it locks the active copies of that lead in its id
  range (one ``SELECT ... FOR UPDATE ORDER BY id``), then mirrors, in event order, every
  pending event of the lead up to this one, to the copies of the range that do not have it
  yet. So a copy always sees a lead's events in order (an open before its close) whatever
  order tasks arrive in.
- The claim is a ``CopyEvent(lead_event, copy)`` row, unique in the database. Because the
  copy rows are locked first and the "not yet mirrored" test runs after the lock, two
  workers given the same chunk (a duplicate delivery, a retry, the sweeper) serialize and
  the second finds nothing to do. Stop copying takes the same copy lock, so it either runs
  before (the copy is no longer eligible) or after (it closes what the mirror opened).
- Per chunk the work is a constant number of statements: lock, eligible copies, balances,
  open positions with prices, then bulk inserts/updates of positions, fills, journal
  entries, postings, balances, copy events and notifications.

No event blocks a lead (failure states):
- A copy the engine cannot plan gets a ``failed`` CopyEvent (its claim) and a "sync failed"
  notice; the rest of the chunk commits. An event the engine cannot plan at all (a malformed
  event, a lead equity before <= 0) fails every copy of the range the same way and the event
  is marked ``failed``.
- Each event is mirrored inside a savepoint. If it crashes (a bug, a database error), the
  savepoint rolls back, the event's ``attempts`` grows, and later events of the lead wait for
  it; after ``SMART_SYNC_EVENT_MAX_ATTEMPTS`` crashes it becomes ``failed`` (failed CopyEvents
  and notices for its copies) and stops holding the lead's later events back. Operators see
  failed events and copy events in the admin and re-dispatch them from there.
- An event is ``mirrored`` once no eligible copy lacks it. A beat task re-dispatches pending
  events after a short delay, so a lost message or a killed worker loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from apps import smart_sync as ss
from apps.accounts.services import notifications_create_bulk
from apps.copies import engine, notices
from apps.copies.models import Copy, CopyEvent
from apps.copies.services import copies_stop_locked
from apps.core.bulk import bulk_insert
from apps.core.locks import lock_rows
from apps.market.selectors import price_get
from apps.market.services import venue_price
from apps.positions.models import LeadEvent, Position
from apps.positions.selectors import AccountFigures, account_figures_linked
from apps.positions.services import AddSpec, CloseSpec, MarginSpec, OpenSpec, positions_apply
from apps.traders.models import LeadTrader

log = logging.getLogger(__name__)


class _CopyRow(NamedTuple):
    pk: int
    account_id: int
    follower_id: int


POSITION_EVENTS = {
    LeadEvent.Kind.PARTIAL_CLOSE,
    LeadEvent.Kind.CLOSE,
    LeadEvent.Kind.LIQUIDATION,
    LeadEvent.Kind.LEVERAGE,
    LeadEvent.Kind.MARGIN_ADD,
    LeadEvent.Kind.MARGIN_REDUCE,
    LeadEvent.Kind.SPOT_SELL,
}
OPEN_EVENTS = {LeadEvent.Kind.OPEN, LeadEvent.Kind.SPOT_BUY}
CLOSE_EVENTS = {
    LeadEvent.Kind.PARTIAL_CLOSE,
    LeadEvent.Kind.CLOSE,
    LeadEvent.Kind.LIQUIDATION,
    LeadEvent.Kind.SPOT_SELL,
}
SPOT_EVENTS = {LeadEvent.Kind.SPOT_BUY, LeadEvent.Kind.SPOT_SELL}
PENDING = LeadEvent.Status.PENDING


def lead_id_for_event(event: LeadEvent) -> int:
    """The lead whose futures or spot account recorded the event (and, cached on the event,
    which market's copies it is for)."""
    lead_id, futures = LeadTrader.objects.values_list("pk", "futures_account_id").get(
        Q(futures_account_id=event.account_id) | Q(spot_account_id=event.account_id)
    )
    event._market = Copy.Market.FUTURES if futures == event.account_id else Copy.Market.SPOT
    return lead_id


def event_market(event: LeadEvent) -> str:
    """futures or spot: the market of the copies an event is mirrored to."""
    if getattr(event, "_market", None) is None:
        lead_id_for_event(event)
    return event._market


def eligible_copies(event: LeadEvent, lead_id: int) -> QuerySet[Copy]:
    """Copies that should receive this event and have not yet: active copies that started
    before it, without a CopyEvent for it; opens only to copies still copying (a triggered
    stop loss stops new opens); position events only to copies holding a linked open
    position not handed over (a sub-position the copy never linked, closed by hand or handed
    over by a stop loss, changes nothing)."""
    qs = Copy.objects.filter(
        lead_id=lead_id,
        market=event_market(event),
        status=Copy.Status.ACTIVE,
        start_after_event_id__lt=event.pk,
    ).exclude(
        # NOT IN (one hashed subplan over this event's claims) rather than NOT EXISTS: right
        # after a bulk insert the statistics are stale and the planner would otherwise probe
        # the claims once per copy, scanning every claim each time (quadratic).
        pk__in=CopyEvent.objects.filter(lead_event_id=event.pk).values("copy_id")
    )
    if event.kind in OPEN_EVENTS:
        return qs.filter(copying=True)
    if event.kind in POSITION_EVENTS:
        return qs.filter(
            Exists(
                Position.objects.filter(
                    account_id=OuterRef("account_id"),
                    lead_position_id=event.position_id,
                    status=Position.Status.OPEN,
                    handed_over=False,  # handed over by a stop loss: the lead no longer steers it
                )
            )
        )
    return qs


def _in_range(qs: QuerySet[Copy], lo: int | None, hi: int | None) -> QuerySet[Copy]:
    if lo is not None:
        qs = qs.filter(pk__gte=lo)
    if hi is not None:
        qs = qs.filter(pk__lte=hi)
    return qs


def chunks_for_event(event: LeadEvent, *, size: int | None = None) -> list[tuple[int, int]]:
    """Inclusive copy-id ranges of at most ``size`` eligible copies each."""
    size = size or settings.SMART_SYNC["MIRROR_CHUNK_SIZE"]
    ids = list(
        eligible_copies(event, lead_id_for_event(event)).order_by("pk").values_list("pk", flat=True)
    )
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def lead_event_complete_if_alone(event: LeadEvent) -> bool:
    """Mark an event with no eligible copy mirrored, without locking any copy, when no earlier
    event of the lead is still pending (an earlier open still in flight could yet create the
    positions this event would change). Returns whether it did."""
    earlier = LeadEvent.objects.filter(
        account_id=event.account_id, status=PENDING, pk__lt=event.pk
    ).exists()
    if earlier or eligible_copies(event, lead_id_for_event(event)).exists():
        return False
    _mark_mirrored([event.pk])
    return True


# --- the chunk ----------------------------------------------------------------------------------


def lead_event_mirror(event_id: int, *, lo: int | None = None, hi: int | None = None) -> int:
    """Mirror ``event_id`` (and any earlier pending event of the same lead) to the copies
    with lo <= id <= hi. Returns how many (event, copy) pairs were recorded. Idempotent.

    Locks: the range's Copy rows (level 4 of apps.core.locks), then positions and ledger
    accounts inside positions_apply. Idempotency: the CopyEvent claims."""
    with transaction.atomic(durable=True):
        event = LeadEvent.objects.get(pk=event_id)
        lead_id = lead_id_for_event(event)
        lock_rows(
            _in_range(
                Copy.objects.filter(
                    lead_id=lead_id, market=event_market(event), status=Copy.Status.ACTIVE
                ),
                lo,
                hi,
            )
        )
        done, processed = 0, []
        for ev in _events_to_mirror(event):
            recorded = _mirror_guarded(ev, lead_id=lead_id, lo=lo, hi=hi)
            if recorded is None:
                break  # it crashed and will be retried: later events of the lead wait for it
            done += recorded
            processed.append(ev)
        _mark_mirrored(
            [
                ev.pk
                for ev in processed
                if ev.status == PENDING and not eligible_copies(ev, lead_id).exists()
            ]
        )
    return done


def _events_to_mirror(event: LeadEvent) -> list[LeadEvent]:
    """Pending events of the lead up to ``event``, in order; and ``event`` itself if it has
    failed meanwhile (its chunk then records the failure for the copies of its range)."""
    events = list(
        LeadEvent.objects.filter(account_id=event.account_id, status=PENDING, pk__lte=event.pk)
        .select_related("instrument")
        .order_by("pk")
    )
    if event.status == LeadEvent.Status.FAILED:
        events.append(event)
    return events


def _mark_mirrored(event_ids: list[int]) -> None:
    if event_ids:
        LeadEvent.objects.filter(pk__in=event_ids, status=PENDING).update(
            status=LeadEvent.Status.MIRRORED, mirrored_at=timezone.now()
        )


def _mirror_guarded(ev: LeadEvent, *, lead_id: int, lo, hi) -> int | None:
    """Mirror one event in a savepoint. A crash rolls the savepoint back and counts an attempt;
    returns None while the event should be retried, else how many copies were recorded."""
    if ev.status == LeadEvent.Status.FAILED:
        return _record_failure(ev, lead_id=lead_id, lo=lo, hi=hi)
    try:
        with transaction.atomic():
            return _mirror_range(ev, lead_id=lead_id, lo=lo, hi=hi)
    except Exception as exc:  # noqa: BLE001 - any crash must not block the lead forever
        log.exception("mirroring lead event %s crashed", ev.pk)
        return _count_crash(ev, exc, lead_id=lead_id, lo=lo, hi=hi)


def _count_crash(ev: LeadEvent, exc: Exception, *, lead_id: int, lo, hi) -> int | None:
    LeadEvent.objects.filter(pk=ev.pk).update(
        attempts=F("attempts") + 1, failure=f"{type(exc).__name__}: {exc}"[:255]
    )
    ev.refresh_from_db(fields=["attempts", "failure", "status"])
    if ev.attempts < settings.SMART_SYNC["EVENT_MAX_ATTEMPTS"]:
        return None
    _event_fail(ev, ev.failure)
    return _record_failure(ev, lead_id=lead_id, lo=lo, hi=hi)


def _event_fail(ev: LeadEvent, reason: str) -> None:
    now = timezone.now()
    LeadEvent.objects.filter(pk=ev.pk).update(
        status=LeadEvent.Status.FAILED, failed_at=now, failure=reason[:255]
    )
    ev.status, ev.failed_at, ev.failure = LeadEvent.Status.FAILED, now, reason[:255]


def _record_failure(ev: LeadEvent, *, lead_id: int, lo, hi) -> int:
    """Claim the event for every eligible copy of the range as ``failed``, and tell them."""
    copies = _eligible_rows(ev, lead_id=lead_id, lo=lo, hi=hi)
    if not copies:
        return 0
    failed = [ss.Intent(copy_id=c.pk, action="failed", reason=ss.REASON_FAILED) for c in copies]
    plan = _Plan(event=ev, copies={c.pk: c for c in copies}, nickname=_nickname(lead_id))
    for intent in failed:
        plan.record(intent)
    plan.write()
    return len(copies)


# --- mirroring one event to a range of copies -----------------------------------------------------


def _eligible_rows(ev: LeadEvent, *, lead_id: int, lo, hi) -> list[_CopyRow]:
    # Plain tuples, not model instances: this is the per-follower hot path.
    qs = _in_range(eligible_copies(ev, lead_id), lo, hi).order_by("pk")
    return [_CopyRow(*row) for row in qs.values_list("pk", "account_id", "follower_id")]


def _nickname(lead_id: int) -> str:
    return LeadTrader.objects.values_list("nickname", flat=True).get(pk=lead_id)


def _mirror_range(event: LeadEvent, *, lead_id: int, lo, hi) -> int:
    if event.kind == LeadEvent.Kind.ENDED:
        copies = list(
            _in_range(eligible_copies(event, lead_id), lo, hi)
            .select_related("lead__user")
            .order_by("pk")
        )
        copies_stop_locked(copies, reason=Copy.StopReason.LEAD_ENDED, lead_event=event)
        return len(copies)
    copies = _eligible_rows(event, lead_id=lead_id, lo=lo, hi=hi)
    if not copies:
        return 0
    figs = account_figures_linked(
        [c.account_id for c in copies], lead_position_id=event.position_id
    )
    plan = _Plan(event=event, copies={c.pk: c for c in copies}, nickname=_nickname(lead_id))
    plan.margins = {p.id: p.margin for f in figs.values() for p in f.positions}
    if event.kind == LeadEvent.Kind.SPOT_BUY:
        by_account = {c.account_id: c.pk for c in copies}
        plan.holdings = {by_account[p.account_id]: p.id for f in figs.values() for p in f.positions}
        # a holding the copy sold out (by hand, or following the lead's sells) is bought into
        # again: (account, lead holding) is unique, so a second row would crash the whole chunk
        sold_out = Position.objects.filter(
            account_id__in=[c.account_id for c in copies if c.pk not in plan.holdings],
            lead_position_id=event.position_id,
            status=Position.Status.CLOSED,
        ).values_list("account_id", "id")
        plan.holdings.update({by_account[acc]: pk for acc, pk in sold_out})
    for intent in _plan_intents(event, copies, figs):
        plan.record(intent)
    plan.write()
    return len(plan.events)


def _price_now(event: LeadEvent):
    inst = event.instrument
    opening = event.kind in OPEN_EVENTS
    if opening or event.kind in CLOSE_EVENTS:
        buys = (event.side == "long") == opening
        return venue_price(instrument=inst, side="buy" if buys else "sell")
    return price_get(inst)  # leverage and margin changes trade nothing: the mark sizes levels


def engine_event(event: LeadEvent, *, price_now) -> ss.LeadEvent:
    return ss.LeadEvent(
        kind=event.kind,
        lead_position_id=event.position_id,
        side=event.side,
        margin_mode=event.margin_mode,
        leverage=event.leverage,
        previous_leverage=event.previous_leverage,
        fill_price=event.fill_price,
        margin=event.margin,
        lead_margin_before=event.lead_margin_before,
        lead_equity_before=event.lead_equity_before,
        fraction=event.fraction,
        price_now=price_now,
        size=event.size,
        lead_size_before=event.lead_size_before,
        amount=event.amount,
    )


def _plan_intents(
    event: LeadEvent, copies: list[_CopyRow], figs: dict[int, AccountFigures]
) -> list[ss.Intent]:
    """The engine's plan; an event it cannot plan at all fails every copy and the event."""
    states = [
        engine.copy_state(c.pk, figs[c.account_id], lead_position_id=event.position_id)
        for c in copies
    ]
    try:
        return ss.plan_event(
            engine_event(event, price_now=_price_now(event)),
            states,
            engine.engine_instrument(event.instrument),
            engine.policy(),
        )
    except ValueError as exc:
        log.warning("lead event %s cannot be planned: %s", event.pk, exc)
        _event_fail(event, f"cannot be planned: {exc}")
        error = {"event": event.kind, "reason": ss.REASON_FAILED, "error": str(exc)[:200]}
        return [
            ss.Intent(copy_id=c.pk, action="failed", reason=ss.REASON_FAILED, explanation=error)
            for c in copies
        ]


@dataclass
class _Plan:
    """The writes of one event for a range of copies, gathered intent by intent and then
    written in a constant number of statements."""

    event: LeadEvent
    copies: dict[int, _CopyRow]
    nickname: str
    margins: dict[int, object] = field(default_factory=dict)
    # spot: copy id -> its holding linked to the lead's (a buy adds to it at average cost)
    holdings: dict[int, int] = field(default_factory=dict)
    opens: list[OpenSpec] = field(default_factory=list)
    adds: list[AddSpec] = field(default_factory=list)
    closes: list[CloseSpec] = field(default_factory=list)
    margin_changes: list[MarginSpec] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    open_rows: list[dict] = field(default_factory=list)
    notices: list[notices.Notice] = field(default_factory=list)

    @property
    def what(self) -> str:
        ev = self.event
        inst = ev.instrument.name if ev.instrument_id else ""
        if ev.kind == LeadEvent.Kind.OPEN:
            return f"{inst} {ev.side} open"
        if ev.kind == LeadEvent.Kind.SPOT_BUY:
            return f"{inst} buy"
        return f"{ev.get_kind_display().lower()} on {inst}".strip()

    def record(self, it: ss.Intent) -> None:
        c = self.copies[it.copy_id]
        ev = self.event
        row = {
            "copy_id": c.pk,
            "lead_event_id": ev.pk,
            "explanation": it.explanation,
            "position_id": it.position_id,
        }
        who = {"user_id": c.follower_id, "copy_id": c.pk, "lead_event_id": ev.pk}
        if it.action == "open" and c.pk in self.holdings:  # spot: add to the copied holding
            self.adds.append(
                AddSpec(
                    position_id=self.holdings[c.pk],
                    account_id=c.account_id,
                    size=it.size,
                    price=it.price,
                    cost=it.margin,
                    fee=it.fee,
                    reference_price=ev.fill_price,
                    lead_event_id=ev.pk,
                )
            )
            row.update(
                kind=CopyEvent.Kind.COPIED, amount=it.margin, position_id=self.holdings[c.pk]
            )
        elif it.action == "open":
            self.opens.append(
                engine.open_spec(
                    it,
                    account_id=c.account_id,
                    instrument_id=ev.instrument_id,
                    lead_position_id=ev.position_id,
                    reference_price=ev.fill_price,
                    lead_event_id=ev.pk,
                )
            )
            # the explanation lives on the position the event links to
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.margin, explanation={})
            self.open_rows.append(row)
        elif it.action == "close":
            self.closes.append(
                engine.close_spec(
                    it,
                    reason=Position.CloseReason.LEAD,
                    lead_event_id=ev.pk,
                    reference_price=ev.fill_price,
                )
            )
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.realized_pnl - it.fee)
        elif it.action in ("set_leverage", "add_margin", "reduce_margin"):
            self.margin_changes.append(engine.margin_spec(it, self.margins[it.position_id]))
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.margin)
        elif it.action == "miss":
            row.update(kind=CopyEvent.Kind.MISSED, reason=it.reason)
            self.notices.append(
                notices.missed_copy(**who, nickname=self.nickname, what=self.what, reason=it.reason)
            )
        elif it.action == "sync_failed":
            row.update(kind=CopyEvent.Kind.SYNC_FAILED, reason=it.reason)
            self.notices.append(
                notices.sync_failed(**who, nickname=self.nickname, what=self.what, reason=it.reason)
            )
        elif it.action == "failed":
            row.update(kind=CopyEvent.Kind.FAILED, reason=it.reason)
            self.notices.append(
                notices.mirror_failed(**who, nickname=self.nickname, what=self.what)
            )
        else:  # skip: nothing to change for this copy (recorded so it is not retried)
            row.update(kind=CopyEvent.Kind.SKIPPED, reason=it.reason)
        self.events.append(row)

    def write(self) -> None:
        # Claims are exclusive (the copies are locked and unclaimed), so no two batches of one
        # event share their lowest copy id: it names this batch's ledger entry.
        first = min(self.copies)
        result = positions_apply(
            key=f"mirror:{self.event.pk}:{first}",
            memo=f"Smart Sync mirror of lead event {self.event.pk} ({len(self.copies)} copies)",
            opens=self.opens,
            adds=self.adds,
            closes=self.closes,
            margin_changes=self.margin_changes,
        )
        for row, position_id in zip(self.open_rows, result.opened, strict=True):
            row["position_id"] = position_id
        for row in self.events:  # what each close really moved (after any loss cap)
            if row.get("position_id") in result.close_amounts:
                row["amount"] = result.close_amounts[row["position_id"]]
        bulk_insert(CopyEvent, self.events, returning=None)
        if self.notices:
            notifications_create_bulk(rows=self.notices)


# --- the sweeper and operators -----------------------------------------------------------------


def lead_events_unmirrored(*, older_than_s: int | None = None, limit: int = 200) -> list[int]:
    delay = settings.SMART_SYNC["SWEEP_AFTER_S"] if older_than_s is None else older_than_s
    cutoff = timezone.now() - timedelta(seconds=delay)
    return list(
        LeadEvent.objects.filter(status=PENDING, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass
class RedispatchResult:
    dispatched: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (event id, why)


def lead_events_redispatch(*, event_ids: list[int]) -> RedispatchResult:
    """Operators retry events that failed: the event's failed CopyEvents are removed (so those
    copies are eligible again), the event goes back to pending with its attempts reset, and it
    is dispatched after commit. An open whose lead sub-position has closed since is refused:
    mirroring it now would open a position the lead no longer holds.

    Locks: the copies holding failed claims (level 4), then the events. Idempotent: a second
    call finds nothing failed and only dispatches again (mirroring is idempotent)."""
    from apps.copies.tasks import lead_event_dispatch

    result = RedispatchResult()
    with transaction.atomic(durable=True):
        failed_claims = CopyEvent.objects.filter(
            lead_event_id__in=event_ids, kind=CopyEvent.Kind.FAILED
        )
        lock_rows(Copy.objects.filter(pk__in=failed_claims.values("copy_id")))
        events = list(
            LeadEvent.objects.select_for_update(of=("self",))
            .select_related("position")
            .filter(pk__in=event_ids)
            .order_by("pk")
        )
        for ev in events:
            if ev.kind == LeadEvent.Kind.OPEN and ev.position.status != Position.Status.OPEN:
                result.refused.append((ev.pk, "the lead has since closed this position"))
                continue
            failed_claims.filter(lead_event_id=ev.pk).delete()
            LeadEvent.objects.filter(pk=ev.pk).update(
                status=PENDING, attempts=0, failed_at=None, mirrored_at=None
            )
            result.dispatched.append(ev.pk)
        for pk in result.dispatched:
            transaction.on_commit(lambda pk=pk: lead_event_dispatch.delay(pk), robust=True)
    return result


def operations_summary() -> dict[str, int]:
    """What needs an operator's attention, for the admin dashboard."""
    stale = timezone.now() - timedelta(minutes=1)
    return {
        "failed_events": LeadEvent.objects.filter(status=LeadEvent.Status.FAILED).count(),
        "failed_copy_events": CopyEvent.objects.filter(kind=CopyEvent.Kind.FAILED).count(),
        "pending_events": LeadEvent.objects.filter(status=PENDING, created_at__lt=stale).count(),
    }
