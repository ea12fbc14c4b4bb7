"""Display filters of the trader pages (format only, never compute):

- ``{{ x|snum:2 }}``: like ``num`` with an explicit sign: "+12.50", "-3.00", "0.00"
  (colour alone never carries the meaning);
- ``{{ r|spct:2 }}``: like ``pct`` with an explicit sign: "+5.21%";
- ``{{ seconds|span }}`` / ``{{ timedelta|span }}``: a holding time in words: "2 d 4 h",
  "3 h 12 min", "45 min", "under a minute".
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import template

from apps.core.templatetags.money import num, pct

register = template.Library()


def _positive(value) -> bool:
    try:
        return Decimal(value) > 0
    except (InvalidOperation, TypeError, ValueError):
        return False


@register.filter
def snum(value, places=2):
    text = num(value, places)
    return f"+{text}" if _positive(value) and text != "—" and text.strip("0.,") else text


@register.filter
def spct(value, places=2):
    text = pct(value, places)
    return f"+{text}" if _positive(value) and text != "—" and text.strip("0.,%") else text


@register.filter
def span(value):
    if value is None or value == "":
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"
