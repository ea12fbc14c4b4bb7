"""Value types of the Smart Sync engine: what the shell hands in and the intents it gets back.

Invariants:
- Every type is a frozen dataclass; money and quantities are ``Decimal``, never float.
- An ``Intent`` is a decision, not an effect: the shell locks, writes the ledger and records it.
- ``Intent.explanation`` is JSON-serializable (Decimals as strings, bools, ints, None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

ZERO = Decimal(0)

InstrumentKind = Literal["perpetual", "spot"]
Side = Literal["long", "short", ""]

FUTURES_EVENT_KINDS = frozenset(
    {
        "open",
        "partial_close",
        "close",
        "liquidation",
        "leverage",
        "margin_add",
        "margin_reduce",
        "ended",
    }
)
SPOT_EVENT_KINDS = frozenset({"spot_buy", "spot_sell", "ended"})

INTENT_ACTIONS = frozenset(
    {
        "open",
        "close",
        "set_leverage",
        "add_margin",
        "reduce_margin",
        "skip",
        "miss",
        "sync_failed",
        "stop",
        "failed",
    }
)

# Reasons are part of the contract: the follower reads them and tests compare them verbatim.
REASON_SLIPPAGE = "price moved beyond slippage tolerance"
REASON_INSUFFICIENT = "insufficient available balance"
REASON_BELOW_MIN = "below minimum size"
REASON_CLOSE_BELOW_LOT = "close amount below lot size"
REASON_NOT_LINKED = "not linked to this copy"
REASON_LEVERAGE_UNCHANGED = "leverage already in sync"
REASON_LEVERAGE_CASH = "insufficient available balance to lower leverage; increase your investment"
REASON_CROSS = "cross margin position"
REASON_SAFE = "margin level above 1,000%: already safe"
REASON_ADD_CASH = "insufficient available balance to add margin; increase your investment"
REASON_MARGIN_ZERO = "margin change below 0.00000001"
REASON_AT_MINIMUM = "margin already at minimum"
REASON_ENDED = "lead trader ended the strategy"
REASON_FAILED = "could not be mirrored"


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    contract_value: Decimal  # spot: ignored, one unit of the base asset is the "contract"
    lot_size: Decimal
    min_size: Decimal
    taker_fee: Decimal
    max_leverage: int | None
    mmr: Decimal | None
    kind: InstrumentKind


@dataclass(frozen=True, slots=True)
class Policy:
    slippage_tolerance: Decimal = Decimal("0.005")
    bump_cap: Decimal = Decimal("10")
    margin_level_skip: Decimal = Decimal("10")  # 10 = 1,000%


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """Everything needed to mirror one lead event, captured when the lead traded.

    ``margin``: open -> lead margin used; margin_add/margin_reduce -> the delta d > 0.
    ``amount``: spot_buy -> USDT spent by the lead. ``fraction``: partial_close / spot_sell, for
    display; the exact share a close applies is ``size / lead_size_before`` when both are known.
    ``price_now``: the instrument's price at mirror time (follower execution price).
    """

    kind: str
    lead_position_id: int | None
    side: Side
    margin_mode: str
    leverage: int | None
    previous_leverage: int | None
    fill_price: Decimal | None
    margin: Decimal | None
    lead_margin_before: Decimal | None
    lead_equity_before: Decimal | None
    fraction: Decimal | None
    price_now: Decimal
    guard_slippage: bool = True
    amount: Decimal | None = None
    size: Decimal | None = None  # closes: the quantity the lead closed
    lead_size_before: Decimal | None = None  # closes: the sub-position's size before the close


@dataclass(frozen=True, slots=True)
class FollowerPosition:
    """A copy's open position linked to one lead sub-position (spot: a holding, side "long",
    leverage 1, ``entry_price`` = average cost, ``margin`` = cost basis)."""

    id: int
    lead_position_id: int
    side: Side
    margin_mode: str
    leverage: int
    size: Decimal
    entry_price: Decimal
    margin: Decimal


@dataclass(frozen=True, slots=True)
class CopyState:
    """``equity`` = copy cash + margins + uPnL at the current price; ``available`` = cash that can
    fund new margin and fees (both computed by the caller)."""

    copy_id: int
    equity: Decimal
    available: Decimal
    positions: tuple[FollowerPosition, ...] = ()
    cross_upnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Intent:
    copy_id: int
    action: str
    position_id: int | None = None
    size: Decimal = ZERO
    price: Decimal = ZERO
    margin: Decimal = ZERO
    fee: Decimal = ZERO
    leverage: int | None = None
    side: str = ""
    margin_mode: str = ""
    realized_pnl: Decimal = ZERO
    margin_released: Decimal = ZERO
    close_all: bool = False
    reason: str = ""
    explanation: dict[str, Any] = field(default_factory=dict)
