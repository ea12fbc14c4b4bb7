"""Periodic work of the fees app, in django-celery-beat so operators see and edit it in the
admin (Periodic tasks; the crontab times are UTC). Created after every migrate; an operator's
edits are kept (rows are only created when missing, by name)."""

from zoneinfo import ZoneInfo

SCHEDULES = (
    # name, task, crontab (minute, hour, day_of_week), description
    (
        "Funding settlement (00:00, 08:00, 16:00 UTC)",
        "apps.fees.tasks.funding_settle_due",
        ("0", "0,8,16", "*"),
        "Every open perpetual position pays (long, rate > 0) or receives (short) size x contract "
        "value x mark x rate against the funding pool (SPEC §4). Settles the latest funding time "
        "for every perpetual not yet settled for it: safe to run again.",
    ),
    (
        "Profit share weekly settlement (Monday 00:00 UTC)",
        "apps.fees.tasks.profit_share_weekly",
        ("0", "0", "1"),
        "High-water-mark profit share of every active copy, paid to its lead trader (SPEC §8). "
        "A copy settled weekly within the last hour is skipped, so a repeat settles nothing twice.",
    ),
    (
        "Funding daily digest (00:30 UTC)",
        "apps.fees.tasks.funding_digest",
        ("30", "0", "*"),
        "One notification per follower summing yesterday's funding on their copies.",
    ),
)


def schedules_ensure() -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    for name, task, (minute, hour, day_of_week), description in SCHEDULES:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone=ZoneInfo("UTC"),
        )
        PeriodicTask.objects.create(
            name=name, task=task, crontab=crontab, queue="settlement", description=description
        )
