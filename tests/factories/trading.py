"""Lead traders, copies and prices for trading tests. Money enters only by deposits and moves
through the real services, so the ledger stays balanced."""

from __future__ import annotations

import itertools
from decimal import Decimal

from apps.copies.services import copy_start
from apps.market.services import price_set
from apps.traders.services import lead_trader_approve, lead_transfer
from tests.factories.ledger import user_with_main_balance
from tests.factories.market import instrument

_seq = itertools.count(1)


def set_price(name: str, value) -> None:
    instrument(name)
    price_set(instrument=name, price=Decimal(str(value)), source="operator")


def lead_make(*, equity="10000", ratio="0.10", max_copiers=None, nickname=None):
    """An approved lead trader whose lead futures account holds ``equity`` USDT."""
    n = next(_seq)
    user = user_with_main_balance(equity, email=f"lead{n}@example.com")
    lead = lead_trader_approve(
        email=user.email,
        nickname=nickname or f"Lead{n}",
        profit_share_ratio=Decimal(ratio),
        max_copiers=max_copiers,
    )
    if Decimal(str(equity)) > 0:
        lead_transfer(lead=lead, market="futures", direction="in", amount=str(equity))
    lead.refresh_from_db()
    return lead


def follower_make(balance="1000"):
    return user_with_main_balance(balance, email=f"follower{next(_seq)}@example.com")


def copy_make(lead, *, investment="1000", balance=None, follower=None, **kw):
    follower = follower or follower_make(balance or investment)
    return copy_start(follower=follower, lead=lead, total_investment=investment, **kw)
