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
    share = MoneyField()  # paid now (owed first, then this period's share)
    due = MoneyField(default=0)  # owed before + ratio x max(0, R - H), rounded down
    owed_after = MoneyField(default=0)  # what could not be paid (the copy's cash was short)
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"copy {self.copy_id} {self.trigger}: {self.share}"


class FundingSettlement(models.Model):
    """One funding payment round of one perpetual (SPEC §4: 00:00, 08:00, 16:00 UTC): every open
    position paid or received size x contract value x mark x rate, in one ledger entry against
    the platform funding pool. Unique per (instrument, slot): a round is settled once."""

    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="+")
    slot = models.DateTimeField()  # the funding time this round settles
    rate = models.DecimalField(max_digits=20, decimal_places=8)
    mark = MoneyField()
    positions = models.PositiveIntegerField(default=0)
    paid_by_users = MoneyField(default=0)  # sum paid into the pool (longs when rate > 0)
    received_by_users = MoneyField(default=0)  # sum paid out of the pool
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-slot", "instrument_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "slot"], name="funding_one_per_instrument_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.slot:%Y-%m-%d %H:%M}: {self.rate}"
