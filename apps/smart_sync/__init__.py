"""Smart Sync: the pure planning engine (SPEC §5, §6).

Standard library only; imports nothing from Django or the project. Decimals in, intents out:
``plan_event(event, copies, instrument, policy)`` plans one lead event for every copy and
``size_open(...)`` sizes a single open (Copy Ongoing Positions / Buy Existing Assets at start).
See docs/decisions/0004-smart-sync-engine.md.
"""

from .planner import DEFAULT_POLICY, plan_event
from .rounding import exact, money_down, to_lot
from .sizing import OpenSizer, size_open
from .types import (
    INTENT_ACTIONS,
    REASON_ADD_CASH,
    REASON_AT_MINIMUM,
    REASON_BELOW_MIN,
    REASON_CLOSE_BELOW_LOT,
    REASON_CROSS,
    REASON_ENDED,
    REASON_FAILED,
    REASON_INSUFFICIENT,
    REASON_LEVERAGE_CASH,
    REASON_LEVERAGE_UNCHANGED,
    REASON_MARGIN_ZERO,
    REASON_NOT_LINKED,
    REASON_SAFE,
    REASON_SLIPPAGE,
    CopyState,
    FollowerPosition,
    Instrument,
    Intent,
    LeadEvent,
    Policy,
)

__all__ = [
    "DEFAULT_POLICY",
    "INTENT_ACTIONS",
    "REASON_ADD_CASH",
    "REASON_AT_MINIMUM",
    "REASON_BELOW_MIN",
    "REASON_CLOSE_BELOW_LOT",
    "REASON_CROSS",
    "REASON_ENDED",
    "REASON_FAILED",
    "REASON_INSUFFICIENT",
    "REASON_LEVERAGE_CASH",
    "REASON_LEVERAGE_UNCHANGED",
    "REASON_MARGIN_ZERO",
    "REASON_NOT_LINKED",
    "REASON_SAFE",
    "REASON_SLIPPAGE",
    "CopyState",
    "FollowerPosition",
    "Instrument",
    "Intent",
    "LeadEvent",
    "OpenSizer",
    "Policy",
    "money_down",
    "exact",
    "plan_event",
    "size_open",
    "to_lot",
]
