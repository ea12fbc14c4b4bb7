"""Reads of the lead trader record: who is a lead, a lead by id, the markets a lead leads and
the lead's spot account with its holdings. (Their stats, the directory and profiles are the read
side in apps.stats, above copies and fees.)

Definitions (SPEC §2, §6), from apps.positions.selectors' account figures:
- a lead *leads* a market when its lead account there holds something (cash or holdings) or
  has traded (a lead event on it);
- lead spot equity = USDT cash + holdings at the current price; a holding's value = quantity x
  price; its unrealized PnL = quantity x (price - average cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef

from apps.core.exceptions import NotFound
from apps.core.money import ZERO
from apps.ledger.models import Account
from apps.positions.models import LeadEvent, Position
from apps.positions.selectors import (
    account_figures_one,
    position_list,
    position_upnl,
    position_value,
)
from apps.traders.models import LeadTrader

FUTURES, SPOT = "futures", "spot"


def lead_for_user(user) -> LeadTrader | None:
    """The user's LeadTrader row (active or ended), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return LeadTrader.objects.filter(user_id=user.pk).first()


def trader_get(*, trader_id) -> LeadTrader:
    try:
        return LeadTrader.objects.get(pk=int(trader_id))
    except (LeadTrader.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such lead trader.") from None


def lead_markets(*, lead: LeadTrader) -> list[str]:
    """The markets ``lead`` leads, futures first: those whose lead account holds something or
    has a trade (the "strategy ended" event written on both accounts at the end is no trade,
    as in the stats: an ended futures-only lead does not lead spot). Empty for a lead who has
    not funded either account yet. One query."""
    accounts = {lead.futures_account_id: FUTURES, lead.spot_account_id: SPOT}
    rows = (
        Account.objects.filter(pk__in=list(accounts))
        .annotate(
            traded=Exists(
                LeadEvent.objects.filter(account_id=OuterRef("pk")).exclude(
                    kind=LeadEvent.Kind.ENDED
                )
            )
        )
        .values_list("pk", "balance", "traded")
    )
    led = {accounts[pk] for pk, balance, traded in rows if balance > 0 or traded}
    return [m for m in (FUTURES, SPOT) if m in led]


@dataclass(frozen=True)
class SpotHoldingRow:
    """One open holding of the lead spot account (average cost, SPEC §6)."""

    position: Position
    asset: str
    quantity: Decimal
    average_cost: Decimal
    cost: Decimal  # cost basis: what it cost, fees apart
    price: Decimal | None  # the current price (None: no price yet)
    value: Decimal | None  # quantity x price
    upnl: Decimal
    realized_pnl: Decimal  # of its sales so far, at average cost


@dataclass(frozen=True)
class LeadSpotAccount:
    """The lead spot account: equity = cash + holdings at the current price."""

    equity: Decimal
    cash: Decimal
    available: Decimal  # free for buys, fees or a transfer out
    holdings_value: Decimal  # the holdings at the current price
    holdings_cost: Decimal
    upnl: Decimal
    holdings: list[SpotHoldingRow]


def spot_holding_rows(positions) -> list[SpotHoldingRow]:
    """Rows for open spot holdings read with ``position_list`` (instrument and price joined:
    no query here)."""
    rows = []
    for p in positions:
        price = getattr(p.instrument, "price", None)
        rows.append(
            SpotHoldingRow(
                position=p,
                asset=p.instrument.base_asset,
                quantity=p.size,
                average_cost=p.entry_price,
                cost=p.margin,
                price=price.price if price is not None else None,
                value=position_value(p),
                upnl=position_upnl(p),
                realized_pnl=p.realized_pnl,
            )
        )
    return rows


def lead_spot_get(*, lead: LeadTrader) -> LeadSpotAccount:
    """The lead spot account's figures and its holdings, largest value first. Three queries
    (the balance, the open positions for the figures, the holdings with their instruments)."""
    fig = account_figures_one(lead.spot_account_id)
    holdings = spot_holding_rows(
        position_list(account_id=lead.spot_account_id, status=Position.Status.OPEN)
    )
    holdings.sort(key=lambda h: (h.value is None, -(h.value or ZERO), h.asset))
    return LeadSpotAccount(
        equity=fig.equity,
        cash=fig.cash,
        available=fig.available,
        holdings_value=sum((h.value for h in holdings if h.value is not None), ZERO),
        holdings_cost=fig.margin,
        upnl=fig.upnl,
        holdings=holdings,
    )
