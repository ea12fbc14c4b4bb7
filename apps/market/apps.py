from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.market.schedules import schedules_ensure

    schedules_ensure()


class MarketConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.market"
    label = "market"

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self)
