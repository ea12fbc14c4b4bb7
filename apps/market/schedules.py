"""Periodic work of the market app besides the demo feed (apps/market/feed.py), kept in
django-celery-beat so operators see and edit it in the admin. Created after every migrate; an
operator's edits are kept (the row is only created when missing, by name)."""

CANDLES_TASK_NAME = "Price candles: aggregate ticks, prune old ticks"
CANDLES_TASK_PATH = "apps.market.tasks.candles_refresh"
CANDLES_EVERY_S = 60


def schedules_ensure() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=CANDLES_EVERY_S, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.get_or_create(
        name=CANDLES_TASK_NAME,
        defaults={
            "task": CANDLES_TASK_PATH,
            "interval": every,
            "queue": "prices",
            # a backlog from a stopped worker is dropped: the next run covers it
            "expire_seconds": CANDLES_EVERY_S,
            "description": "Aggregates price ticks into 1-minute candles (the minute still open "
            "is recomputed next time) and deletes ticks older than MARKET_TICK_RETENTION_HOURS "
            "once their candle holds them. Safe to run any time: idempotent.",
        },
    )
