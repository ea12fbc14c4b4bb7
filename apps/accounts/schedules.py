"""Periodic work of the accounts app, in django-celery-beat (visible and editable in the admin).
Created after every migrate; an operator's edits are kept."""


def schedules_ensure() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.get_or_create(
        name="E-mail notification digests",
        defaults={
            "task": "apps.accounts.tasks.notifications_email_digest",
            "interval": every,
            "description": "Notices written in bulk (a fan-out to thousands of followers) are "
            "e-mailed here, one digest per user, instead of one e-mail per row.",
        },
    )
