from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.accounts.schedules import schedules_ensure

    schedules_ensure()


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users, tokens and notifications"  # allauth's app is "Accounts"

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self)
