"""Rounding for the Smart Sync engine: exact quotients, rounded once.

These mirror ``apps/core/money.py`` (``usdt_down``, ``to_lot``, ``exact``) operation for operation,
because smart_sync imports nothing of ours (docs/decisions/0004-smart-sync-engine.md).
``tests/smart_sync/test_rounding.py`` asserts that both give identical results on a table of values.

Invariants:
- A size or an amount is computed as ONE exact quotient (``fractions.Fraction``, or the integer
  ratios of the Decimals) and rounded once, here. A chain of 28-digit Decimal quotients can land a
  hair under a lot boundary and lose a whole lot (6.38 contracts became 6.37): never divide
  Decimals and then round.
- Money rounds toward zero at 8 places (SPEC §3: a fee, a loss or a profit of 0.123456789 is
  0.12345678), so rounding never charges a user more, nor pays them more, than the exact value.
- Quantities round DOWN to a multiple of the lot size and carry the lot's exponent.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

USDT_PLACES = 8
QUANT = Decimal(1).scaleb(-USDT_PLACES)  # 0.00000001
_SCALE = 10**USDT_PLACES
ZERO = Decimal(0)

Exact = Decimal | Fraction | int


def exact(value: Exact) -> Fraction:
    """The exact rational value of a Decimal or int (``Fraction(Decimal)`` loses nothing)."""
    return value if isinstance(value, Fraction) else Fraction(value)


def money_down(value: Exact) -> Decimal:
    """An amount charged, paid or allocated: 8 places, toward zero (mirrors ``usdt_down``)."""
    if isinstance(value, Decimal):
        return value.quantize(QUANT, rounding=ROUND_DOWN)  # quantize of a Decimal is exact
    f = exact(value)
    units = abs(f.numerator) * _SCALE // f.denominator
    return Decimal(-units if f < 0 else units).scaleb(-USDT_PLACES)


def to_lot(quantity: Exact, lot_size: Decimal) -> Decimal:
    """Round a quantity DOWN to a multiple of ``lot_size``; zero for non-positive input."""
    if lot_size <= 0:
        raise ValueError("lot size must be positive")
    if quantity <= 0:
        return ZERO * lot_size
    qn, qd = quantity.as_integer_ratio()
    ln, ld = lot_size.as_integer_ratio()
    steps = (qn * ld) // (qd * ln)
    return (Decimal(steps) * lot_size).quantize(lot_size)


def dec_text(value: Exact | None, places: int = 18) -> str | None:
    """A number as plain fixed-point text for explanations people read: 0E-8 -> 0.00000000.
    An exact fraction that has no finite decimal form (1/3) is cut to ``places`` decimals and
    marked with a trailing "…" so nobody mistakes it for the exact value."""
    if value is None:
        return None
    if not isinstance(value, Fraction):
        return format(value, "f")
    d, k2, k5 = value.denominator, 0, 0
    while d % 2 == 0:
        d //= 2
        k2 += 1
    while d % 5 == 0:
        d //= 5
        k5 += 1
    k = max(k2, k5)
    if d == 1:
        return format(Decimal(value.numerator * 10**k // value.denominator).scaleb(-k), "f")
    units = abs(value.numerator) * 10**places // value.denominator
    text = format(Decimal(units).scaleb(-places), "f")
    return ("-" if value < 0 else "") + text + "…"
