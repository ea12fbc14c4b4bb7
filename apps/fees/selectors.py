"""Reads of profit share and funding, shared by the API, the pages and the admin.

- R (a copy's cumulative net realized PnL, SPEC §8) = closed PnL - trading fees + funding of all
  the copy's positions: the same figure as copies.selectors' ``realized_pnl``.
- A lead's earnings = what its copies' settlements paid (``Copy.profit_share_paid``, the sum of
  their settlements' ``share``); owed = what active copies still owe; pending = what a
  settlement now would ask for (``profit_share_due``).
- A settlement's written-off part = due - share - owed_after (only stop and lead-ended
  settlements write anything off).
Sums of money are added in Python: SQLite's SUM goes through floats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from apps.copies.models import Copy
from apps.copies.selectors import profit_share_due  # noqa: F401 - the one formula, re-exported
from apps.core.money import ZERO
from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.positions.selectors import realized_totals


def copies_realized(copies: Sequence[Copy]) -> dict[int, Decimal]:
    """copy pk -> R, in one query."""
    totals = realized_totals([c.account_id for c in copies])
    out = {}
    for c in copies:
        t = totals[c.account_id]
        out[c.pk] = t["realized"] - t["fees"] + t["funding"]
    return out


def settlement_written_off(s: ProfitShareSettlement) -> Decimal:
    return s.due - s.share - s.owed_after


def profit_share_settlements_for_copy(*, copy: Copy) -> QuerySet[ProfitShareSettlement]:
    """A copy's settlements, newest first (Copy Trade Details)."""
    return ProfitShareSettlement.objects.filter(copy=copy).order_by("-id")


@dataclass(frozen=True)
class LeadEarnings:
    total: Decimal  # paid to the lead by all its copies, ever
    owed: Decimal  # still owed by its active copies


def lead_earnings_total(*, lead) -> LeadEarnings:
    total = owed = ZERO
    for paid, owes, status in Copy.objects.filter(lead=lead).values_list(
        "profit_share_paid", "profit_share_owed", "status"
    ):
        total += paid
        if status == Copy.Status.ACTIVE:
            owed += owes
    return LeadEarnings(total=total, owed=owed)


def lead_earning_copies(*, lead) -> QuerySet[Copy]:
    """The lead's copies (active and stopped), newest first: page this, then ``earning_rows``."""
    return Copy.objects.filter(lead=lead).order_by("-id")


@dataclass(frozen=True)
class CopyEarnings:
    copy: Copy
    paid: Decimal
    owed: Decimal
    pending: Decimal  # what a settlement now would ask for (0 once stopped)
    settlements: list[ProfitShareSettlement]  # those that had something due, newest first


def earning_rows(copies: Sequence[Copy]) -> list[CopyEarnings]:
    """Per copy: paid, owed, pending and its settlements that had something due (two queries,
    whatever the number of copies)."""
    copies = list(copies)
    by_copy: dict[int, list[ProfitShareSettlement]] = defaultdict(list)
    for s in ProfitShareSettlement.objects.filter(
        copy_id__in=[c.pk for c in copies], due__gt=0
    ).order_by("-id"):
        by_copy[s.copy_id].append(s)
    realized = copies_realized([c for c in copies if c.is_active])
    rows = []
    for c in copies:
        pending = (
            profit_share_due(
                ratio=c.profit_share_ratio,
                realized=realized[c.pk],
                high_water=c.high_water_mark,
                owed=c.profit_share_owed,
            )
            if c.is_active
            else ZERO
        )
        rows.append(
            CopyEarnings(
                copy=c,
                paid=c.profit_share_paid,
                owed=c.profit_share_owed if c.is_active else ZERO,
                pending=pending,
                settlements=by_copy.get(c.pk, []),
            )
        )
    return rows


def funding_rounds(*, instrument=None) -> QuerySet[FundingSettlement]:
    qs = FundingSettlement.objects.select_related("instrument")
    if instrument is not None:
        qs = qs.filter(instrument=instrument)
    return qs.order_by("-slot", "instrument_id")


@dataclass(frozen=True)
class SettlementRow:
    """One profit-share settlement of a copy (SPEC §8), as Copy Trade Details shows it."""

    settlement: ProfitShareSettlement
    written_off: Decimal  # not paid when the copy stopped (never owed later)


def settlement_rows(settlements) -> list[SettlementRow]:
    return [SettlementRow(s, settlement_written_off(s)) for s in settlements]
