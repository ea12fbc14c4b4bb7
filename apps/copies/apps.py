import logging

from django.apps import AppConfig
from django.db.models.signals import post_migrate

log = logging.getLogger(__name__)

# Publishing must not hold a trade's answer hostage: try briefly, then leave the event to the
# outbox sweeper (SMART_SYNC_SWEEP_AFTER_S), which re-dispatches every pending event.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def _dispatch(event_id: int) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from apps.copies.tasks import lead_event_dispatch

    try:
        lead_event_dispatch.apply_async((event_id,), retry=True, retry_policy=_PUBLISH_RETRY)
    except (BrokerError, ConnectionError, OSError) as exc:
        log.warning("lead event %s not dispatched (%s); the outbox sweeper will", event_id, exc)


def _risk_on_price_change(instrument_ids: list[int]) -> None:
    """market.hooks listener: a price moved, run the risk pass for it (on the prices queue)."""
    from kombu.exceptions import OperationalError as BrokerError

    from apps.copies.tasks import risk_pass_instruments

    try:
        risk_pass_instruments.apply_async(
            (list(instrument_ids),), retry=True, retry_policy=_PUBLISH_RETRY
        )
    except (BrokerError, ConnectionError, OSError) as exc:
        log.warning("risk pass for %s not enqueued (%s); the risk sweep will", instrument_ids, exc)


def _ensure_schedules(sender, **kwargs) -> None:
    from apps.copies.schedules import schedules_ensure

    schedules_ensure()


class CopiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.copies"
    label = "copies"

    def ready(self) -> None:
        from apps.market.hooks import register_price_listener
        from apps.positions.outbox import register_lead_event_listener

        register_lead_event_listener(_dispatch)
        register_price_listener(_risk_on_price_change)
        post_migrate.connect(_ensure_schedules, sender=self)
