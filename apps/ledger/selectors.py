"""Ledger reads shared by pages, the API and other apps.

Invariants:
- Balances are read as stored (``Account.balance``, which ``ledger_audit`` proves equal to the
  sum of postings); nothing here computes money from postings or rounds.
- Reads never create accounts: a user without a main account has a zero wallet.
"""

from __future__ import annotations

from decimal import Decimal

from apps.core.money import ZERO, usdt
from apps.ledger.models import Account, Posting

_LEAD_KINDS = (Account.Kind.LEAD_FUTURES, Account.Kind.LEAD_SPOT)


def wallet_get(*, user) -> dict[str, Decimal]:
    """The user's money by place. Everything in the main account is available (margin lives in
    copy and lead accounts, never in main). A user has a handful of accounts, so they are
    added in Python: SQLite's SUM would go through floats and lose the 8th place."""
    totals = {kind: ZERO for kind in Account.USER_KINDS}
    for kind, balance in Account.objects.filter(owner=user).values_list("kind", "balance"):
        totals[kind] += balance
    main = usdt(totals[Account.Kind.MAIN])
    return {
        "balance_usdt": main,
        "available_usdt": main,
        "in_copies_usdt": usdt(totals[Account.Kind.COPY]),
        "in_lead_accounts_usdt": usdt(sum((totals[k] for k in _LEAD_KINDS), ZERO)),
    }


def account_statement(*, account: Account | int, limit: int = 50) -> list[dict]:
    """The account's latest postings, newest first, each with its entry's key, kind and memo.
    ``amount`` is signed: positive credited the account, negative debited it."""
    account_id = account.pk if isinstance(account, Account) else int(account)
    rows = (
        Posting.objects.filter(account_id=account_id)
        .order_by("-entry_id", "-id")
        .values(
            "id",
            "amount",
            "entry_id",
            "entry__idempotency_key",
            "entry__kind",
            "entry__memo",
            "entry__created_at",
            "entry__reverses_id",
        )[: max(0, int(limit))]
    )
    return [
        {
            "posting_id": r["id"],
            "entry_id": r["entry_id"],
            "idempotency_key": r["entry__idempotency_key"],
            "kind": r["entry__kind"],
            "memo": r["entry__memo"],
            "created_at": r["entry__created_at"],
            "reverses_id": r["entry__reverses_id"],
            "amount": r["amount"],
        }
        for r in rows
    ]
