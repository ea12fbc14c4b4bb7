"""Rounding for the Smart Sync engine.

These mirror ``apps/core/money.py`` (``usdt_down``, ``usdt_floor``, ``to_lot``) operation for
operation, because smart_sync imports nothing of ours (docs/decisions/0004-smart-sync-engine.md).
``tests/smart_sync/test_rounding.py`` asserts that both give identical results on a table of values.

Invariants:
- Inputs are already ``Decimal`` (the engine's types hold Decimals only); no parsing here.
- Money rounds DOWN (toward zero) to 8 places; a realized PnL rounds toward minus infinity, so a user
  is never credited more than the exact value.
- Quantities round DOWN to a multiple of the lot size and carry the lot's exponent.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

USDT_PLACES = 8
QUANT = Decimal(1).scaleb(-USDT_PLACES)  # 0.00000001
ZERO = Decimal(0)


def money_down(value: Decimal) -> Decimal:
    """An amount charged, paid or allocated: 8 places, toward zero (mirrors ``usdt_down``)."""
    return value.quantize(QUANT, rounding=ROUND_DOWN)


def money_floor(value: Decimal) -> Decimal:
    """A realized PnL: 8 places, toward minus infinity (mirrors ``usdt_floor``)."""
    return value.quantize(QUANT, rounding=ROUND_FLOOR)


def to_lot(quantity: Decimal, lot_size: Decimal) -> Decimal:
    """Round a quantity DOWN to a multiple of ``lot_size``; zero for non-positive input."""
    if lot_size <= 0:
        raise ValueError("lot size must be positive")
    if quantity <= 0:
        return ZERO * lot_size
    steps = (quantity / lot_size).to_integral_value(rounding=ROUND_DOWN)
    return (steps * lot_size).quantize(lot_size)


def dec_text(value: Decimal | None) -> str | None:
    """A Decimal as plain fixed-point text for explanations people read: 0E-8 -> 0.00000000."""
    return None if value is None else format(value, "f")
