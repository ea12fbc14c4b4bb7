"""``manage.py worker_check``: send a heartbeat through the broker and wait until a worker has
written it to the database. Exit 0 when it has, 1 after the timeout. Touches nothing users own."""

from __future__ import annotations

import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from apps.core.models import Heartbeat
from apps.core.tasks import heartbeat


class Command(BaseCommand):
    help = "Check that a Celery worker consumes messages and writes to the database."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0)
        parser.add_argument("--queue", default="default")

    def handle(self, *args, timeout: float, queue: str, **options):
        token = uuid.uuid4().hex
        started = time.monotonic()
        heartbeat.apply_async(args=[token], queue=queue)
        while time.monotonic() - started < timeout:
            beat = Heartbeat.objects.filter(token=token).first()
            if beat is not None:
                took = time.monotonic() - started
                self.stdout.write(f"worker {beat.worker or '?'} answered in {took:.2f}s")
                return
            time.sleep(0.2)
        raise CommandError(f"no worker answered on queue {queue!r} within {timeout:.0f}s")
