"""Reads of positions and account figures, written once for the API, pages, admin and
the mirroring engine's inputs.

Definitions (SPEC §2, §4):
- balance      = the ledger account's balance (cash + margins held inside it)
- margin       = sum of open positions' margins
- cash         = balance - margin
- uPnL         = sum over open positions of side x size x contract value x (mark - entry)
- equity       = balance + uPnL  (= cash + margins + uPnL)
- available    = cash + min(0, uPnL of cross positions), never below 0: what new margin and
                 fees may use. A cross loss eats into free cash before it is realized.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.core.money import ZERO
from apps.ledger.models import Account
from apps.market import math as pmath
from apps.market.models import Price
from apps.positions.models import MarginMode, Position


@dataclass
class OpenPositionRow:
    id: int
    account_id: int
    lead_position_id: int | None
    instrument_id: int
    side: str
    margin_mode: str
    leverage: int
    size: Decimal
    entry_price: Decimal
    margin: Decimal
    mark: Decimal | None
    contract_value: Decimal
    mmr: Decimal | None = None
    taker_fee: Decimal = ZERO
    handed_over: bool = False

    @property
    def upnl(self) -> Decimal:
        if self.mark is None:
            return ZERO
        return pmath.upnl(self.side, self.size, self.contract_value, self.entry_price, self.mark)


@dataclass
class AccountFigures:
    account_id: int
    balance: Decimal = ZERO
    margin: Decimal = ZERO
    upnl: Decimal = ZERO
    cross_upnl: Decimal = ZERO
    positions: list[OpenPositionRow] = field(default_factory=list)

    @property
    def cash(self) -> Decimal:
        return self.balance - self.margin

    @property
    def equity(self) -> Decimal:
        return self.balance + self.upnl

    @property
    def available(self) -> Decimal:
        return max(ZERO, self.cash + min(ZERO, self.cross_upnl))


def open_positions_for_accounts(
    account_ids: Iterable[int], *, lead_position_id: int | None = None
) -> list[OpenPositionRow]:
    """Every open position of these accounts with its mark price: one query."""
    qs = Position.objects.filter(account_id__in=list(account_ids), status=Position.Status.OPEN)
    if lead_position_id is not None:  # the positions a lead event can change (never handed over)
        qs = qs.filter(lead_position_id=lead_position_id, handed_over=False)
    rows = list(
        qs.values_list(
            "id",
            "account_id",
            "lead_position_id",
            "instrument_id",
            "side",
            "margin_mode",
            "leverage",
            "size",
            "entry_price",
            "margin",
            "instrument__price__price",
            "instrument__contract_value",
            "instrument__mmr",
            "instrument__taker_fee",
            "handed_over",
        ).order_by("id")
    )
    return [OpenPositionRow(*r) for r in rows]


def account_figures(account_ids: Iterable[int]) -> dict[int, AccountFigures]:
    """Balance, margin, uPnL, equity and available for many accounts in two queries."""
    ids = list(account_ids)
    figures = {
        pk: AccountFigures(account_id=pk, balance=bal)
        for pk, bal in Account.objects.filter(pk__in=ids).values_list("pk", "balance")
    }
    for row in open_positions_for_accounts(ids):
        fig = figures[row.account_id]
        u = row.upnl
        fig.positions.append(row)
        fig.margin += row.margin
        fig.upnl += u
        if row.margin_mode == MarginMode.CROSS:
            fig.cross_upnl += u
    return figures


_TOTALS_SQL = """
SELECT a.id, a.balance,
       COALESCE(SUM(p.margin), 0),
       COALESCE(SUM(u.upnl), 0),
       COALESCE(SUM(u.upnl) FILTER (WHERE p.margin_mode = 'cross'), 0)
FROM ledger_account a
LEFT JOIN positions_position p ON p.account_id = a.id AND p.status = 'open'
LEFT JOIN market_instrument i ON i.id = p.instrument_id
LEFT JOIN market_price pr ON pr.instrument_id = p.instrument_id
CROSS JOIN LATERAL (
    SELECT CASE p.side WHEN 'long' THEN 1 ELSE -1 END * p.size * i.contract_value
           * (COALESCE(pr.price, p.entry_price) - p.entry_price) AS upnl
) u
WHERE a.id = ANY(%s)
GROUP BY a.id, a.balance
"""


def account_figures_linked(
    account_ids: Iterable[int], *, lead_position_id: int | None
) -> dict[int, AccountFigures]:
    """Figures for mirroring: the totals of every open position, but as rows only the
    positions linked to ``lead_position_id`` (the ones an event can change).

    On PostgreSQL the totals are summed by the database (exact numeric): a follower holding
    several positions costs one aggregated row, not one Python object per position. The
    numbers are the same as ``account_figures`` (a test holds them to it)."""
    ids = list(account_ids)
    if connection.vendor != "postgresql":
        figures = account_figures(ids)
        for fig in figures.values():
            fig.positions = [
                p
                for p in fig.positions
                if lead_position_id is not None
                and p.lead_position_id == lead_position_id
                and not p.handed_over
            ]
        return figures
    with connection.cursor() as cursor:
        cursor.execute(_TOTALS_SQL, [ids])
        figures = {
            pk: AccountFigures(
                account_id=pk, balance=balance, margin=margin, upnl=upnl, cross_upnl=cross
            )
            for pk, balance, margin, upnl, cross in cursor.fetchall()
        }
    if lead_position_id is not None:
        for row in open_positions_for_accounts(ids, lead_position_id=lead_position_id):
            figures[row.account_id].positions.append(row)
    return figures


def account_figures_one(account_id: int) -> AccountFigures:
    return account_figures([account_id])[account_id]


def position_upnl(position: Position) -> Decimal:
    try:
        mark = position.instrument.price.price
    except Price.DoesNotExist:
        return ZERO
    if position.status != Position.Status.OPEN:
        return ZERO
    return pmath.upnl(
        position.side,
        position.size,
        position.instrument.contract_value,
        position.entry_price,
        mark,
    )


def position_value(position: Position) -> Decimal | None:
    """What an open position is worth at the mark: contracts x contract value x mark (a spot
    holding: quantity x price). None once closed or without a price."""
    if position.status != Position.Status.OPEN:
        return None
    try:
        mark = position.instrument.price.price
    except Price.DoesNotExist:
        return None
    return pmath.notional(position.size, position.instrument.contract_value, mark)


def position_list(*, account_id: int, status: str | None = None):
    qs = Position.objects.filter(account_id=account_id).select_related("instrument__price")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def realized_totals(account_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Per account: gross realized PnL, trading fees and funding of all its positions.
    Summed in Python with Decimal: SQLite's SUM over decimals is floating point."""
    out: dict[int, dict[str, Decimal]] = defaultdict(
        lambda: {"realized": ZERO, "fees": ZERO, "funding": ZERO}
    )
    for acc, r, f, fu in Position.objects.filter(account_id__in=list(account_ids)).values_list(
        "account_id", "realized_pnl", "fees", "funding"
    ):
        t = out[acc]
        t["realized"] += r
        t["fees"] += f
        t["funding"] += fu
    return out
