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
    position paid or received size x contract value x mark x rate against the platform funding
    pool. Unique per (instrument, slot): a round is settled once.

    The row is the round's claim and its terms (rate and mark, fixed when the round opens). The
    accounts are settled in chunks, one transaction and one ledger entry each (key
    ``funding:<instrument>:<slot ISO>:<chunk>``): ``accounts_through`` is the highest account id
    settled so far, so a retried or overlapping run resumes after the last committed chunk, and
    ``completed_at`` marks the round done. ``entry`` is the first chunk's entry."""

    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="+")
    slot = models.DateTimeField()  # the funding time this round settles
    rate = models.DecimalField(max_digits=20, decimal_places=8)
    mark = MoneyField()
    positions = models.PositiveIntegerField(default=0)
    paid_by_users = MoneyField(default=0)  # sum paid into the pool (longs when rate > 0)
    received_by_users = MoneyField(default=0)  # sum paid out of the pool
    # funding owed by accounts that could not pay it all (their balance or isolated margin was
    # short): the pool received this much less (docs/decisions/0008)
    shortfall = MoneyField(default=0)
    chunks = models.PositiveIntegerField(default=0)  # chunk transactions committed
    accounts_through = models.BigIntegerField(default=0)  # accounts with id <= this are settled
    completed_at = models.DateTimeField(null=True, blank=True)
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
