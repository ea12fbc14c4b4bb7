"""Periodic work of the copies app, kept in django-celery-beat so operators can see and
edit it in the admin. Created after every migrate; an operator's edits are kept."""

from django.conf import settings


def schedules_ensure() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=max(5, settings.SMART_SYNC["SWEEP_AFTER_S"] // 2), period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name="Re-dispatch unmirrored lead events",
        defaults={
            "task": "apps.copies.tasks.lead_events_sweep",
            "interval": every,
            "queue": "mirroring",
            "description": "Outbox sweeper: lead events not fully mirrored after a short delay "
            "are dispatched again. Safe to run any time: mirroring is idempotent.",
        },
    )
    sweep, _ = IntervalSchedule.objects.get_or_create(
        every=settings.SMART_SYNC["RISK_SWEEP_S"], period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name="Risk sweep: liquidations and Total Stop Loss",
        defaults={
            "task": "apps.copies.tasks.risk_sweep",
            "interval": sweep,
            "queue": "prices",
            "description": "Backstop of the risk pass that every price change runs: liquidates "
            "positions past their liquidation price and cross accounts at <= 100% margin level, "
            "triggers Total Stop Loss for Trader, stops copies whose last position closed.",
        },
    )
