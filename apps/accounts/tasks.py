"""E-mail for notices written in bulk (fan-out misses, lead ended): one digest per user."""

from celery import shared_task

from apps.accounts.services import notifications_email_pending


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def notifications_email_digest() -> int:
    """Safe to overlap or repeat: rows are claimed before sending (at most once)."""
    return notifications_email_pending()
