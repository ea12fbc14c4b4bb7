"""What followers and lead traders are told about funding and profit share, in words.

The services decide and move money; they hand the figures here to be put into words the way the
pages show money (``fmt_usdt``: "1,000.00 USDT", never "1000.00000000"). Functions that return a
notification return a row for ``apps.accounts.services.notifications_create_bulk``:
``(user_id, kind, message, data)``; the others return a CopyEvent reason (history line).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from apps.core.money import ZERO, fmt_usdt

Notice = tuple[int, str, str, dict]

_TRIGGER_WORDS = {
    "weekly": "weekly settlement",
    "stop": "copy stopped",
    "lead_ended": "lead trader ended their strategy",
    "operator": "settled by an operator",
}


def usdt_text(amount: Decimal) -> str:
    return f"{fmt_usdt(amount)} USDT"


def rate_text(rate: Decimal) -> str:
    """A funding rate as a percentage with 4 decimals (0.0001 -> 0.0100%)."""
    return f"{fmt_usdt(rate * 100, places=4)}%"


def profit_share_reason(
    *, ratio: Decimal, paid: Decimal, owed_after: Decimal, written_off: Decimal
) -> str:
    """The history line of a settlement that had something due (a CopyEvent reason)."""
    text = f"Profit share ({fmt_usdt(ratio * 100)}%): {usdt_text(paid)} paid"
    if owed_after > 0:
        text += f", {usdt_text(owed_after)} owed (cash short)"
    if written_off > 0:
        text += f", {usdt_text(written_off)} written off (cash short at stop)"
    return text


def profit_share_follower(
    *,
    user_id: int,
    copy_id: int,
    nickname: str,
    trigger: str,
    paid: Decimal,
    owed_after: Decimal,
    written_off: Decimal,
) -> Notice:
    text = (
        f"Profit share settled on your copy of {nickname} "
        f"({_TRIGGER_WORDS.get(trigger, trigger)}): {usdt_text(paid)} paid to {nickname}."
    )
    if owed_after > 0:
        text += (
            f" {usdt_text(owed_after)} could not be paid because the copy's free cash was short;"
            " it stays owed and is paid first at the next settlement."
        )
    if written_off > 0:
        text += (
            f" {usdt_text(written_off)} could not be paid from the copy's cash and was written off."
        )
    return (user_id, "profit_share", text, {"copy": copy_id})


def profit_share_lead(*, user_id: int, trigger: str, total: Decimal, copies: int) -> Notice:
    noun = "copy" if copies == 1 else "copies"
    return (
        user_id,
        "profit_share",
        f"Profit share ({_TRIGGER_WORDS.get(trigger, trigger)}): you earned {usdt_text(total)} "
        f"from {copies} {noun}, paid to your main account.",
        {"earned": str(total), "copies": copies},
    )


def funding_reason(
    *, instrument: str, slot: datetime, rate: Decimal, change: Decimal, shortfall: Decimal
) -> str:
    """The history line of one copy's funding in one round (a CopyEvent reason)."""
    when = f"{slot:%Y-%m-%d %H:%M} UTC"
    if change < 0:
        what = f"paid {usdt_text(-change)}"
    elif change > 0:
        what = f"received {usdt_text(change)}"
    else:
        what = "nothing moved"
    text = f"Funding {instrument} {when} at {rate_text(rate)}: {what}"
    if shortfall > 0:
        text += f" ({usdt_text(shortfall)} could not be paid: the balance was short)"
    return text


def funding_digest(
    *, user_id: int, day: date, paid: Decimal, received: Decimal, copies: int
) -> Notice:
    """One notice per follower per day: what their copies' positions paid and received."""
    net = received - paid
    noun = "copy" if copies == 1 else "copies"
    parts = []
    if paid > 0:
        parts.append(f"paid {usdt_text(paid)}")
    if received > 0:
        parts.append(f"received {usdt_text(received)}")
    sign = "-" if net < 0 else ""
    text = (
        f"Funding on {day:%d %b %Y} across your {copies} {noun}: {' and '.join(parts) or 'nothing'}"
        f" (net {sign}{usdt_text(abs(net))}). Funding is settled every 8 hours on open positions."
    )
    return (
        user_id,
        "funding",
        text,
        {"funding_day": day.isoformat(), "net": str(net if net else ZERO)},
    )
