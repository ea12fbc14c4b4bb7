"""Scheduled fees work (django-celery-beat, apps/fees/schedules.py): funding every 8 hours,
the weekly profit-share settlement and the daily funding digest. Tasks call one service each;
every service is safe to repeat or overlap (see apps/fees/services.py), so the tasks use
acks_late and retry only transient database errors, with backoff."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.fees import services

log = logging.getLogger(__name__)

RETRY = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 6,
    # a whole platform's settlement: chunks commit one by one, a killed run resumes
    "soft_time_limit": 900,
    "time_limit": 1200,
}


@shared_task(**RETRY)
def funding_settle_due(self) -> int:
    """Settle the latest funding time (00:00, 08:00, 16:00 UTC) for every perpetual."""
    run = services.funding_settle()
    for rnd in run.settled:
        log.info(
            "funding %s %s: %d positions, paid %s, received %s, shortfall %s",
            rnd.instrument.name, rnd.slot, rnd.positions, rnd.paid_by_users,
            rnd.received_by_users, rnd.shortfall,
        )  # fmt: skip
    return len(run.settled)


@shared_task(**RETRY)
def profit_share_weekly(self) -> int:
    """Settle profit share on every active copy (SPEC §8: Monday 00:00 UTC)."""
    return services.profit_share_settle_active(trigger="weekly")


@shared_task(**RETRY)
def funding_digest(self) -> int:
    """Tell each follower what funding their copies paid and received yesterday (UTC)."""
    return services.funding_digest_notify(day=(timezone.now() - timedelta(days=1)).date())
