"""Double-entry ledger (SPEC §3).

Invariants:
- Money only moves through ``apps.ledger.services.ledger_post`` (or its in-transaction batch
  form): one ``JournalEntry`` with postings that sum to exactly zero.
- ``JournalEntry.idempotency_key`` is unique: a retried movement finds the existing entry.
- ``Account.balance`` is the sum of its postings (``manage.py ledger_audit`` proves it); it is
  only ever changed with ``F()`` on a locked row, in the same transaction as the postings.
- Accounts owned by users (main, copy, lead) can never go negative: a database constraint.
  Platform accounts (market, external, funding pool, insurance, rounding, fees) may.
- Entries are never edited or deleted; a correction is a reversal entry.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.fields import MoneyField


class Account(models.Model):
    class Kind(models.TextChoices):
        MAIN = "main", "Main account"
        COPY = "copy", "Copy account"
        LEAD_FUTURES = "lead_futures", "Lead futures account"
        LEAD_SPOT = "lead_spot", "Lead spot account"
        PLATFORM_FEES = "platform_fees", "Platform trading fees"
        FUNDING_POOL = "funding_pool", "Platform funding pool"
        INSURANCE = "insurance", "Insurance fund"
        ROUNDING = "rounding", "Rounding"
        MARKET = "market", "Market (PnL counterparty)"
        EXTERNAL = "external", "External world"

    USER_KINDS = (Kind.MAIN, Kind.COPY, Kind.LEAD_FUTURES, Kind.LEAD_SPOT)
    SYSTEM_KINDS = (
        Kind.PLATFORM_FEES,
        Kind.FUNDING_POOL,
        Kind.INSURANCE,
        Kind.ROUNDING,
        Kind.MARKET,
        Kind.EXTERNAL,
    )

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Stable name: "main:<user>", "copy:<copy>", "lead_futures:<user>", "platform_fees", ...
    code = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    balance = MoneyField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0)
                | Q(
                    kind__in=[
                        "platform_fees",
                        "funding_pool",
                        "insurance",
                        "rounding",
                        "market",
                        "external",
                    ]
                ),
                name="ledger_account_user_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=False)
                | Q(
                    kind__in=[
                        "platform_fees",
                        "funding_pool",
                        "insurance",
                        "rounding",
                        "market",
                        "external",
                    ]
                ),
                name="ledger_account_user_kinds_have_owner",
            ),
        ]
        indexes = [models.Index(fields=["owner", "kind"])]

    def __str__(self) -> str:
        return self.code

    @property
    def is_system(self) -> bool:
        return self.kind in self.SYSTEM_KINDS


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TRANSFER = "transfer", "Transfer"
        COPY_FUNDING = "copy_funding", "Copy funding"
        COPY_RETURN = "copy_return", "Copy return"
        TRADING_FEE = "trading_fee", "Trading fee"
        REALIZED_PNL = "realized_pnl", "Realized PnL"
        FUNDING = "funding", "Funding"
        LIQUIDATION = "liquidation", "Liquidation"
        PROFIT_SHARE = "profit_share", "Profit share"
        REVERSAL = "reversal", "Reversal"
        ADJUSTMENT = "adjustment", "Adjustment"

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    memo = models.CharField(max_length=255, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.idempotency_key}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # (account, entry) below serves account lookups; a second index would cost every posting.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="postings", db_index=False
    )
    amount = MoneyField()  # signed: + credits the account's balance, - debits it

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "entry"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"
