"""Daily snapshots of lead traders and copies, and the stats computed from them (SPEC §9).

Invariants:
- One snapshot per (lead, market, date) and per (copy, date), ``date`` a UTC day: the figures
  at the end of that day (00:00 UTC of the next) and the flows during it. Writing a day again
  overwrites it with the same numbers: a snapshot is a function of the ledger, the positions,
  their fills and the price history up to the day's end, whenever it is taken
  (apps.stats.services).
- ``equity = balance at the day's end + unrealized_pnl``; ``unrealized_pnl`` is rounded toward
  zero to 8 places once, so the identity holds exactly in the row.
- ``transfers_in``/``transfers_out`` are >= 0: money moved into / out of the account that day
  (lead: main <-> lead futures account; copy: funding at start, Modify, returns).
- Snapshots are history: never deleted (the models PROTECT their owners), never reset.
- A lead has a futures snapshot every day it existed and a spot snapshot on the days its lead
  spot account holds or moved anything (or had spot copiers): spot equity = cash + holdings at
  the day's last price.
- ``TraderStats`` holds one row per (lead, market, period), recomputed from the lead's snapshots
  of that market after each day's snapshots (``as_of`` = the last day included). Ratios are
  fractions; unknown is NULL, never 0.
"""

from django.db import models

from apps.core.fields import MoneyField


class Period(models.TextChoices):
    D7 = "7d", "7 days"
    D30 = "30d", "30 days"
    D90 = "90d", "90 days"
    ALL = "all", "All time"


PERIOD_DAYS = {Period.D7: 7, Period.D30: 30, Period.D90: 90, Period.ALL: None}


class Snapshot(models.Model):
    """The figures shared by lead and copy snapshots."""

    date = models.DateField()
    equity = MoneyField()
    transfers_in = MoneyField(default=0)
    transfers_out = MoneyField(default=0)
    realized_pnl = MoneyField(default=0)  # gross, of the fills that day (closes, liquidations)
    unrealized_pnl = MoneyField(default=0)  # of the positions open at the day's end
    fees = MoneyField(default=0)  # trading fees of the fills that day
    funding = MoneyField(default=0)  # funding received (+) or paid (-) that day
    open_positions = models.PositiveIntegerField(default=0)  # at the day's end
    taken_at = models.DateTimeField()  # when these numbers were (last) written

    class Meta:
        abstract = True


class Market(models.TextChoices):
    FUTURES = "futures", "Futures"
    SPOT = "spot", "Spot"


class LeadSnapshot(Snapshot):
    """A lead trader's account of one market: the lead futures account or the lead spot account
    (its holdings are positions with margin_mode spot: cost basis as margin, average cost as
    entry; docs/decisions/0012-spot-holdings.md)."""

    lead = models.ForeignKey(
        "traders.LeadTrader", on_delete=models.PROTECT, related_name="snapshots", db_index=False
    )
    market = models.CharField(max_length=8, choices=Market.choices, default=Market.FUTURES)
    profit_share = MoneyField(default=0)  # earned that day (paid into the lead's main account)
    copiers = models.PositiveIntegerField(default=0)  # active copies at the day's end
    aum = MoneyField(default=0)  # sum of those copies' equity at the day's end
    # the lead's sub-positions: opened that day; closed that day, of which wins (net PnL > 0);
    # and the closed ones' total holding time (whole seconds per position)
    opens = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    holding_seconds = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["lead_id", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "market", "date"], name="stats_lead_snapshot_one_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.market} {self.date}"


class CopySnapshot(Snapshot):
    copy = models.ForeignKey(
        "copies.Copy", on_delete=models.PROTECT, related_name="snapshots", db_index=False
    )
    lead = models.ForeignKey(
        "traders.LeadTrader", on_delete=models.PROTECT, related_name="+", db_index=False
    )  # the copy's lead (never changes): per-lead reads without a join
    profit_share = MoneyField(default=0)  # paid that day (copy account -> lead)

    class Meta:
        ordering = ["copy_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["copy", "date"], name="stats_copy_snapshot_one_per_day")
        ]
        indexes = [models.Index(fields=["lead", "date"])]

    def __str__(self) -> str:
        return f"copy {self.copy_id} {self.date}"


class TraderStats(models.Model):
    """A lead's stats of one market over one period ending with ``as_of`` (formulas:
    apps/stats/formulas.py). Tracking figures (how that market's copiers followed) are filled
    for the 30-day period only."""

    lead = models.ForeignKey(
        "traders.LeadTrader", on_delete=models.CASCADE, related_name="stats", db_index=False
    )
    market = models.CharField(max_length=8, choices=Market.choices, default=Market.FUTURES)
    period = models.CharField(max_length=3, choices=Period.choices)
    as_of = models.DateField()  # the last snapshot day included
    days = models.PositiveIntegerField(default=0)  # snapshot days in the period
    roi = MoneyField(null=True, blank=True)
    pnl = MoneyField(null=True, blank=True)
    max_drawdown = MoneyField(null=True, blank=True)
    sharpe = MoneyField(null=True, blank=True)
    win_rate = MoneyField(null=True, blank=True)
    closed = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    opens = models.PositiveIntegerField(default=0)
    trades_per_week = MoneyField(null=True, blank=True)
    avg_holding_seconds = models.BigIntegerField(null=True, blank=True)
    copiers_peak = models.PositiveIntegerField(default=0)  # most copiers at a day's end
    # tracking (30d): copies' time-weighted ROI over the days each copied in the period
    tracked_copies = models.PositiveIntegerField(default=0)
    copiers_median_roi = MoneyField(null=True, blank=True)
    # median over copies of (copy ROI - the lead's ROI over the same days)
    tracking_gap_median = MoneyField(null=True, blank=True)
    mirror_outcomes = models.PositiveIntegerField(default=0)  # copied + missed + failed
    missed = models.PositiveIntegerField(default=0)  # missed + sync failed + failed
    missed_share = MoneyField(null=True, blank=True)
    missed_reasons = models.JSONField(default=list, blank=True)  # [{kind, reason, count}]
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["lead_id", "market", "period"]
        verbose_name_plural = "trader stats"
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "market", "period"], name="stats_one_per_lead_market_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.market} {self.period} as of {self.as_of}"
