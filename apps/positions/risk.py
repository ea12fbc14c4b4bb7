"""Margin level, liquidation prices and liquidation orders (SPEC §4), for every account: lead and
copy, isolated and cross. Reads and close specs only; the copies app's risk pass locks and writes.

Definitions (docs/decisions/0009-risk.md):
- maintenance of a position = notional at mark x (MMR + taker fee)
- isolated margin level = (margin + uPnL) / maintenance; the liquidation price is where it is
  exactly 100%, rounded TOWARD SAFETY to 4 decimals (a long up, a short down): SPEC §4's
  reference, a 5x long of 1 BTC contract from 50,000 with 100 margin, liquidates at mark
  <= 40,180.8137 (the exact 100% price is 40,180.81366...). A long is liquidated when the mark is
  at or below its liquidation price, a short at or above.
- cross margin level of an account = cross equity / the maintenance of its cross positions,
  where cross equity = balance - isolated margins + uPnL of cross positions (isolated margin is
  not available to cross positions, and isolated losses are capped at it). At <= 100% every
  cross position of the account is liquidated.
- A liquidation closes at the mark. Isolated: the account pays exactly the position's margin
  (loss and fee; a remainder is forfeited to the insurance fund, a deficit paid by it). Cross:
  the account pays realized losses and fees up to its cross equity, never its isolated margins;
  the insurance fund pays any deficit; what is left of the equity stays the user's.

Candidates are found set-based in SQL with a margin of one 4th decimal of price (so rounding can
only add candidates, never miss one), then checked exactly in Python here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db import connection

from apps.core.money import ZERO, exact, price_on_grid, usdt_down
from apps.market import math as pmath
from apps.positions.models import Fill, MarginMode, Position
from apps.positions.selectors import AccountFigures, OpenPositionRow
from apps.positions.services import CloseSpec

PRICE_PLACES = 4
_PRICE_QUANT = Decimal(1).scaleb(-PRICE_PLACES)
_SLACK = _PRICE_QUANT  # candidates: one 4th decimal of price either way


def _k(row: OpenPositionRow) -> Decimal:
    return (row.mmr or ZERO) + row.taker_fee


def maintenance(row: OpenPositionRow) -> Decimal:
    if row.mark is None:
        return ZERO
    return pmath.maintenance_requirement(
        row.size, row.contract_value, row.mark, row.mmr or ZERO, row.taker_fee
    )


def liquidation_price(row: OpenPositionRow) -> Decimal | None:
    """An isolated position's liquidation price, rounded toward safety; None for cross (the
    account decides) or when it can never be liquidated (a long whose margin covers it all)."""
    if row.margin_mode != MarginMode.ISOLATED or row.mmr is None:
        return None
    # margin + s x n x cv x (P - E) = n x cv x P x k  ->  P = (s n cv E - margin) / (n cv (s - k))
    s = 1 if row.side == "long" else -1
    base = exact(row.size) * exact(row.contract_value)
    k = exact(row.mmr) + exact(row.taker_fee)
    if base <= 0:
        return None
    price = (s * base * exact(row.entry_price) - exact(row.margin)) / (base * (s - k))
    return _toward_safety(price, long=row.side == "long")


def _toward_safety(price: Fraction, *, long: bool) -> Decimal | None:
    """On the 4-decimal grid: up for a long (liquidated sooner), down for a short. None when
    not positive (a long whose margin covers it all)."""
    if price <= 0:
        return None
    return price_on_grid(price, places=PRICE_PLACES, up=long)


def margin_level(row: OpenPositionRow) -> Fraction | None:
    """An isolated position's margin level (1 = 100%), exact; None without a price."""
    maint = maintenance(row)
    if maint == 0:
        return None
    return (exact(row.margin) + exact(row.upnl)) / exact(maint)


def isolated_due(row: OpenPositionRow) -> bool:
    price = liquidation_price(row)
    if price is None or row.mark is None:
        return False
    return row.mark <= price if row.side == "long" else row.mark >= price


@dataclass
class CrossFigures:
    equity: Decimal  # balance - isolated margins + cross uPnL
    maintenance: Decimal

    @property
    def level(self) -> Fraction | None:
        return None if self.maintenance == 0 else exact(self.equity) / exact(self.maintenance)


