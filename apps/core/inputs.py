"""Parsing numbers a person typed (API bodies, forms, admin): one set of rules and messages.

A refusal is an ApplicationError naming the field, so the API answers 400 with
``fields[field]`` and a page shows the message beside the input; nothing is rounded here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from apps.core.exceptions import ApplicationError
from apps.core.money import MAX_DIGITS, USDT_PLACES, to_decimal

# "1,000.50" as people write it (and as the pages show amounts): commas only as thousands
# separators, so "1,5" (a decimal comma) is refused rather than read as 15.
_GROUPED = re.compile(r"^\s*[-+]?\d{1,3}(,\d{3})+(\.\d*)?\s*$")

# The largest magnitude a MoneyField column holds (28 digits, 8 of them decimals).
MAX_ABS = Decimal(10) ** (MAX_DIGITS - USDT_PLACES)


def decimal_places(value: Decimal) -> int:
    """Decimal places ignoring trailing zeros ("1.50" has 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def parse_decimal(
    value: object,
    *,
    field: str,
    label: str,
    positive: bool = False,
    max_abs: Decimal = MAX_ABS,
    code: str = "invalid",
) -> Decimal:
    """``value`` as an exact Decimal with at most 8 decimal places, or a clear refusal.
    Thousands separators are accepted ("1,000.50")."""
    if isinstance(value, str) and _GROUPED.match(value):
        value = value.replace(",", "")
    try:
        result = to_decimal(value)
    except (TypeError, ValueError):
        raise ApplicationError(
            f"{label} must be a number, e.g. 100.5 (got {value!r}).",
            code=code,
            fields={field: "Enter a number."},
        ) from None
    if positive and result <= 0:
        message, hint = f"{label} must be greater than 0.", "Must be greater than 0."
    elif decimal_places(result) > USDT_PLACES:
        message = f"{label} can have at most {USDT_PLACES} decimal places (got {value})."
        hint = f"At most {USDT_PLACES} decimal places."
    elif abs(result) >= max_abs:
        message, hint = f"{label} {value} is too large.", f"Must be below {max_abs}."
    else:
        return result
    raise ApplicationError(message, code=code, fields={field: hint})
