"""The stored Smart Sync explanation in words: "why this size" on Copy Trade Details and the
copy wizard, "why missed" beside a missed copy.

The engine (apps.smart_sync) records every decision of SPEC §5.2 on the follower position or the
missed copy as JSON: ratio, base, target margin, raw and rounded size, cap, bump, fee, reason.
This module only puts those stored figures into sentences; it recomputes nothing, so the words
always tell what actually happened, even after settings or prices changed.

A spot buy (SPEC §6; the engine sizes it as a 1x open of one base unit per "contract", event
``spot_buy``) is told in spot words: the share of the lead's spot equity spent (or, for Buy
Existing Assets, the holding's weight in it), the target amount, the quantity of the asset, the
cost and the fee paid on top.

Invariants:
- Numbers are formatted for display with apps.core.money (toward zero); a figure the engine cut
  because it has no finite decimal form (stored with a trailing "…") is shown with "about".
- Unknown or missing keys never raise: an explanation written by an older engine gives fewer
  sentences, never an error page. Internal error text is never shown to the follower.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.conf import settings

from apps.core.money import fmt_amount
from apps.smart_sync import (
    REASON_BELOW_MIN,
    REASON_FAILED,
    REASON_INSUFFICIENT,
    REASON_SLIPPAGE,
)

_CUT = "…"
# what engine.ongoing_intents stores as the source of a start's opens (futures and spot alike)
ONGOING_SOURCE = "Copy Ongoing Positions"


def _dec(text) -> tuple[Decimal | None, bool]:
    """(value, cut): a stored number and whether the engine cut it."""
    if text is None or text == "":
        return None, False
    raw = str(text)
    cut = raw.endswith(_CUT)
    try:
        return Decimal(raw.rstrip(_CUT)), cut
    except InvalidOperation:
        return None, False


def _about(cut: bool) -> str:
    return "about " if cut else ""


def _usdt(text) -> str:
    value, cut = _dec(text)
    if value is None:
        return "—"
    if cut:  # no finite decimal form: 4 places say enough
        return f"about {_plain(value, 4)} USDT"
    return f"{fmt_amount(value)} USDT"


def _plain(value: Decimal, places: int) -> str:
    """Up to ``places`` decimals, toward zero, no trailing zeros (0.3, 10, 6.38)."""
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    text = f"{q:,.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


def _percent(text) -> str:
    value, cut = _dec(text)
    if value is None:
        return "—"
    shown = _plain(value * 100, 4)
    cut = cut or Decimal(shown.replace(",", "")) != value * 100
    return f"{_about(cut)}{shown}%"


def _contracts(text) -> str:
    value, cut = _dec(text)
    if value is None:
        return "—"
    shown = _plain(value, 6)
    cut = cut or Decimal(shown.replace(",", "")) != value
    if not cut and value == value.to_integral_value():
        shown = f"{value:,.2f}"  # a whole size reads as the page shows sizes: 1.00
    return f"{_about(cut)}{shown} contract{'' if value == 1 else 's'}"


def _price(text) -> str:
    value, cut = _dec(text)
    return "—" if value is None else f"{_about(cut)}{fmt_amount(value)} USDT"


def sizing(
    explanation: dict | None,
    *,
    contract_value: Decimal | None = None,
    base_asset: str = "",
    preview: bool = False,
    spot: bool = False,
) -> list[str]:
    """The explanation of an open (or of a missed open) as sentences, in the order of SPEC §5.2:
    ratio, base, target margin, raw and rounded size, slippage guard, cap, bump, result.
    ``preview``: the copy does not exist yet (the wizard), so the words are about the start.
    ``spot`` (or an explanation of a ``spot_buy``): a spot buy, in spot words (SPEC §6)."""
    exp = explanation or {}
    if not exp:
        return []
    if "target_margin" not in exp:
        return _other(exp)
    if spot or exp.get("event") == "spot_buy":
        return _spot_sizing(exp, base_asset, preview)
    lines = [_ratio_line(exp, preview)]
    if preview:
        lines.append(f"Base: your copy starts with an equity of {_usdt(exp.get('base'))}.")
    else:
        lines.append(f"Base: your copy's equity was {_usdt(exp.get('base'))} when it was sized.")
    lines.append(
        f"Target margin: {_percent(exp.get('ratio'))} × {_usdt(exp.get('base'))} = "
        f"{_usdt(exp.get('target_margin'))}."
    )
    reason = exp.get("reason") or ""
    if reason == REASON_SLIPPAGE:
        lines.append(_slippage_line(exp))
        return lines
    if exp.get("raw_size") is not None:
        lines.append(_size_line(exp, contract_value, base_asset))
    if exp.get("capped"):
        lines.append(
            f"Cap: its margin and opening fee did not fit in the copy's available "
            f"{_usdt(exp.get('available'))}, so it was reduced to "
            f"{_contracts(exp.get('capped_size'))}."
        )
    if exp.get("bumped"):
        cap = fmt_amount(settings.SMART_SYNC["BUMP_CAP"]).rstrip("0").rstrip(".")
        lines.append(
            f"Bump: that is below the instrument's minimum size, so it was raised to "
            f"{_contracts(exp.get('bumped_to'))} (affordable, and a margin at most {cap}x "
            "the target margin)."
        )
    if reason:
        lines.append(_missed_line(reason, exp))
    elif exp.get("size") is not None:
        lines.append(
            f"Result: {_contracts(exp.get('size'))} at {_price(exp.get('price'))}, margin "
            f"{_usdt(exp.get('margin'))}, opening fee {_usdt(exp.get('fee'))}."
        )
    return lines


def _quantity(text, asset: str) -> str:
    value, cut = _dec(text)
    if value is None:
        return "—"
    shown = _plain(value, 8)
    cut = cut or Decimal(shown.replace(",", "")) != value
    return f"{_about(cut)}{shown} {asset or 'units'}".rstrip()


def _spot_sizing(exp: dict, asset: str, preview: bool) -> list[str]:
    """A spot buy: weight or share of equity, base, target amount, quantity, guards, result."""
    asset = asset or "units"
    ratio = _percent(exp.get("ratio"))
    if preview:
        lines = [
            f"Weight: this holding is {ratio} of the lead's spot equity now (its value ÷ the "
            "lead's equity; Buy Existing Assets).",
            f"Base: your copy starts with an equity of {_usdt(exp.get('base'))}.",
        ]
    elif exp.get("source") == ONGOING_SOURCE or exp.get("event") == "copy_start":
        lines = [
            f"Weight: this holding was {ratio} of the lead's spot equity when the copy started "
            "(its value ÷ the lead's equity; Buy Existing Assets).",
            f"Base: your copy's equity was {_usdt(exp.get('base'))} when it was sized.",
        ]
    else:
        lines = [
            f"Ratio: the lead spent {ratio} of their spot equity on this buy (the amount ÷ the "
            "lead's spot equity just before).",
            f"Base: your copy's equity was {_usdt(exp.get('base'))} when it was sized.",
        ]
    lines.append(
        f"Amount: {ratio} × {_usdt(exp.get('base'))} = {_usdt(exp.get('target_margin'))} to spend."
    )
    reason = exp.get("reason") or ""
    if reason == REASON_SLIPPAGE:
        lines.append(_slippage_line(exp).replace("Nothing was opened", "Nothing was bought"))
        return lines
    if exp.get("raw_size") is not None:
        lines.append(
            f"Quantity: {_usdt(exp.get('target_margin'))} ÷ {_price(exp.get('price'))} per "
            f"{asset} = {_quantity(exp.get('raw_size'), asset)}, rounded down to the lot: "
            f"{_quantity(exp.get('rounded_size'), asset)}."
        )
    if exp.get("capped"):
        lines.append(
            f"Cap: its cost and fee did not fit in the copy's available "
            f"{_usdt(exp.get('available'))}, so it was reduced to "
            f"{_quantity(exp.get('capped_size'), asset)}."
        )
    if exp.get("bumped"):
        cap = fmt_amount(settings.SMART_SYNC["BUMP_CAP"]).rstrip("0").rstrip(".")
        lines.append(
            f"Bump: that is below the minimum quantity of {asset}, so it was raised to "
            f"{_quantity(exp.get('bumped_to'), asset)} (affordable, and costing at most {cap}x "
            "the amount)."
        )
    if reason == REASON_BELOW_MIN:
        lines.append(
            "Missed: below minimum size. Even the minimum quantity would have cost more than "
            "the bump limit allows for this amount."
        )
    elif reason == REASON_INSUFFICIENT:
        lines.append(
            "Missed: insufficient available balance. Even the minimum quantity's cost and fee "
            f"did not fit in the copy's available {_usdt(exp.get('available'))}."
        )
    elif reason:
        lines.append(f"Missed: {reason}.")
    elif exp.get("size") is not None:
        lines.append(
            f"Result: {_quantity(exp.get('size'), asset)} at {_price(exp.get('price'))}, "
            f"cost {_usdt(exp.get('margin'))}, fee {_usdt(exp.get('fee'))} paid on top."
        )
    return lines


def _ratio_line(exp: dict, preview: bool) -> str:
    ratio = _percent(exp.get("ratio"))
    if preview:
        return (
            f"Ratio: this lead position's margin is {ratio} of the lead's equity now "
            "(Copy Ongoing Positions)."
        )
    if exp.get("source") == ONGOING_SOURCE or exp.get("event") == "copy_start":
        return (
            f"Ratio: this lead position's margin was {ratio} of the lead's equity when the copy "
            "started (Copy Ongoing Positions)."
        )
    return f"Ratio: the lead put {ratio} of their equity into this position (its margin ÷ the lead's equity just before)."


def _size_line(exp: dict, contract_value: Decimal | None, base_asset: str) -> str:
    lev = exp.get("leverage")
    unit = f" {base_asset}" if base_asset else ""
    per_contract = (
        f"{_price(exp.get('price'))} × {_plain(Decimal(contract_value), 8)}{unit} per contract"
        if contract_value is not None
        else f"the value of one contract at {_price(exp.get('price'))}"
    )
    return (
        f"Size: {_usdt(exp.get('target_margin'))} × {lev}x ÷ ({per_contract}) = "
        f"{_contracts(exp.get('raw_size'))}, rounded down to the lot size: "
        f"{_contracts(exp.get('rounded_size'))}."
    )


def _slippage_line(exp: dict) -> str:
    slip, _ = _dec(exp.get("slippage"))
    moved = f" ({_percent(exp.get('slippage'))})" if slip is not None else ""
    tolerance = _plain(settings.SMART_SYNC["SLIPPAGE_TOLERANCE"] * 100, 4)
    return (
        f"Price check: the lead filled at {_price(exp.get('fill_price'))}; when your copy was "
        f"sized the price was {_price(exp.get('price'))}{moved}, worse than the {tolerance}% "
        "slippage tolerance. Nothing was opened: price moved beyond slippage tolerance."
    )


def _missed_line(reason: str, exp: dict) -> str:
    if reason == REASON_BELOW_MIN:
        return (
            "Missed: below minimum size. Even the instrument's minimum size would have needed "
            "a margin more than the bump limit allows for this target."
        )
    if reason == REASON_INSUFFICIENT:
        return (
            "Missed: insufficient available balance. Even the minimum size's margin and fee did "
            f"not fit in the copy's available {_usdt(exp.get('available'))}."
        )
    return f"Missed: {reason}."


def _other(exp: dict) -> list[str]:
    """Explanations of leverage, margin and close events (sync failures, skips)."""
    reason = exp.get("reason") or ""
    if reason == REASON_FAILED or exp.get("error"):
        return [
            "It could not be mirrored because of an error on our side; nothing changed in your "
            "copy and our operators were alerted."
        ]
    lines = []
    if "new_leverage" in exp:
        lines.append(
            f"The lead changed leverage from {exp.get('old_leverage')}x to "
            f"{exp.get('new_leverage')}x: your margin would go from "
            f"{_usdt(exp.get('old_margin'))} to {_usdt(exp.get('new_margin'))}, with "
            f"{_usdt(exp.get('available'))} available."
        )
    elif "lead_delta" in exp or "delta" in exp:
        lines.append(
            f"Your position's margin is {_usdt(exp.get('old_margin'))}; the change for your "
            f"share would be {_usdt(exp.get('delta') or exp.get('wanted'))}"
            + (f", with {_usdt(exp.get('available'))} available." if "available" in exp else ".")
        )
    if reason:
        lines.append(f"Reason: {reason}.")
    return lines


def reason_words(reason: str) -> str:
    """A missed copy's reason as a sentence start (the engine's words, capitalised)."""
    return (reason[:1].upper() + reason[1:]) if reason else ""
