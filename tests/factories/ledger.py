"""Ledger test helpers. Money only enters through ``deposit_credit``, so every helper keeps
the ledger balanced (the autouse zero-sum check passes)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model

from apps.ledger.models import Account
from apps.ledger.services import account_create, account_main, deposit_credit

_seq = itertools.count(1)


def user_make(**kw):
    """A fresh user with a unique e-mail (password "pw" unless given)."""
    kw.setdefault("email", f"user{next(_seq)}@example.com")
    kw.setdefault("password", "pw")
    return get_user_model().objects.create_user(**kw)


def user_with_main_balance(amount: Decimal | str = "1000", **kw):
    """A fresh user whose main account holds ``amount`` USDT (credited as a deposit)."""
    user = user_make(**kw)
    amount = Decimal(str(amount))
    if amount:
        deposit_credit(user=user, amount=amount, key=f"test-deposit:{user.pk}")
    else:
        account_main(user=user)
    return user


funded_user = user_with_main_balance


def account_funded(
    *, kind: str = Account.Kind.COPY, owner=None, amount: Decimal | str = "0", code: str = ""
) -> Account:
    """A user-owned account of ``kind`` holding ``amount`` (moved from the owner's main)."""
    from apps.ledger.models import JournalEntry
    from apps.ledger.services import ledger_post

    owner = owner or user_with_main_balance(amount)
    account = account_create(kind=kind, owner=owner, code=code or f"{kind}:t{next(_seq)}")
    amount = Decimal(str(amount))
    if amount:
        ledger_post(
            key=f"test-fund:{account.code}",
            kind=JournalEntry.Kind.TRANSFER,
            postings=[(account_main(user=owner), -amount), (account, amount)],
        )
        account.refresh_from_db()
    return account