def cross_figures(fig: AccountFigures) -> CrossFigures:
    iso_margin = sum(
        (p.margin for p in fig.positions if p.margin_mode == MarginMode.ISOLATED), ZERO
    )
    cross = [p for p in fig.positions if p.margin_mode == MarginMode.CROSS]
    return CrossFigures(
        equity=fig.balance - iso_margin + sum((p.upnl for p in cross), ZERO),
        maintenance=sum((maintenance(p) for p in cross), ZERO),
    )


def cross_due(fig: AccountFigures) -> bool:
    level = cross_figures(fig).level
    return level is not None and level <= 1


def _liquidation_spec(row: OpenPositionRow, *, forfeit: bool) -> CloseSpec:
    notional = exact(pmath.notional(row.size, row.contract_value, row.mark))
    return CloseSpec(
        position_id=row.id,
        quantity=row.size,
        price=row.mark,
        realized_pnl=usdt_down(
            pmath.realized_pnl(row.side, row.size, row.contract_value, row.entry_price, row.mark)
        ),
        fee=usdt_down(notional * exact(row.taker_fee)),
        margin_released=row.margin,
        reason=Position.CloseReason.LIQUIDATION,
        action=Fill.Action.LIQUIDATION,
        forfeit=forfeit,
    )


@dataclass
class Liquidation:
    """What one account's liquidation closes, and why (for records and notices)."""

    account_id: int
    specs: list[CloseSpec] = field(default_factory=list)
    rows: list[OpenPositionRow] = field(default_factory=list)
    cross: bool = False
    cross_level: Fraction | None = None


def liquidations(figures: dict[int, AccountFigures]) -> list[Liquidation]:
    """From fresh figures (read under the caller's locks): every isolated position past its
    liquidation price, and every cross position of an account at <= 100%."""
    out = []
    for fig in figures.values():
        liq = Liquidation(account_id=fig.account_id)
        for row in fig.positions:
            if isolated_due(row):
                liq.specs.append(_liquidation_spec(row, forfeit=True))
                liq.rows.append(row)
        if cross_due(fig):
            liq.cross, liq.cross_level = True, cross_figures(fig).level
            for row in fig.positions:
                if row.margin_mode == MarginMode.CROSS and row.mark is not None:
                    liq.specs.append(_liquidation_spec(row, forfeit=False))
                    liq.rows.append(row)
        if liq.specs:
            out.append(liq)
    return out


# --- candidates, set-based ------------------------------------------------------------------

# One scan of the open positions (of the accounts holding the changed instruments), grouped by
# account: is an isolated position past its liquidation price (evaluated one 4th decimal of
# price beyond the mark, so rounding adds candidates, never misses one), is the cross level at
# <= 100% (with a hair of slack for float-summing SQLite), and is a copy's Total Stop Loss hit.
_CANDIDATES_SQL = """
SELECT * FROM (
SELECT t.account_id, c.id AS copy_id,
  CASE WHEN t.iso_due = 1
         OR (t.maint > 0 AND a.balance - t.iso_margin + t.cross_upnl <= t.maint * %s)
       THEN 1 ELSE 0 END AS liquidate,
  CASE WHEN c.id IS NOT NULL AND c.status = 'active' AND c.total_stop_loss IS NOT NULL
         AND c.stop_loss_triggered_at IS NULL
         AND a.balance + t.upnl - c.total_investment <= %s - c.total_stop_loss
       THEN 1 ELSE 0 END AS stop_loss
FROM (
  SELECT p.account_id,
    MAX(CASE WHEN p.margin_mode = 'isolated' AND i.mmr IS NOT NULL AND (
          (p.side = 'long' AND p.margin + p.size * i.contract_value * ((pr.price - %s) - p.entry_price)
             <= p.size * i.contract_value * (pr.price - %s) * (i.mmr + i.taker_fee))
       OR (p.side = 'short' AND p.margin + p.size * i.contract_value * (p.entry_price - (pr.price + %s))
             <= p.size * i.contract_value * (pr.price + %s) * (i.mmr + i.taker_fee)))
        THEN 1 ELSE 0 END) AS iso_due,
    SUM(CASE WHEN p.margin_mode = 'isolated' THEN p.margin ELSE 0 END) AS iso_margin,
    SUM(CASE WHEN p.margin_mode = 'cross' THEN {upnl} ELSE 0 END) AS cross_upnl,
    SUM(CASE WHEN p.margin_mode = 'cross' THEN
        p.size * i.contract_value * pr.price * (COALESCE(i.mmr, 0) + i.taker_fee) ELSE 0 END)
        AS maint,
    SUM({upnl}) AS upnl
  FROM positions_position p
  JOIN market_instrument i ON i.id = p.instrument_id
  JOIN market_price pr ON pr.instrument_id = p.instrument_id
  WHERE p.status = 'open' {accounts}
  GROUP BY p.account_id
) t
JOIN ledger_account a ON a.id = t.account_id
LEFT JOIN copies_copy c ON c.account_id = t.account_id
) x
WHERE x.liquidate = 1 OR x.stop_loss = 1
"""


