"""Celery tasks of the core app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.core.tasks.heartbeat", bind=True, soft_time_limit=30, time_limit=60)
def heartbeat(self, token: str) -> str:
    """Diagnostic: record that a worker consumed this message and wrote to the database. It
    writes only a ``Heartbeat`` row (nothing any user owns); ``manage.py worker_check`` and the
    live-worker test read it back."""
    from apps.core.models import Heartbeat

    Heartbeat.objects.get_or_create(token=token, defaults={"worker": self.request.hostname or ""})
    return token
