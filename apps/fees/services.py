"""Profit sharing (SPEC §8).

R = the copy's cumulative net realized PnL (after trading fees and funding); H = its
high-water mark, starting at 0. At each settlement: share = ratio x max(0, R - H) rounded
down, paid copy account -> the lead's main account; then H = max(H, R).

Invariants: total paid <= ratio x the highest R ever reached (SPEC §11.6); each settlement
is one ledger entry keyed ``profit-share:<copy>:<n>`` (n = settlements so far), so a retried
settlement cannot pay twice. Callers hold the copy row lock (copies call this from inside
their own durable transaction); the import arrow points copies -> fees.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import connection
from django.db.models import Count

from apps.core.bulk import bulk_insert
from apps.core.money import ZERO, exact, usdt_down
from apps.fees.models import ProfitShareSettlement
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import EntrySpec, account_main, ledger_post_batch


def profit_share_due(*, ratio: Decimal, realized: Decimal, high_water: Decimal) -> Decimal:
    return usdt_down(exact(ratio) * exact(max(ZERO, realized - high_water)))


def profit_share_settle_many(
    *, copies: Sequence, realized: dict[int, Decimal], trigger: str
) -> dict[int, Decimal]:
    """Settle many copies at once. ``copies`` are Copy rows locked by the caller (fields used:
    pk, account_id, lead.user, profit_share_ratio, high_water_mark, profit_share_paid);
    ``realized`` maps copy pk -> R. Returns copy pk -> share paid. A share larger than the
    copy's balance pays what the balance holds (the rest is forfeited, never owed).
    The new high-water mark and paid total are set on the given objects; the caller saves
    them (copies own their rows)."""
    assert connection.in_atomic_block
    if not copies:
        return {}
    balances = dict(
        Account.objects.filter(pk__in=[c.account_id for c in copies]).values_list("pk", "balance")
    )
    counts = {
        row["copy_id"]: row["n"]
        for row in ProfitShareSettlement.objects.filter(copy_id__in=[c.pk for c in copies])
        .values("copy_id")
        .annotate(n=Count("id"))
    }
    specs, rows, paid = [], [], {}
    lead_mains: dict[int, int] = {}
    for c in copies:
        r = realized.get(c.pk, ZERO)
        share = min(
            profit_share_due(ratio=c.profit_share_ratio, realized=r, high_water=c.high_water_mark),
            max(ZERO, balances.get(c.account_id, ZERO)),
        )
        new_h = max(c.high_water_mark, r)
        key = f"profit-share:{c.pk}:{counts.get(c.pk, 0) + 1}"
        if share > 0:
            if c.lead.user_id not in lead_mains:
                lead_mains[c.lead.user_id] = account_main(user=c.lead.user).pk
            specs.append(
                EntrySpec(
                    key=key,
                    kind=JournalEntry.Kind.PROFIT_SHARE,
                    postings=((c.account_id, -share), (lead_mains[c.lead.user_id], share)),
                    memo=f"profit share copy {c.pk}",
                )
            )
        rows.append(
            {
                "copy_id": c.pk,
                "trigger": trigger,
                "realized": r,
                "high_water_before": c.high_water_mark,
                "high_water_after": new_h,
                "ratio": c.profit_share_ratio,
                "share": share,
                "_key": key if share > 0 else None,
            }
        )
        paid[c.pk] = share
        c.high_water_mark = new_h
        c.profit_share_paid += share
    entry_ids = ledger_post_batch(specs) if specs else {}
    bulk_insert(
        ProfitShareSettlement,
        [
            {
                **{k: v for k, v in row.items() if k != "_key"},
                "entry_id": entry_ids.get(row["_key"]),
            }
            for row in rows
        ],
        returning=None,
    )
    return paid
