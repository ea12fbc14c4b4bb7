"""Ledger reads shared by pages, the API and other apps.

Invariants:
- Balances are read as stored (``Account.balance``, which ``ledger_audit`` proves equal to the
  sum of postings); nothing here computes money from postings or rounds.
- Reads never create accounts: a user without a main account has a zero wallet.
- The wallet statement puts each posting into words from what the ledger itself records: the
  entry kind, the account kind, the sign and the memo the services write. It never names
  another user and never shows a memo as is (operator memos name the operator).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from apps.core.money import ZERO, usdt
from apps.ledger.models import Account, JournalEntry, Posting

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


# --- the wallet statement: every posting on the user's accounts, in plain words ---------------
@dataclass(frozen=True)
class StatementLine:
    """One movement of one of the user's accounts. ``amount`` is signed as the account saw it
    (positive: money came in). ``what`` is the movement in plain words, ``detail`` a short
    addition (which instrument, why), ``account_label`` names the account; ``copy_id`` is set
    for a copy account (its code is ``copy:<copy id>``) so pages can link and name the copy."""

    posting_id: int
    entry_id: int
    created_at: datetime
    amount: Decimal
    kind: str
    account_id: int
    account_kind: str
    copy_id: int | None
    what: str
    detail: str
    account_label: str


_ACCOUNT_LABELS = {
    Account.Kind.MAIN: "Main account",
    Account.Kind.COPY: "Copy account",
    Account.Kind.LEAD_FUTURES: "Lead futures account",
    Account.Kind.LEAD_SPOT: "Lead spot account",
}
# Memos written by the services (apps/*/services.py), read back only to choose words.
_LEAD_TRADE = re.compile(r"^lead (open|close) (?:[\d.]+ )?(\S+)$")
_LEAD_TRANSFER = re.compile(r"^lead (futures|spot) transfer (in|out)$")


def wallet_statement(*, user) -> QuerySet:
    """The postings of every account the user owns, newest entry first (the legs of one entry
    in the order they were booked), as plain rows: a lazy queryset to paginate (one COUNT and one page query), then put into words with
    ``wallet_statement_lines``."""
    return (
        Posting.objects.filter(account__owner=user)
        .order_by("-entry_id", "id")
        .values(
            "id",
            "amount",
            "account_id",
            "account__kind",
            "account__code",
            "entry_id",
            "entry__kind",
            "entry__memo",
            "entry__created_at",
            "entry__reverses_id",
        )
    )


def wallet_statement_lines(rows: Iterable[dict]) -> list[StatementLine]:
    """Rows of ``wallet_statement`` in plain words (no query)."""
    return [_statement_line(r) for r in rows]


def _copy_id(kind: str, code: str) -> int | None:
    if kind != Account.Kind.COPY:
        return None
    _, _, tail = code.partition(":")
    return int(tail) if tail.isdigit() else None


def _statement_line(r: dict) -> StatementLine:
    kind, account_kind, memo = r["entry__kind"], r["account__kind"], r["entry__memo"] or ""
    what, detail = _words(kind, account_kind, r["amount"], memo, r["entry__reverses_id"])
    return StatementLine(
        posting_id=r["id"],
        entry_id=r["entry_id"],
        created_at=r["entry__created_at"],
        amount=r["amount"],
        kind=kind,
        account_id=r["account_id"],
        account_kind=account_kind,
        copy_id=_copy_id(account_kind, r["account__code"]),
        what=what,
        detail=detail,
        account_label=_ACCOUNT_LABELS.get(account_kind, "Account"),
    )


def _words(kind: str, account_kind: str, amount: Decimal, memo: str, reverses) -> tuple[str, str]:
    K = JournalEntry.Kind
    incoming = amount > 0
    modify = memo.startswith("Modify Total Investment")
    if kind == K.DEPOSIT:
        return "Deposit", "credited by our operators"
    if kind == K.WITHDRAWAL:
        return "Withdrawal", "paid out by our operators"
    if kind == K.TRANSFER:
        return _transfer_words(account_kind, incoming, memo)
    if kind == K.COPY_FUNDING:
        what = "Total Investment increased" if modify else "Copy funded"
        return what, (
            "moved into the copy account" if incoming else "moved out of your main account"
        )
    if kind == K.COPY_RETURN:
        if account_kind == Account.Kind.COPY:
            what = "Total Investment decreased" if modify else "Returned to your main account"
            return what, "moved out of the copy account"
        what = "Total Investment decreased" if modify else "Returned from a copy"
        return what, ("free cash back from the copy" if modify else "the copy stopped")
    if kind == K.TRADING_FEE:
        return "Trading fee", _trade_detail(memo, "opening a position")
    if kind == K.REALIZED_PNL:
        return "Realized PnL", _trade_detail(memo, "closing a position") + ", after the trading fee"
    if kind == K.FUNDING:
        return (
            "Funding received" if incoming else "Funding paid"
        ), "every 8 hours on open positions"
    if kind == K.LIQUIDATION:
        return "Liquidation", "positions closed at the mark price"
    if kind == K.PROFIT_SHARE:
        if incoming:
            return "Profit share received", "from a follower's copy"
        return "Profit share paid", "to the lead trader"
    if kind == K.REVERSAL:
        return "Correction", f"reverses entry #{reverses}" if reverses else "a reversal"
    if kind == K.ADJUSTMENT:
        return "Adjustment", "by our operators"
    return str(kind).replace("_", " ").capitalize(), ""


def _transfer_words(account_kind: str, incoming: bool, memo: str) -> tuple[str, str]:
    m = _LEAD_TRANSFER.match(memo)
    market = m.group(1) if m else ("spot" if account_kind == Account.Kind.LEAD_SPOT else "futures")
    if account_kind == Account.Kind.MAIN and m:
        if incoming:
            return f"Transfer from your lead {market} account", "cash moved out of trading"
        return f"Transfer to your lead {market} account", "cash moved in for trading"
    if account_kind in _LEAD_KINDS:
        if incoming:
            return "Transfer from your main account", f"into your lead {market} account"
        return "Transfer to your main account", f"out of your lead {market} account"
    return "Transfer between your accounts", ""


def _trade_detail(memo: str, default: str) -> str:
    m = _LEAD_TRADE.match(memo)
    if m:
        return f"{m.group(2)} {'opened' if m.group(1) == 'open' else 'closed'}"
    if memo.startswith("Smart Sync mirror"):
        return "Smart Sync followed the lead trader"
    if memo == "Copy Ongoing Positions":
        return "Copy Ongoing Positions"
    if memo.startswith("closed by hand"):
        return "closed by you at market"
    if memo.startswith("copy stopped"):
        return "positions closed when the copy stopped"
    return default
