"""The only place that rounds money or quantities.

Invariants:
- USDT amounts carry 8 decimal places (``USDT_PLACES``); nothing is ever a float.
- A size or an amount is ONE exact quotient, rounded once here. Callers hand in exact values:
  products of Decimals (exact under ``exact_context``) or ``fractions.Fraction`` quotients
  (``exact(a) * b / c``), never a chain of 28-digit Decimal quotients, which can land a hair
  under a boundary and lose a whole lot or a satoshi (6.38 contracts became 6.37).
- No rounding creates money or overcharges: every amount a user pays or receives rounds toward
  zero (SPEC §3), so a user never pays more than the exact value and is never paid more, and the
  counterparty account (market, fees, funding pool, the lead) books the same rounded amount, so
  every entry still balances. Nothing is left over for the rounding account, which exists for
  manual corrections.

Rounding rules, one per kind of amount (tests/core/test_money_rules.py checks each row):

| amount                                   | who pays whom              | rule                    | helper       |
|------------------------------------------|----------------------------|-------------------------|--------------|
| trading fee (open, close, spot)          | user -> platform fees      | toward zero, 8 places   | ``usdt_down`` |
| realized loss of a close                 | user -> market             | toward zero (a loss of 0.123456789 is 0.12345678) | ``usdt_down`` |
| realized profit of a close               | market -> user             | toward zero             | ``usdt_down`` |
| funding paid or received                 | user <-> funding pool      | toward zero             | ``usdt_down`` |
| profit share                             | follower copy -> lead      | toward zero             | ``usdt_down`` |
| liquidation loss (capped at margin)      | user -> market / insurance | toward zero             | ``usdt_down`` |
| margin allocated at an open              | inside the account         | toward zero             | ``usdt_down`` |
| margin released by a partial close       | inside the account         | toward zero (a full close releases all) | ``usdt_down`` |
| margin added/reduced by mirroring        | inside the account         | toward zero             | ``usdt_down`` |
| contracts / base quantity of an order    | —                          | down to the lot grid    | ``to_lot``    |
| liquidation price (not money: a trigger) | —                          | toward safety, 4 places | ``price_on_grid`` |
| stored or typed values already at 8 places | —                        | normalise, toward zero  | ``usdt``      |
| display only (pages, notices)            | —                          | toward zero, 2 places   | ``fmt_usdt``  |
| display in messages that guide input     | —                          | toward zero, 2-8 places | ``fmt_amount`` |
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction

USDT_PLACES = 8
QUANT = Decimal(1).scaleb(-USDT_PLACES)  # 0.00000001
ZERO = Decimal("0")
_SCALE = 10**USDT_PLACES
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
    """An amount we charge or pay: 8 places, toward zero (a fee never rounds up). Takes a Decimal,
    an int, a decimal string or an exact ``Fraction``."""
    if isinstance(value, Fraction):
        units = abs(value.numerator) * _SCALE // value.denominator
        return Decimal(-units if value < 0 else units).scaleb(-USDT_PLACES)
    return to_decimal(value).quantize(QUANT, rounding=ROUND_DOWN)


def exact(value: object) -> Fraction:
    """The exact rational value of a Decimal, int or decimal string: ``exact(a) * b / c`` is one
    exact quotient, to round once with ``usdt_down`` or ``to_lot``."""
    if isinstance(value, Fraction):
        return value
    return Fraction(to_decimal(value))


def exact_context():
    """A Decimal context wide enough that sums and products of stored values are exact (28
    digits is not: 2 x 8-place prices x a 2-place size can need more). Divisions stay inexact:
    divide with ``exact``."""
    return localcontext(Context(prec=96))


def to_lot(quantity: object, lot_size: object) -> Decimal:
    """Round a quantity DOWN to a multiple of the lot size (zero for non-positive input).
    Exact for any Decimal or ``Fraction`` input: one integer floor division."""
    lot = to_decimal(lot_size)
    if lot <= 0:
        raise ValueError("lot size must be positive")
    q = quantity if isinstance(quantity, Fraction) else to_decimal(quantity)
    if q <= 0:
        return ZERO * lot
    qn, qd = q.as_integer_ratio()
    ln, ld = lot.as_integer_ratio()
    steps = (qn * ld) // (qd * ln)
    return (Decimal(steps) * lot).quantize(lot)


def price_on_grid(value: object, *, places: int, up: bool) -> Decimal:
    """An exact price on a decimal grid, up or down (a liquidation price rounds toward safety:
    up for a long, down for a short)."""
    steps = exact(value) * 10**places
    n = -((-steps.numerator) // steps.denominator) if up else steps.numerator // steps.denominator
    return Decimal(n).scaleb(-places)


def is_on_lot(quantity: Decimal, lot_size: Decimal) -> bool:
    return (to_decimal(quantity) % to_decimal(lot_size)) == 0


def fmt_amount(value: object) -> str:
    """Display only, for messages that guide what to type: thousands separators, at least 2
    decimals and every significant one up to 8 (1,000.00; 0.00412345; 123.456)."""
    d = usdt(value)
    if d == 0:
        d = abs(d)
    text = f"{d:,.8f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def fmt_usdt(value: object, places: int = 2) -> str:
    """Display only: thousands separators, ``places`` decimals, rounded toward zero."""
    d = to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if d == 0:
        d = abs(d)  # -0.001 shows as 0.00, not -0.00
    return f"{d:,.{places}f}"
