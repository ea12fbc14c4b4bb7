"""Copies: one follower copying one lead trader in one market, Smart Sync mode (SPEC §2, §5).

Invariants:
- At most one active copy per (follower, lead, market): a partial unique constraint.
- The copy's money lives in its own ledger account (``account``); positions hold margin inside
  it. A stopped copy holds no money and no open position (SPEC §11.5).
- ``CopyEvent`` rows are the follower's history and the exactly-once claim: at most one per
  (copy, lead_event) — SPEC §11.3.
- ``profit_share_ratio`` is a snapshot of the lead's ratio at start; it never changes.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.fields import MoneyField


class Copy(models.Model):
    class Market(models.TextChoices):
        FUTURES = "futures", "Futures"
        SPOT = "spot", "Spot"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        STOPPED = "stopped", "Stopped"

    class StopLossAction(models.TextChoices):
        CLOSE_ALL = "close_all", "Close all positions at market"
        KEEP = "keep", "Keep positions and follow the lead's closes"
        HAND_OVER = "hand_over", "Hand over positions to me"

    class StopReason(models.TextChoices):
        USER = "user", "Stopped by you"
        LEAD_ENDED = "lead_ended", "Lead trader ended strategy"
        STOP_LOSS = "stop_loss", "Total Stop Loss for Trader triggered"
        OPERATOR = "operator", "Stopped by an operator"

    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="copies"
    )
    lead = models.ForeignKey("traders.LeadTrader", on_delete=models.PROTECT, related_name="copies")
    market = models.CharField(max_length=8, choices=Market.choices, default=Market.FUTURES)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT, related_name="copy")
    total_investment = MoneyField()  # net investment: moved in - moved out
    copy_ongoing_positions = models.BooleanField(default=False)
    total_stop_loss = MoneyField(null=True, blank=True)
    stop_loss_action = models.CharField(
        max_length=10, choices=StopLossAction.choices, default=StopLossAction.CLOSE_ALL
    )
    copying = models.BooleanField(default=True)  # False once stop loss stops new opens
    # Total Stop Loss for Trader triggered (SPEC §7): when, and the figures it saw (copy PnL,
    # equity, the mark of each instrument held, the action taken). The copy is "stopping" from
    # then until no position remains, when its cash returns and it is stopped.
    stop_loss_triggered_at = models.DateTimeField(null=True, blank=True)
    stop_loss_trigger = models.JSONField(default=dict, blank=True)
    profit_share_ratio = MoneyField(default=Decimal("0.10"))
    high_water_mark = MoneyField(default=0)
    profit_share_paid = MoneyField(default=0)
    # What a settlement could not pay because the copy's cash was short: owed, paid first at the
    # next settlement (SPEC §8 as amended by the risk-and-fees issue).
    profit_share_owed = MoneyField(default=0)
    # Lead events with an id <= this happened before the copy started: never mirrored to it.
    start_after_event_id = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=12, choices=StopReason.choices, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "copies"
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "lead", "market"],
                condition=Q(status="active"),
                name="copy_one_active_per_follower_lead_market",
            ),
            models.CheckConstraint(
                condition=Q(total_investment__gte=0), name="copy_total_investment_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "market", "status", "id"]),
            models.Index(fields=["follower", "status"]),
        ]

    def __str__(self) -> str:
        return f"Copy #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_stopping(self) -> bool:
        """Total Stop Loss triggered: no new opens; stops once no position remains."""
        return self.is_active and self.stop_loss_triggered_at is not None

    @property
    def display_status(self) -> str:
        return "stopping" if self.is_stopping else self.status


class CopyEvent(models.Model):
    class Kind(models.TextChoices):
        STARTED = "started", "Copy started"
        COPIED = "copied", "Copied"
        MISSED = "missed", "Missed"
        SYNC_FAILED = "sync_failed", "Sync failed"
        FAILED = "failed", "Could not be mirrored"
        SKIPPED = "skipped", "Nothing to change"
        INVESTMENT = "investment", "Investment changed"
        MANUAL_CLOSE = "manual_close", "Closed by hand"
        STOP_LOSS = "stop_loss", "Stop loss triggered"
        LIQUIDATED = "liquidated", "Liquidated"
        FUNDING = "funding", "Funding"
        HANDED_OVER = "handed_over", "Positions handed over"
        PROFIT_SHARE = "profit_share", "Profit share settled"
        LEAD_ENDED = "lead_ended", "Lead trader ended strategy"
        STOPPED = "stopped", "Copy stopped"

    # (copy, -id) and (lead_event, copy) below serve these lookups; see positions.Position.
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    lead_event = models.ForeignKey(
        "positions.LeadEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    position = models.ForeignKey(
        "positions.Position",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # positions are never deleted
    )
    reason = models.CharField(max_length=255, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    amount = MoneyField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead_event", "copy"],
                condition=Q(lead_event__isnull=False),
                name="copy_event_one_per_lead_event_and_copy",
            )
        ]
        indexes = [
            models.Index(fields=["copy", "-id"]),
            models.Index(fields=["id"], condition=Q(kind="failed"), name="copy_event_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.copy_id} {self.kind}"
