"""Profit-share settlements (SPEC §8). Trading fees and funding are ledger entries."""

from django.db import models

from apps.core.fields import MoneyField


class ProfitShareSettlement(models.Model):
    class Trigger(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        STOP = "stop", "Copy stopped"
        LEAD_ENDED = "lead_ended", "Lead trader ended"
        OPERATOR = "operator", "Operator"

    copy = models.ForeignKey(
        "copies.Copy", on_delete=models.PROTECT, related_name="profit_share_settlements"
    )
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    realized = MoneyField()  # R at settlement
    high_water_before = MoneyField()
    high_water_after = MoneyField()
    ratio = MoneyField()
    share = MoneyField()
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"copy {self.copy_id} {self.trigger}: {self.share}"
