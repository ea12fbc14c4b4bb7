"""What followers are told, in words: the texts of copy notifications.

The money services decide and move money; they hand the figures here to be put into words, so a
notice reads like the pages (amounts with thousands separators and 2 decimals, "1,000.00 USDT",
never "1000.00000000 USDT"). Each function returns a row for
``apps.accounts.services.notifications_create_bulk``: ``(user_id, kind, message, data)``.
"""

from __future__ import annotations

from decimal import Decimal

from apps.core.money import fmt_usdt

Notice = tuple[int, str, str, dict]


def usdt_text(amount: Decimal) -> str:
    return f"{fmt_usdt(amount)} USDT"


def copy_started(*, user_id: int, copy_id: int, nickname: str, investment: Decimal) -> Notice:
    return (
        user_id,
        "copy_started",
        f"You started copying {nickname} with {usdt_text(investment)}.",
        {"copy": copy_id},
    )


def copy_stopped(
    *, user_id: int, copy_id: int, nickname: str, reason_label: str, returned: Decimal
) -> Notice:
    return (
        user_id,
        "copy_stopped",
        f"Your copy of {nickname} stopped ({reason_label.lower()}); "
        f"{usdt_text(returned)} returned to your main account.",
        {"copy": copy_id},
    )


def lead_ended(*, user_id: int, copy_id: int, nickname: str, returned: Decimal) -> Notice:
    return (
        user_id,
        "lead_ended",
        f"{nickname} ended their strategy. Your copy stopped and {usdt_text(returned)} "
        "returned to your main account.",
        {"copy": copy_id},
    )


def missed_copy(
    *, user_id: int, copy_id: int, lead_event_id: int, nickname: str, what: str, reason: str
) -> Notice:
    return (
        user_id,
        "missed_copy",
        f"Missed copy of {nickname}'s {what}: {reason}.",
        {"copy": copy_id, "lead_event": lead_event_id},
    )


def sync_failed(
    *, user_id: int, copy_id: int, lead_event_id: int, nickname: str, what: str, reason: str
) -> Notice:
    return (
        user_id,
        "sync_failed",
        f"Could not follow {nickname}'s {what}: {reason}.",
        {"copy": copy_id, "lead_event": lead_event_id},
    )


def mirror_failed(
    *, user_id: int, copy_id: int, lead_event_id: int, nickname: str, what: str
) -> Notice:
    return (
        user_id,
        "sync_failed",
        f"Sync failed: {nickname}'s {what} could not be mirrored to your copy, and nothing "
        "changed in it. Our operators have been alerted and may retry it.",
        {"copy": copy_id, "lead_event": lead_event_id},
    )


def investment_changed(*, copy_id: int, new_total: Decimal, increased: bool) -> str:
    """The history line of a Modify (a CopyEvent reason, not a notification)."""
    return f"Total Investment {'increased' if increased else 'decreased'} to {usdt_text(new_total)}"


def _closed_words(rows, amounts) -> str:
    parts = []
    for row in rows:
        lost = -amounts.get(row.id, 0)
        parts.append(
            f"{row.size.normalize()} contracts {row.side} at {fmt_usdt(row.mark)} "
            f"(loss {usdt_text(lost)})"
        )
    return "; ".join(parts)


def copy_liquidated(
    *, user_id: int, copy_id: int, nickname: str, rows, amounts: dict, cross: bool
) -> Notice:
    why = "its cross margin level fell to 100%" if cross else "the liquidation price was reached"
    return (
        user_id,
        "liquidation",
        f"Liquidated in your copy of {nickname}: {why}. Closed {_closed_words(rows, amounts)}. "
        "A loss never exceeds the margin (isolated) or the copy's equity (cross).",
        {"copy": copy_id},
    )


def lead_liquidated(*, user_id: int, rows, amounts: dict, cross: bool) -> Notice:
    why = "the cross margin level fell to 100%" if cross else "the liquidation price was reached"
    return (
        user_id,
        "liquidation",
        f"Liquidated in your lead futures account: {why}. Closed {_closed_words(rows, amounts)}. "
        "Your copiers' linked positions close at market.",
        {},
    )


_ACTION_WORDS = {
    "close_all": "all its positions are closed at market and its cash returns to your main account",
    "keep": "its open positions stay and follow the lead trader's closes; the cash returns "
    "once the last one closes",
    "hand_over": "its open positions are yours to close (the lead trader no longer steers them); "
    "the cash returns once the last one closes",
}


def stop_loss_triggered(
    *,
    user_id: int,
    copy_id: int,
    nickname: str,
    pnl: Decimal,
    stop_loss: Decimal,
    action: str,
    open_positions: int,
) -> Notice:
    then = _ACTION_WORDS[action] if open_positions else "its cash returns to your main account"
    return (
        user_id,
        "stop_loss",
        f"Total Stop Loss for Trader triggered on your copy of {nickname}: PnL "
        f"{usdt_text(pnl)} reached -{usdt_text(stop_loss)}. It copies no new positions; {then}.",
        {"copy": copy_id},
    )
