from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.stats.schedules import schedules_ensure

    schedules_ensure()


class StatsConfig(AppConfig):
    """The read side about lead traders: daily snapshots, their stats, the directory and the
    profiles. Sits above copies and fees; nothing below imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.stats"
    label = "stats"
    verbose_name = "Lead-trader stats"

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self)
