from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _dispatch(event_id: int) -> None:
    from apps.copies.tasks import lead_event_dispatch

    lead_event_dispatch.delay(event_id)


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.copies.schedules import schedules_ensure

    schedules_ensure()


class CopiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.copies"
    label = "copies"

    def ready(self) -> None:
        from apps.positions.outbox import register_lead_event_listener

        register_lead_event_listener(_dispatch)
        post_migrate.connect(_ensure_schedules, sender=self)