@dataclass
class Candidates:
    """Accounts that may need liquidating and copies whose stop loss may have triggered: a
    superset (the caller re-checks exactly under its locks)."""

    accounts: set[int] = field(default_factory=set)
    stop_loss_copies: set[int] = field(default_factory=set)


_UPNL = (
    "(CASE p.side WHEN 'long' THEN 1 ELSE -1 END * p.size * i.contract_value"
    " * (pr.price - p.entry_price))"
)


def risk_candidates(instrument_ids: Iterable[int] | None) -> Candidates:
    """One statement, whatever the number of positions: the accounts holding an open position in
    these instruments (None: every account with an open position), checked for liquidation
    and stop loss."""
    ids = None if instrument_ids is None else sorted(set(instrument_ids))
    out = Candidates()
    if ids == []:
        return out
    accounts, params = "", []
    if ids is not None:
        marks = ", ".join(["%s"] * len(ids))
        accounts = (
            "AND p.account_id IN (SELECT q.account_id FROM positions_position q "
            f"WHERE q.status = 'open' AND q.instrument_id IN ({marks}))"
        )
        params = ids
    sql = _CANDIDATES_SQL.format(accounts=accounts, upnl=_UPNL)
    slack = _SLACK
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [Decimal("1.0001"), Decimal("0.0001"), slack, slack, slack, slack, *params]
        )
        for account_id, copy_id, liquidate, stop_loss in cursor.fetchall():
            if liquidate:
                out.accounts.add(account_id)
            if stop_loss:
                out.stop_loss_copies.add(copy_id)
    return out


# --- figures for pages and the API ------------------------------------------------------------


@dataclass(frozen=True)
class PositionRisk:
    """What a person sees: the price at which the position (isolated) or its account (cross)
    is liquidated, None when there is none, and the margin level (1 = 100%), None without a
    price. Cross positions show their account's figures."""

    liquidation_price: Decimal | None
    margin_level: Decimal | None


def cross_liquidation_price(fig: AccountFigures) -> Decimal | None:
    """The mark at which the account's cross level reaches 100%, when all its cross positions
    are in one instrument (with several, no single price says it): rounded toward safety."""
    cross = [p for p in fig.positions if p.margin_mode == MarginMode.CROSS]
    if not cross or len({p.instrument_id for p in cross}) != 1 or cross[0].mmr is None:
        return None
    iso_margin = sum((exact(p.margin) for p in fig.positions if p.margin_mode != "cross"), 0)
    sign = {"long": 1, "short": -1}
    base = sum((sign[p.side] * exact(p.size) * exact(p.contract_value) for p in cross), 0)
    anchor = sum(
        (
            sign[p.side] * exact(p.size) * exact(p.contract_value) * exact(p.entry_price)
            for p in cross
        ),
        0,
    )
    k = exact(cross[0].mmr) + exact(cross[0].taker_fee)
    weight = sum((exact(p.size) * exact(p.contract_value) * k for p in cross), 0)
    # balance - iso + base x P - anchor = weight x P
    if weight == base:
        return None
    price = (exact(fig.balance) - iso_margin - anchor) / (weight - base)
    return _toward_safety(price, long=base > 0)


def account_risk(fig: AccountFigures) -> dict[int, PositionRisk]:
    """Per open position of the account: its liquidation price and margin level."""
    cross_price = cross_liquidation_price(fig)
    cross_level = cross_figures(fig).level
    out = {}
    for row in fig.positions:
        if row.margin_mode == MarginMode.ISOLATED:
            level = margin_level(row)
            out[row.id] = PositionRisk(
                liquidation_price(row), None if level is None else usdt_down(level)
            )
        else:
            out[row.id] = PositionRisk(
                cross_price, None if cross_level is None else usdt_down(cross_level)
            )
    return out
