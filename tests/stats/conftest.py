"""Fixtures for the stats tests: a clock that the services, the ledger and the models all read
(``django.utils.timezone.now``), so a scenario can happen on given UTC days."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock


def utc(text: str) -> datetime:
    """``"2026-03-02 12:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@contextmanager
def at(text: str):
    """Everything inside happens at that UTC moment."""
    with mock.patch("django.utils.timezone.now", return_value=utc(text)):
        yield


def copies_bulk(lead, n: int, investment: str = "1000") -> list[int]:
    """``n`` followers each copying ``lead`` with ``investment``, written set-based (a deposit
    to each follower's main account, then the copy funding through the ledger), so a test can
    have hundreds of copies quickly. Returns the copy ids."""
    import itertools
    import uuid
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from apps.copies.models import Copy
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account, JournalEntry
    from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
    from apps.positions.models import LeadEvent

    tag = uuid.uuid4().hex[:8]
    amount = Decimal(investment)
    external = account_system(Account.Kind.EXTERNAL).pk
    last = LeadEvent.objects.filter(account_id=lead.futures_account_id).order_by("-id").first()
    with transaction.atomic():
        users = bulk_insert(
            get_user_model(),
            [{"email": f"bulk-{tag}-{i}@example.com", "password": "!"} for i in range(n)],
        )
        mains = bulk_insert(
            Account, [{"kind": "main", "code": f"main:{u}", "owner_id": u} for u in users]
        )
        accounts = bulk_insert(
            Account, [{"kind": "copy", "code": f"copy:{tag}:{u}", "owner_id": u} for u in users]
        )
        ledger_post_batch(
            list(
                itertools.chain.from_iterable(
                    (
                        EntrySpec(
                            key=f"bulk-deposit:{m}",
                            kind=JournalEntry.Kind.DEPOSIT,
                            postings=((external, -amount), (m, amount)),
                        ),
                        EntrySpec(
                            key=f"bulk-funding:{a}",
                            kind=JournalEntry.Kind.COPY_FUNDING,
                            postings=((m, -amount), (a, amount)),
                        ),
                    )
                    for m, a in zip(mains, accounts, strict=True)
                )
            )
        )
        return bulk_insert(
            Copy,
            [
                {
                    "follower_id": u,
                    "lead_id": lead.pk,
                    "account_id": a,
                    "total_investment": amount,
                    "profit_share_ratio": lead.profit_share_ratio,
                    "start_after_event_id": last.pk if last else 0,
                }
                for u, a in zip(users, accounts, strict=True)
            ],
        )
