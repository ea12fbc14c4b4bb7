"""Mirroring lead events to copies (SPEC §5.3), set-based and exactly once.

How it works:
- A lead action writes a ``LeadEvent`` (the outbox) with its trade. After commit,
  ``lead_event_dispatch`` splits the eligible copies into id ranges (chunks) that separate
  tasks, on separate workers, mirror in parallel.
- A chunk runs in one durable transaction: it locks the active copies of that lead in its id
  range (one ``SELECT ... FOR UPDATE ORDER BY id``), then mirrors, in event order, every
  not-yet-mirrored event of the lead up to this one, to the copies of the range that do not
  have it yet. So a copy always sees a lead's events in order (an open before its close)
  whatever order tasks arrive in.
- The claim is a ``CopyEvent(lead_event, copy)`` row, unique in the database. Because the
  copy rows are locked first and the "not yet mirrored" test runs after the lock, two
  workers given the same chunk (a duplicate delivery, a retry, the sweeper) serialize and
  the second finds nothing to do. Stop copying takes the same copy lock, so it either runs
  before (the copy is no longer eligible) or after (it closes what the mirror opened).
- Per chunk the work is a constant number of statements: lock, eligible copies, balances,
  open positions with prices, then bulk inserts/updates of positions, fills, journal
  entries, postings, balances, copy events and notifications.
- ``mirrored_at`` is set once no eligible copy lacks the event. A beat task re-dispatches
  events still unmirrored after a short delay, so a lost message or a killed worker loses
  nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from apps import smart_sync as ss
from apps.accounts.services import notifications_create_bulk
from apps.copies import engine
from apps.copies.models import Copy, CopyEvent
from apps.copies.services import copies_stop_locked
from apps.core.bulk import bulk_insert
from apps.market.selectors import price_get
from apps.market.services import venue_price
from apps.positions.models import LeadEvent, Position
from apps.positions.selectors import account_figures_linked
from apps.positions.services import positions_apply
from apps.traders.models import LeadTrader


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
}
CLOSE_EVENTS = {LeadEvent.Kind.PARTIAL_CLOSE, LeadEvent.Kind.CLOSE, LeadEvent.Kind.LIQUIDATION}


def lead_id_for_event(event: LeadEvent) -> int:
    return LeadTrader.objects.values_list("pk", flat=True).get(futures_account_id=event.account_id)


def eligible_copies(event: LeadEvent, lead_id: int) -> QuerySet[Copy]:
    """Copies that should receive this event and have not yet: active copies that started
    before it, without a CopyEvent for it; opens only to copies still copying (a triggered
    stop loss stops new opens); position events only to copies holding a linked open
    position (a sub-position the copy never linked, or closed by hand, changes nothing)."""
    qs = Copy.objects.filter(
        lead_id=lead_id,
        market=Copy.Market.FUTURES,
        status=Copy.Status.ACTIVE,
        start_after_event_id__lt=event.pk,
    ).exclude(
        # NOT IN (one hashed subplan over this event's claims) rather than NOT EXISTS: right
        # after a bulk insert the statistics are stale and the planner would otherwise probe
        # the claims once per copy, scanning every claim each time (quadratic).
        pk__in=CopyEvent.objects.filter(lead_event_id=event.pk).values("copy_id")
    )
    if event.kind == LeadEvent.Kind.OPEN:
        return qs.filter(copying=True)
    if event.kind in POSITION_EVENTS:
        return qs.filter(
            Exists(
                Position.objects.filter(
                    account_id=OuterRef("account_id"),
                    lead_position_id=event.position_id,
                    status=Position.Status.OPEN,
                )
            )
        )
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
    event of the lead is still unmirrored (an earlier open still in flight could yet create
    the positions this event would change). Returns whether it did."""
    earlier = LeadEvent.objects.filter(
        account_id=event.account_id, mirrored_at__isnull=True, pk__lt=event.pk
    ).exists()
    if earlier or eligible_copies(event, lead_id_for_event(event)).exists():
        return False
    LeadEvent.objects.filter(pk=event.pk, mirrored_at__isnull=True).update(
        mirrored_at=timezone.now()
    )
    return True


def lead_event_mirror(event_id: int, *, lo: int | None = None, hi: int | None = None) -> int:
    """Mirror ``event_id`` (and any earlier unmirrored event of the same lead) to the copies
    with lo <= id <= hi. Returns how many (event, copy) pairs were mirrored. Idempotent."""
    with transaction.atomic(durable=True):
        event = LeadEvent.objects.get(pk=event_id)
        lead_id = lead_id_for_event(event)
        locked = Copy.objects.filter(
            lead_id=lead_id, market=Copy.Market.FUTURES, status=Copy.Status.ACTIVE
        )
        if lo is not None:
            locked = locked.filter(pk__gte=lo)
        if hi is not None:
            locked = locked.filter(pk__lte=hi)
        list(locked.select_for_update().order_by("pk").values_list("pk", flat=True))
        pending = list(
            LeadEvent.objects.filter(
                account_id=event.account_id, mirrored_at__isnull=True, pk__lte=event.pk
            )
            .select_related("instrument")
            .order_by("pk")
        )
        done = 0
        for ev in pending:
            done += _mirror_range(ev, lead_id=lead_id, lo=lo, hi=hi)
        now = timezone.now()
        for ev in pending:
            if not eligible_copies(ev, lead_id).exists():
                LeadEvent.objects.filter(pk=ev.pk, mirrored_at__isnull=True).update(mirrored_at=now)
    return done


