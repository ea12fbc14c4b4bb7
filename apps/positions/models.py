"""Positions, fills and lead events (the outbox).

Invariants:
- A position belongs to one ledger account: a lead futures account (lead sub-position) or a
  copy account (follower position). Its margin is an allocation inside that account's balance,
  not a ledger movement; fees and realized PnL are ledger movements.
- A follower position links to exactly one lead sub-position: at most one per (account,
  lead_position) — SPEC §11.3.
- ``size`` is a multiple of the instrument's lot size and >= its min size while open.
- Every lead action writes its ``LeadEvent`` in the same transaction as the trade, carrying
  everything needed to mirror it later; it is ``mirrored`` once every eligible copy has its
  CopyEvent, or ``failed`` after a bounded number of crashed attempts (it then stops holding
  back the lead's later events).
"""

from django.db import models
from django.db.models import Q

from apps.core.fields import MoneyField, PriceField, QuantityField


class Side(models.TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


class MarginMode(models.TextChoices):
    CROSS = "cross", "Cross"
    ISOLATED = "isolated", "Isolated"
    # a spot holding: leverage 1, "margin" = its cost basis at average cost, never liquidated
    SPOT = "spot", "Spot"


class Position(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class CloseReason(models.TextChoices):
        LEAD = "lead", "Lead trader closed"
        MANUAL = "manual", "Closed by hand"
        LIQUIDATION = "liquidation", "Liquidated"
        STOP_COPY = "stop_copy", "Copy stopped"
        STOP_LOSS = "stop_loss", "Total stop loss"
        LEAD_ENDED = "lead_ended", "Lead trader ended strategy"

    # Single-column FK indexes are off where a composite index below leads with the column:
    # every index is paid for by each of the thousands of rows one lead event writes.
    account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, related_name="positions", db_index=False
    )
    lead_position = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="followers",
        db_index=False,
    )
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, db_index=False)
    side = models.CharField(max_length=5, choices=Side.choices)
    margin_mode = models.CharField(max_length=8, choices=MarginMode.choices)
    leverage = models.PositiveIntegerField()
    size = QuantityField()  # contracts still open
    opened_size = QuantityField()  # contracts at open
    entry_price = PriceField()
    lead_entry_price = PriceField(null=True, blank=True)  # follower: the lead's fill price
    margin = MoneyField()  # current margin allocated inside the account
    realized_pnl = MoneyField(default=0)  # gross of fees
    fees = MoneyField(default=0)  # trading fees paid (open + closes)
    funding = MoneyField(default=0)  # funding paid (-) or received (+)
    exit_price = PriceField(null=True, blank=True)  # average close price
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    # Handed over to the follower by Total Stop Loss for Trader (action "hand over"): later lead
    # events no longer touch it; the follower closes it.
    handed_over = models.BooleanField(default=False)
    opened_by_event = models.ForeignKey(
        "positions.LeadEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # never queried by; events are never deleted
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "lead_position"],
                condition=Q(lead_position__isnull=False),
                name="position_one_per_account_and_lead_position",
            ),
            models.CheckConstraint(condition=Q(size__gte=0), name="position_size_non_negative"),
            models.CheckConstraint(condition=Q(margin__gte=0), name="position_margin_non_negative"),
            models.CheckConstraint(condition=Q(leverage__gte=1), name="position_leverage_min_1"),
        ]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["lead_position", "status"]),
            models.Index(fields=["instrument", "status"]),
        ]

    def __str__(self) -> str:
        # no query for the instrument (admin lists show this per row); fixed-point, never 0E-8
        return f"Position #{self.pk} {self.side} {self.size:f}"


class LeadEvent(models.Model):
    """The outbox: one row per lead action, written with the trade, mirrored later.

    ``status``: pending until every eligible copy has its ``CopyEvent`` (then mirrored), or
    failed when mirroring it crashed ``SMART_SYNC_EVENT_MAX_ATTEMPTS`` times: a failed event no
    longer holds back the lead's later events; operators re-dispatch it from the admin."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        MIRRORED = "mirrored", "Mirrored"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        PARTIAL_CLOSE = "partial_close", "Partial close"
        CLOSE = "close", "Full close"
        LEVERAGE = "leverage", "Leverage change"
        MARGIN_ADD = "margin_add", "Margin add"
        MARGIN_REDUCE = "margin_reduce", "Margin reduce"
        LIQUIDATION = "liquidation", "Liquidation"
        SPOT_BUY = "spot_buy", "Spot buy"
        SPOT_SELL = "spot_sell", "Spot sell"
        ENDED = "ended", "Strategy ended"

    account = models.ForeignKey(
        "ledger.Account", on_delete=models.PROTECT, related_name="lead_events"
    )  # the lead's futures (or spot) account
    kind = models.CharField(max_length=16, choices=Kind.choices)
    position = models.ForeignKey(
        Position, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    instrument = models.ForeignKey(
        "market.Instrument", on_delete=models.PROTECT, null=True, blank=True
    )
    side = models.CharField(max_length=5, blank=True)
    margin_mode = models.CharField(max_length=8, blank=True)
    leverage = models.PositiveIntegerField(null=True, blank=True)
    previous_leverage = models.PositiveIntegerField(null=True, blank=True)
    fill_price = PriceField(null=True, blank=True)
    size = QuantityField(null=True, blank=True)  # contracts (or base units) the lead traded
    # closes: the sub-position's size before, so a follower closes exactly size x this/before
    lead_size_before = QuantityField(null=True, blank=True)
    margin = MoneyField(null=True, blank=True)  # open: margin used; add/reduce: the delta d
    lead_margin_before = MoneyField(null=True, blank=True)  # add/reduce: position margin before
    lead_equity_before = MoneyField(null=True, blank=True)  # open/buy: account equity before
    # closes: size / lead_size_before, rounded for display; mirroring uses the exact quotient
    fraction = models.DecimalField(max_digits=20, decimal_places=18, null=True, blank=True)
    amount = MoneyField(null=True, blank=True)  # spot buy: USDT spent
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    mirrored_at = models.DateTimeField(null=True, blank=True)
    dispatch_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)  # mirror attempts that crashed
    failure = models.CharField(max_length=255, blank=True)  # the last crash, for operators
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["account", "id"]),
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="lead_event_pending_idx",
            ),
            models.Index(fields=["id"], condition=Q(status="failed"), name="lead_event_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Fill(models.Model):
    """One execution on the internal venue, beside the position it changed."""

    class Action(models.TextChoices):
        OPEN = "open", "Open"
        CLOSE = "close", "Close"
        LIQUIDATION = "liquidation", "Liquidation"

    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="fills")
    lead_event = models.ForeignKey(
        LeadEvent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fills",
        db_index=False,  # fills are read by position; events are never deleted
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    quantity = QuantityField()
    price = PriceField()
    reference_price = PriceField(null=True, blank=True)  # follower: the lead's fill price
    fee = MoneyField(default=0)
    realized_pnl = MoneyField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity:f} @ {self.price:f}"
