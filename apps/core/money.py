"""The only place that rounds money or quantities.

Invariants:
- USDT amounts carry 8 decimal places (``USDT_PLACES``); nothing is ever a float.
- Money the platform charges or pays out is rounded DOWN (toward zero): ``usdt_down``.
- Quantities round DOWN to the instrument's lot grid: ``to_lot``.
- ``usdt`` only normalises a value that is already exact to 8 places (stored values, inputs);
  it uses ROUND_DOWN too, so a rounding step can never create money.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal, InvalidOperation

USDT_PLACES = 8
QUANT = Decimal(1).scaleb(-USDT_PLACES)  # 0.00000001
ZERO = Decimal("0")
MAX_DIGITS = 28


def to_decimal(value: object) -> Decimal:
    """Parse user or stored input into a Decimal. Floats are refused: they are not money."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (bool, float)):
        raise TypeError("money and quantities must be Decimal, int or str, never float/bool")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def usdt(value: object) -> Decimal:
    """Normalise to 8 places, rounding toward zero."""
    return to_decimal(value).quantize(QUANT, rounding=ROUND_DOWN)


def usdt_down(value: object) -> Decimal:
    """An amount we charge or pay: 8 places, toward zero (a fee never rounds up)."""
    return to_decimal(value).quantize(QUANT, rounding=ROUND_DOWN)


def usdt_floor(value: object) -> Decimal:
    """Toward minus infinity: a realized PnL credited to a user never exceeds the exact value."""
    return to_decimal(value).quantize(QUANT, rounding=ROUND_FLOOR)


def to_lot(quantity: object, lot_size: object) -> Decimal:
    """Round a quantity DOWN to a multiple of the lot size (never negative input)."""
    q = to_decimal(quantity)
    lot = to_decimal(lot_size)
    if lot <= 0:
        raise ValueError("lot size must be positive")
    if q <= 0:
        return ZERO * lot
    steps = (q / lot).to_integral_value(rounding=ROUND_DOWN)
    return (steps * lot).quantize(lot)


def is_on_lot(quantity: Decimal, lot_size: Decimal) -> bool:
    return (to_decimal(quantity) % to_decimal(lot_size)) == 0


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """An unrounded ratio (kept at full Decimal context precision); zero when the base is zero."""
    if denominator == 0:
        return ZERO
    return to_decimal(numerator) / to_decimal(denominator)


def fmt_usdt(value: object, places: int = 2) -> str:
    """Display only: thousands separators, ``places`` decimals, rounded toward zero."""
    d = to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return f"{d:,.{places}f}"
