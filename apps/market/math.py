"""Linear (USDT-margined) perpetual math of SPEC §4. Pure: Decimal in, Decimal out, no Django.

Invariants:
- Nothing here rounds. Callers round at the point where money moves, through apps.core.money
  (a fee or PnL is rounded once, where it is posted, not here). Products are computed in a
  96-digit context, so they are exact (28 digits is not enough for size x value x price); the
  one quotient that money depends on, ``initial_margin``, is returned exact as a ``Fraction``.
- ``side`` is "long" (+1) or "short" (-1); anything else is a ValueError (a programming error).
- Sizes are contracts (perpetual) or base units (spot, contract value 1), always >= 0; direction is
  carried only by ``side``.
- Floats are refused by Decimal arithmetic itself (Decimal * float raises TypeError).
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from fractions import Fraction

ZERO = Decimal(0)
ONE = Decimal(1)
INFINITY = Decimal("Infinity")

_SIGN = {"long": ONE, "short": -ONE}


def side_sign(side: str) -> Decimal:
    try:
        return _SIGN[side]
    except KeyError:
        raise ValueError(f"side must be 'long' or 'short', not {side!r}") from None


_WIDE = Context(prec=96)


def notional(size: Decimal, contract_value: Decimal, price: Decimal) -> Decimal:
    """contracts x contract value x price (USDT), exact."""
    with localcontext(_WIDE):
        return size * contract_value * price


def initial_margin(
    size: Decimal, contract_value: Decimal, price: Decimal, leverage: Decimal | int
) -> Fraction:
    """Notional at entry / leverage, as an exact Fraction (round it once with usdt_down)."""
    if Decimal(leverage) <= 0:
        raise ValueError("leverage must be positive")
    return Fraction(notional(size, contract_value, price)) / Fraction(Decimal(leverage))


def upnl(
    side: str, size: Decimal, contract_value: Decimal, entry: Decimal, mark: Decimal
) -> Decimal:
    """Unrealized PnL = side x contracts x contract value x (mark - entry), exact."""
    with localcontext(_WIDE):
        return side_sign(side) * size * contract_value * (mark - entry)


def realized_pnl(
    side: str, size: Decimal, contract_value: Decimal, entry: Decimal, exit: Decimal
) -> Decimal:
    """PnL of closing ``size`` contracts at ``exit``, exact; the entry price never changes."""
    with localcontext(_WIDE):
        return side_sign(side) * size * contract_value * (exit - entry)


def maintenance_requirement(
    size: Decimal, contract_value: Decimal, mark: Decimal, mmr: Decimal, taker_fee: Decimal
) -> Decimal:
    """Notional at mark x (MMR + taker fee): the denominator of the margin level.

    Cross margin level = account equity / sum of this over all the account's cross positions.
    """
    with localcontext(_WIDE):
        return notional(size, contract_value, mark) * (mmr + taker_fee)


def margin_level(
    margin: Decimal,
    upnl: Decimal,
    size: Decimal,
    contract_value: Decimal,
    mark: Decimal,
    mmr: Decimal,
    taker_fee: Decimal,
) -> Decimal:
    """(margin + uPnL) / (notional at mark x (MMR + taker fee)), OKX definition; 1 = 100%.

    A position with nothing at risk (size or mark zero) has an infinite level: Decimal("Infinity")
    compares correctly (never <= 1) but must not be stored in a DecimalField.
    """
    requirement = maintenance_requirement(size, contract_value, mark, mmr, taker_fee)
    if requirement == 0:
        return INFINITY
    return (margin + upnl) / requirement


def liquidation_price_isolated(
    side: str,
    size: Decimal,
    contract_value: Decimal,
    entry: Decimal,
    margin: Decimal,
    mmr: Decimal,
    taker_fee: Decimal,
) -> Decimal:
    """The mark price at which the isolated margin level is exactly 100%.

    Solving margin + s*n*cv*(P - E) = n*cv*P*k for P, with s = +-1 and k = MMR + taker fee:
        P = (s*n*cv*E - margin) / (n*cv*(s - k))
    A long is liquidated at mark <= P, a short at mark >= P. A long whose margin covers its whole
    entry notional can never be liquidated: that case returns 0.
    """
    s = side_sign(side)
    k = mmr + taker_fee
    base = size * contract_value
    if base <= 0:
        raise ValueError("size and contract value must be positive")
    price = (s * base * entry - margin) / (base * (s - k))
    return max(price, ZERO)
