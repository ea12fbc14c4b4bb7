from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """A worker's proof of life. The smoke check (``apps.core.tasks.heartbeat``, ``manage.py
    worker_check``) writes here and nowhere else: it must never touch what users own (a price
    would move stop losses and liquidations)."""

    token = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=255, blank=True)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.token} by {self.worker or '?'}"