def _mirror_range(event: LeadEvent, *, lead_id: int, lo: int | None, hi: int | None) -> int:
    qs = eligible_copies(event, lead_id)
    if lo is not None:
        qs = qs.filter(pk__gte=lo)
    if hi is not None:
        qs = qs.filter(pk__lte=hi)
    if event.kind == LeadEvent.Kind.ENDED:
        copies = list(qs.select_related("lead__user").order_by("pk"))
        copies_stop_locked(copies, reason=Copy.StopReason.LEAD_ENDED, lead_event=event)
        return len(copies)
    # Plain tuples, not model instances: this is the per-follower hot path.
    copies = [
        _CopyRow(*row) for row in qs.order_by("pk").values_list("pk", "account_id", "follower_id")
    ]
    if not copies:
        return 0
    nickname = LeadTrader.objects.values_list("nickname", flat=True).get(pk=lead_id)

    inst = event.instrument
    opening = event.kind == LeadEvent.Kind.OPEN
    if opening or event.kind in CLOSE_EVENTS:
        buys = (event.side == "long") == opening
        price_now = venue_price(instrument=inst, side="buy" if buys else "sell")
    else:  # leverage and margin changes trade nothing: the mark price sizes margin levels
        price_now = price_get(inst)
    figs = account_figures_linked(
        [c.account_id for c in copies], lead_position_id=event.position_id
    )
    by_copy = {c.pk: c for c in copies}
    states = [
        engine.copy_state(c.pk, figs[c.account_id], lead_position_id=event.position_id)
        for c in copies
    ]
    ss_event = ss.LeadEvent(
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
    )
    intents = ss.plan_event(ss_event, states, engine.engine_instrument(inst), engine.policy())

    margins = {p.id: p.margin for f in figs.values() for p in f.positions}
    opens, closes, margin_changes = [], [], []
    events: list[dict] = []
    notices: list[tuple] = []
    open_event_rows: list[dict] = []
    for it in intents:
        c = by_copy[it.copy_id]
        row = {
            "copy_id": c.pk,
            "lead_event_id": event.pk,
            "explanation": it.explanation,
            "position_id": it.position_id,
        }
        if it.action == "open":
            opens.append(
                engine.open_spec(
                    it,
                    account_id=c.account_id,
                    instrument_id=inst.pk,
                    lead_position_id=event.position_id,
                    reference_price=event.fill_price,
                    lead_event_id=event.pk,
                )
            )
            # the explanation lives on the position the event links to
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.margin, explanation={})
            open_event_rows.append(row)
        elif it.action == "close":
            closes.append(
                engine.close_spec(
                    it,
                    reason=Position.CloseReason.LEAD,
                    lead_event_id=event.pk,
                    reference_price=event.fill_price,
                )
            )
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.realized_pnl - it.fee)
        elif it.action in ("set_leverage", "add_margin", "reduce_margin"):
            margin_changes.append(engine.margin_spec(it, margins[it.position_id]))
            row.update(kind=CopyEvent.Kind.COPIED, amount=it.margin)
        elif it.action == "miss":
            row.update(kind=CopyEvent.Kind.MISSED, reason=it.reason)
            notices.append(
                (
                    c.follower_id,
                    "missed_copy",
                    f"Missed copy of {nickname}'s {inst.name} {event.side} open: {it.reason}.",
                    {"copy": c.pk, "lead_event": event.pk},
                )
            )
        elif it.action == "sync_failed":
            row.update(kind=CopyEvent.Kind.SYNC_FAILED, reason=it.reason)
            notices.append(
                (
                    c.follower_id,
                    "sync_failed",
                    f"Could not follow {nickname}'s {event.get_kind_display().lower()} on "
                    f"{inst.name}: {it.reason}.",
                    {"copy": c.pk, "lead_event": event.pk},
                )
            )
        else:  # skip: nothing to change for this copy (recorded so it is not retried)
            row.update(kind=CopyEvent.Kind.SKIPPED, reason=it.reason)
        events.append(row)

    # Claims are exclusive (the copies are locked and unclaimed), so no two batches of one
    # event share their lowest copy id: it names this batch's ledger entry.
    result = positions_apply(
        key=f"mirror:{event.pk}:{copies[0].pk}",
        memo=f"Smart Sync mirror of lead event {event.pk} ({len(copies)} copies)",
        opens=opens,
        closes=closes,
        margin_changes=margin_changes,
    )
    for row, position_id in zip(open_event_rows, result.opened, strict=True):
        row["position_id"] = position_id
    bulk_insert(CopyEvent, events, returning=None)
    if notices:
        notifications_create_bulk(rows=notices)
    return len(events)


def lead_events_unmirrored(*, older_than_s: int | None = None, limit: int = 200) -> list[int]:
    delay = settings.SMART_SYNC["SWEEP_AFTER_S"] if older_than_s is None else older_than_s
    cutoff = timezone.now() - timedelta(seconds=delay)
    return list(
        LeadEvent.objects.filter(mirrored_at__isnull=True, created_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
