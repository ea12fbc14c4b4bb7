from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.fees.schedules import schedules_ensure

    schedules_ensure()


class FeesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.fees"
    label = "fees"

    def ready(self) -> None:
        from apps.copies.hooks import register_stop_settlement
        from apps.fees.services import profit_share_settle_many

        register_stop_settlement(profit_share_settle_many)
        post_migrate.connect(_ensure_schedules, sender=self)
