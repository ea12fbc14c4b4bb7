"""``{{ value|exact_amount }}``: a ledger amount as booked, for statements.

The builtin money filters show a fixed number of places (``num:2``), which turns a fee of
0.00025 USDT into "0.00". A statement line must show what was booked: thousands separators,
at least 2 decimals and every significant one up to 8 (``apps.core.money.fmt_amount``).
Formatting only; the sign is the amount's own ("-0.00025").
"""

from django import template

from apps.core.money import fmt_amount

register = template.Library()


@register.filter
def exact_amount(value):
    if value is None or value == "":
        return "—"
    return fmt_amount(value)
