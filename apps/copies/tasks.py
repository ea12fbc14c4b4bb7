"""Celery tasks for mirroring. Tasks take ids, call one service, and are idempotent
(acks_late: a task whose worker dies is redelivered; the CopyEvent claim makes the repeat
a no-op). Only transient database errors are retried, with backoff."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import IntegrityError, OperationalError

from apps.copies import mirroring
from apps.positions.models import LeadEvent

log = logging.getLogger(__name__)

RETRY = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (OperationalError, IntegrityError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
    "soft_time_limit": 120,
    "time_limit": 180,
}


@shared_task(**RETRY)
def lead_event_dispatch(self, event_id: int) -> int:
    """Split an event's eligible copies into chunks; one chunk runs here, the rest are
    enqueued so several workers share a big fan-out."""
    try:
        event = LeadEvent.objects.get(pk=event_id)
    except LeadEvent.DoesNotExist:
        return 0
    LeadEvent.objects.filter(pk=event_id).update(dispatch_count=event.dispatch_count + 1)
    chunks = mirroring.chunks_for_event(event)
    if not chunks:
        if mirroring.lead_event_complete_if_alone(event):
            return 0
        return mirroring.lead_event_mirror(event_id)
    # Chunks go to the queue this dispatch came from, so a worker pool dedicated to a
    # queue keeps the whole fan-out (eager runs have no delivery info: default routing).
    queue = (self.request.delivery_info or {}).get("routing_key")
    for lo, hi in chunks[1:]:
        lead_event_mirror_chunk.apply_async(args=(event_id, lo, hi), queue=queue)
    lo, hi = chunks[0]
    return mirroring.lead_event_mirror(event_id, lo=lo, hi=hi)


@shared_task(**RETRY)
def lead_event_mirror_chunk(self, event_id: int, lo: int, hi: int) -> int:
    return mirroring.lead_event_mirror(event_id, lo=lo, hi=hi)


@shared_task(bind=True, acks_late=True, soft_time_limit=60, time_limit=90)
def lead_events_sweep(self) -> int:
    """Re-dispatch lead events not fully mirrored after a short delay (lost message, killed
    worker, or two last chunks that each could not see the other's commit)."""
    ids = mirroring.lead_events_unmirrored()
    for event_id in ids:
        lead_event_dispatch.delay(event_id)
    if ids:
        log.info("sweeper re-dispatched %d lead events", len(ids))
    return len(ids)


RISK = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 10,
    "max_retries": 5,
    "soft_time_limit": 60,
    "time_limit": 90,
    "ignore_result": True,
}


@shared_task(name="apps.copies.tasks.risk_pass_instruments", **RISK)
def risk_pass_instruments(self, instrument_ids: list[int]) -> int:
    """After a price change: liquidations and stop losses for these instruments."""
    from apps.copies.risk import risk_pass

    report = risk_pass(instrument_ids=[int(i) for i in instrument_ids])
    return report.liquidated_positions + report.stop_losses


@shared_task(name="apps.copies.tasks.risk_sweep", **RISK)
def risk_sweep(self) -> int:
    """The backstop: the same pass over every instrument, every few seconds."""
    from apps.copies.risk import risk_pass

    report = risk_pass(instrument_ids=None)
    if report.liquidated_positions or report.stop_losses or report.stopped:
        log.info(
            "risk sweep: %d positions liquidated, %d stop losses, %d copies stopped",
            report.liquidated_positions, report.stop_losses, report.stopped,
        )  # fmt: skip
    return report.liquidated_positions + report.stop_losses
