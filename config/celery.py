"""The Celery app. Queues: mirroring (lead events -> copies), prices (feed, risk), settlement."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("smartsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
