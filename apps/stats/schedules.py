"""Periodic work of the stats app, in django-celery-beat so operators see and edit it in the
admin (Periodic tasks; crontab times are UTC). Created after every migrate when missing, by
name; an operator's edits are kept."""

from zoneinfo import ZoneInfo

NAME = "Stats: daily snapshots and stats (00:05 UTC)"


def schedules_ensure() -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="5",
        hour="0",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=ZoneInfo("UTC"),
    )
    PeriodicTask.objects.create(
        name=NAME,
        task="apps.stats.tasks.stats_daily",
        crontab=crontab,
        queue="default",
        description="Snapshot of every lead trader and copy for the UTC day that just ended "
        "(and days a stopped beat missed, up to 7), then every lead's stats for 7, 30, 90 days "
        "and all time. Safe to run again: the same day writes the same numbers.",
    )
