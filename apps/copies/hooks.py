"""Who settles profit share when copies stop. The copies app stops copies (the follower, the
lead ending, a stop loss) but does not decide profit share: the fees app does, and it sits
above copies in the import graph (it reads copy rows). So fees registers its settlement here
from its AppConfig.ready(), and copies calls it inside the stop's transaction, with the copy
rows locked (the same pattern as positions.outbox and market.hooks).

Invariant: exactly one settlement function is registered once the apps are ready; stopping a
copy without one is a configuration error, never a silent "no profit share".
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

StopSettlement = Callable[..., dict[int, Decimal]]

_settle: list[StopSettlement] = []


def register_stop_settlement(fn: StopSettlement) -> None:
    """``fn(*, copies, realized, trigger) -> {copy pk: share paid}`` (apps.fees)."""
    _settle[:] = [fn]


def settle_on_stop(*, copies, realized: dict[int, Decimal], trigger: str) -> dict[int, Decimal]:
    if not _settle:
        raise RuntimeError("no profit-share settlement registered (is apps.fees installed?)")
    return _settle[0](copies=copies, realized=realized, trigger=trigger)
