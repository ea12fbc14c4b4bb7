"""Lead traders: approved users who trade on their lead futures and spot accounts."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.core.fields import MoneyField


def default_max_copiers() -> int:
    return settings.SMART_SYNC["DEFAULT_MAX_COPIERS"]


class LeadTrader(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lead_trader"
    )
    nickname = models.CharField(max_length=40, unique=True)
    bio = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    profit_share_ratio = MoneyField(
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.30"))],
    )
    max_copiers = models.PositiveIntegerField(default=default_max_copiers)
    futures_account = models.OneToOneField(
        "ledger.Account", on_delete=models.PROTECT, related_name="lead_trader_futures"
    )
    spot_account = models.OneToOneField(
        "ledger.Account", on_delete=models.PROTECT, related_name="lead_trader_spot"
    )
    approved_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(profit_share_ratio__gte=0) & Q(profit_share_ratio__lte=Decimal("0.3")),
                name="lead_trader_profit_share_ratio_range",
            )
        ]

    def __str__(self) -> str:
        return self.nickname

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE
