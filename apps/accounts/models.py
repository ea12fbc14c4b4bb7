"""Users log in with their e-mail. Notifications are in-app messages, also e-mailed.

Invariants:
- ``User.email`` is stored lower-case and is unique; there is no username anywhere.
- A notification belongs to exactly one user and is only ever shown to that user.
- ``emailed_at`` is set once the e-mail copy went out; rows still NULL are the backlog a batch
  mailer picks up (bulk fan-out notices are never e-mailed one by one).
"""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from rest_framework.authtoken.models import TokenProxy


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email


class Notification(models.Model):
    class Kind(models.TextChoices):
        COPY_STARTED = "copy_started", "Copy started"
        COPY_STOPPED = "copy_stopped", "Copy stopped"
        MISSED_COPY = "missed_copy", "Missed copy"
        SYNC_FAILED = "sync_failed", "Sync failed"
        STOP_LOSS = "stop_loss", "Stop loss triggered"
        LIQUIDATION = "liquidation", "Liquidation"
        LEAD_ENDED = "lead_ended", "Lead trader ended strategy"
        PROFIT_SHARE = "profit_share", "Profit share settled"
        FUNDING = "funding", "Funding"
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        LEAD_APPROVED = "lead_approved", "Lead trader approved"
        INFO = "info", "Info"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            # The nav badge counts unread rows on every page view: keep that index small.
            models.Index(
                fields=["user"], condition=models.Q(read=False), name="notification_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.message[:40]}"


class IdempotencyRecord(models.Model):
    """The answer to a money-moving request made with an idempotency key, written in the same
    transaction as the request's effect (apps.accounts.idempotency): a record exists if and only
    if the effect committed. Unique per (user, key)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255)  # what was asked: "POST /api/v1/copies/", a form
    fingerprint = models.CharField(max_length=64)  # sha256 of the request body
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)  # the first answer as JSON text, keys in their order
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_per_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.key} {self.scope}"


class ApiToken(TokenProxy):
    """A user's API token as operators see it (apps.accounts.admin): named by its holder, never
    by its key, which DRF's ``Token.__str__`` returns (admin titles, delete pages and the admin
    log would show it). DRF's proxy maps ``pk`` to the user's id, so no URL carries the key."""

    class Meta:
        proxy = True
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"API token of {self.user.email}"
