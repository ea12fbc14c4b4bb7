"""Template filters that format (never compute) money: ``{{ value|usdt }}`` -> "1,234.56 USDT"."""

from decimal import Decimal

from django import template

from apps.core.money import fmt_usdt

register = template.Library()


@register.filter
def usdt(value, places=2):
    if value is None or value == "":
        return "—"
    return f"{fmt_usdt(value, int(places))} USDT"


@register.filter
def num(value, places=2):
    if value is None or value == "":
        return "—"
    return fmt_usdt(value, int(places))


@register.filter
def pct(value, places=2):
    """A ratio (0.1) shown as a percentage (10.00%)."""
    if value is None or value == "":
        return "—"
    return f"{fmt_usdt(Decimal(value) * 100, int(places))}%"


@register.filter
def signed(value):
    """CSS class for a signed amount: 'pos', 'neg' or ''."""
    try:
        d = Decimal(value)
    except Exception:
        return ""
    return "pos" if d > 0 else "neg" if d < 0 else ""
