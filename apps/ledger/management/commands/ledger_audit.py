"""``manage.py ledger_audit``: prove the ledger from its postings (SPEC §3, §11.1).

Checks: every account's balance equals the sum of its postings; every entry has at least two
postings and sums to zero; all postings together sum to zero; no user-owned account is
negative. Prints a summary and exits non-zero (CommandError, status 1) on any drift.
Read-only: it reports, an operator corrects with reversal entries.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Sum

from apps.core.money import ZERO
from apps.ledger.models import Account, JournalEntry, Posting


def _sums() -> tuple[dict[int, Decimal], dict[int, tuple[Decimal, int]]]:
    """Per account: sum of postings; per entry: (sum, number of postings). PostgreSQL sums
    numeric exactly in SQL; SQLite's SUM goes through floats, so there we add in Python."""
    by_account: dict[int, Decimal] = defaultdict(Decimal)
    by_entry: dict[int, tuple[Decimal, int]] = {}
    if connection.vendor == "postgresql":
        by_account.update(
            Posting.objects.values_list("account_id").annotate(s=Sum("amount")).order_by()
        )
        for entry_id, total, legs in (
            Posting.objects.values_list("entry_id")
            .annotate(s=Sum("amount"), n=Count("id"))
            .order_by()
        ):
            by_entry[entry_id] = (total, legs)
        return by_account, by_entry
    for account_id, entry_id, amount in Posting.objects.values_list(
        "account_id", "entry_id", "amount"
    ).iterator(chunk_size=5000):
        by_account[account_id] += amount
        total, legs = by_entry.get(entry_id, (ZERO, 0))
        by_entry[entry_id] = (total + amount, legs + 1)
    return by_account, by_entry


def ledger_drift() -> tuple[int, int, list[str]]:
    """(accounts checked, entries checked, drift lines); no lines means the ledger is sound."""
    lines: list[str] = []
    by_account, by_entry = _sums()
    accounts = 0
    for pk, code, kind, balance in Account.objects.values_list(
        "id", "code", "kind", "balance"
    ).order_by("id"):
        accounts += 1
        expected = by_account.get(pk, ZERO)
        if balance != expected:
            lines.append(
                f"account {code} (#{pk}): balance {balance} != sum of postings {expected} "
                f"(drift {balance - expected})"
            )
        if kind in Account.USER_KINDS and balance < 0:
            lines.append(f"account {code} (#{pk}): user account is negative ({balance})")

    entries = 0
    for pk, key in JournalEntry.objects.values_list("id", "idempotency_key").order_by("id"):
        entries += 1
        total, legs = by_entry.get(pk, (ZERO, 0))
        if total != 0 or legs < 2:
            lines.append(f"entry #{pk} {key}: {legs} postings summing to {total}")

    grand = sum(by_account.values(), ZERO)
    if grand != 0:
        lines.append(f"all postings sum to {grand}, not zero")
    return accounts, entries, lines


class Command(BaseCommand):
    help = "Recompute every ledger balance from postings and check the zero sum."

    def handle(self, *args, **options):
        accounts, entries, lines = ledger_drift()
        self.stdout.write(f"accounts checked: {accounts}")
        self.stdout.write(f"entries checked: {entries}")
        self.stdout.write(f"drift lines: {len(lines)}")
        for line in lines:
            self.stdout.write(f"DRIFT {line}")
        if lines:
            raise CommandError(f"ledger drift: {len(lines)} problem(s); see DRIFT lines above")
        self.stdout.write(self.style.SUCCESS("ledger OK: balances match postings, sum is zero"))
