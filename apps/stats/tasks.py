"""The daily stats job (beat: apps/stats/schedules.py). It calls the services; both are safe to
repeat (a day's snapshot is an upsert of numbers that depend only on history up to the day's
end), so the task uses acks_late and retries transient database errors (a serialization failure
of the REPEATABLE READ read included) with backoff."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from apps.stats import services

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=1800,
    time_limit=2400,
)
def stats_daily(self) -> int:
    runs = services.snapshots_take_due()
    for run in runs:
        log.info("stats: %s snapshots: %d leads, %d copies", run.day, run.leads, run.copies)
    if not runs:
        return 0
    return services.trader_stats_refresh(as_of=runs[-1].day)
