"""Sizing an open (SPEC §5.2) and a spot buy (SPEC §6), one copy at a time.

Invariants (tested in tests/smart_sync):
- An ``open`` intent's size is a multiple of the lot size and >= the minimum size.
- An ``open`` intent's ``margin + fee <= available`` of the copy, with the rounded figures that the
  shell will actually move (margin and fee are both rounded DOWN to 8 places).
- Decisions run in the order of §5.2: slippage guard, available cap, minimum-size bump.
- Spot is sized as a 1x position with a contract value of 1 base unit: the "margin" of a spot buy
  is the USDT spent (cost) and the fee is paid on top of it.

``OpenSizer`` is built once per lead event (every value that does not depend on the copy is
precomputed there); ``OpenSizer.size`` is the lean per-copy step the planner calls 10,000 times.
"""

from __future__ import annotations

from decimal import Decimal

from .rounding import ZERO, dec_text, money_down, to_lot
from .types import (
    REASON_BELOW_MIN,
    REASON_INSUFFICIENT,
    REASON_SLIPPAGE,
    Instrument,
    Intent,
    Policy,
)

ONE = Decimal(1)
_TWO_ROUNDINGS = Decimal("0.00000002")  # margin and fee each round down by < 1e-8


class OpenSizer:
    """Per-event constants for sizing opens; call :meth:`size` per copy."""

    __slots__ = (
        "ratio",
        "price",
        "side",
        "leverage",
        "margin_mode",
        "lot",
        "min_size",
        "bump_cap",
        "unit_value",
        "lev_d",
        "taker",
        "per_target",
        "unit_cost",
        "slippage_miss",
        "min_margin",
        "min_fee",
        "_ratio_s",
        "_price_s",
        "_fill_s",
        "_slip_s",
        "_event",
    )

    def __init__(
        self,
        *,
        ratio: Decimal,
        price: Decimal,
        side: str,
        leverage: int,
        margin_mode: str,
        instrument: Instrument,
        policy: Policy,
        fill_price: Decimal | None = None,
        guard_slippage: bool = True,
        event_kind: str = "open",
    ) -> None:
        if price <= 0:
            raise ValueError("price must be positive")
        spot = instrument.kind == "spot"
        if spot:
            side, leverage = "long", 1
        if side not in ("long", "short"):
            raise ValueError(f"an open needs side long or short, not {side!r}")
        if leverage is None or leverage < 1:
            raise ValueError(f"an open needs a leverage >= 1, not {leverage!r}")
        self.ratio = ratio
        self.price = price
        self.side = side
        self.leverage = leverage
        self.margin_mode = margin_mode
        self.lot = instrument.lot_size
        self.min_size = instrument.min_size
        self.bump_cap = policy.bump_cap
        self.unit_value = price if spot else instrument.contract_value * price
        self.lev_d = Decimal(leverage)
        self.taker = instrument.taker_fee
        # contracts per USDT of target margin, and the exact cost (margin + fee) of one contract
        self.per_target = self.lev_d / self.unit_value
        self.unit_cost = self.unit_value / self.lev_d + self.unit_value * self.taker
        self.min_margin, self.min_fee = self._margin_fee(self.min_size)

        self.slippage_miss = False
        slip: Decimal | None = None
        if fill_price is not None and fill_price > 0:
            slip = (price - fill_price) / fill_price
            if guard_slippage:
                tol = policy.slippage_tolerance
                if side == "long":
                    self.slippage_miss = price > fill_price * (ONE + tol)
                else:
                    self.slippage_miss = price < fill_price * (ONE - tol)
        self._ratio_s = dec_text(ratio)
        self._price_s = dec_text(price)
        self._fill_s = dec_text(fill_price)
        self._slip_s = dec_text(slip)
        self._event = event_kind

    def _margin_fee(self, size: Decimal) -> tuple[Decimal, Decimal]:
        notional = size * self.unit_value
        return money_down(notional / self.lev_d), money_down(notional * self.taker)

    def _fits(self, size: Decimal, available: Decimal) -> bool:
        margin, fee = self._margin_fee(size)
        return margin + fee <= available

    def largest_fitting(self, available: Decimal) -> Decimal:
        """The largest lot multiple whose rounded margin + fee fits in ``available``.

        Rounding margin and fee down can let a few more lots fit than the exact cost allows (many
        more for a very cheap lot), so search between the exact bound and the bound widened by the
        two roundings; fitting is monotone in the size.
        """
        lot = self.lot
        if available <= 0:
            return ZERO * lot
        low = to_lot(available / self.unit_cost, lot)
        while low > 0 and not self._fits(low, available):
            low -= lot
        # rounded margin + fee > exact - 2e-8, so from here on nothing can fit
        high = to_lot((available + _TWO_ROUNDINGS) / self.unit_cost, lot) + lot
        while self._fits(high, available):  # only if a division rounded at 28 digits
            high += lot
        lo_steps, hi_steps = int(low / lot), int(high / lot)
        while hi_steps - lo_steps > 1:
            mid = (lo_steps + hi_steps) // 2
            if self._fits(mid * lot, available):
                lo_steps = mid
            else:
                hi_steps = mid
        return (lo_steps * lot).quantize(lot)

    def size(self, copy_id: int, equity: Decimal, available: Decimal) -> Intent:
        """Size one copy's open: an ``open`` intent or a ``miss`` with its reason."""
        target = self.ratio * equity
        exp = {
            "event": self._event,
            "ratio": self._ratio_s,
            "base": dec_text(equity),
            "available": dec_text(available),
            "price": self._price_s,
            "fill_price": self._fill_s,
            "slippage": self._slip_s,
            "leverage": self.leverage,
            "target_margin": dec_text(target),
            "raw_size": None,
            "rounded_size": None,
            "capped": False,
            "capped_size": None,
            "bumped": False,
            "bumped_to": None,
            "size": None,
            "margin": None,
            "fee": None,
            "reason": "",
        }
        if self.slippage_miss:
            return self._miss(copy_id, REASON_SLIPPAGE, exp)
        if target <= 0 or equity <= 0:
            return self._miss(copy_id, REASON_BELOW_MIN, exp)

        raw = target * self.per_target
        size = to_lot(raw, self.lot)
        exp["raw_size"] = dec_text(raw)
        exp["rounded_size"] = dec_text(size)
        margin, fee = self._margin_fee(size)
        if margin + fee > available:
            size = self.largest_fitting(available)
            margin, fee = self._margin_fee(size)
            exp["capped"] = True
            exp["capped_size"] = dec_text(size)
        if size < self.min_size:
            margin, fee = self.min_margin, self.min_fee
            if margin + fee > available:
                return self._miss(copy_id, REASON_INSUFFICIENT, exp)
            if margin > self.bump_cap * target:
                return self._miss(copy_id, REASON_BELOW_MIN, exp)
            size = self.min_size
            exp["bumped"] = True
            exp["bumped_to"] = dec_text(size)
        exp["size"] = dec_text(size)
        exp["margin"] = dec_text(margin)
        exp["fee"] = dec_text(fee)
        return Intent(
            copy_id=copy_id,
            action="open",
            size=size,
            price=self.price,
            margin=margin,
            fee=fee,
            leverage=self.leverage,
            side=self.side,
            margin_mode=self.margin_mode,
            explanation=exp,
        )

    def _miss(self, copy_id: int, reason: str, exp: dict) -> Intent:
        exp["reason"] = reason
        return Intent(
            copy_id=copy_id,
            action="miss",
            price=self.price,
            leverage=self.leverage,
            side=self.side,
            margin_mode=self.margin_mode,
            reason=reason,
            explanation=exp,
        )


def size_open(
    *,
    copy_id: int,
    ratio: Decimal,
    equity: Decimal,
    available: Decimal,
    price: Decimal,
    side: str,
    leverage: int,
    margin_mode: str,
    instrument: Instrument,
    policy: Policy,
    fill_price: Decimal | None = None,
    guard_slippage: bool = False,
) -> Intent:
    """Size one open for one copy (SPEC §5.2; spot instruments: §6, side long, 1x).

    For Copy Ongoing Positions / Buy Existing Assets at copy start: ``ratio`` = sub-position margin
    (or holding value) / lead equity now, and no slippage guard (the follower asked for market).
    """
    sizer = OpenSizer(
        ratio=ratio,
        price=price,
        side=side,
        leverage=leverage,
        margin_mode=margin_mode,
        instrument=instrument,
        policy=policy,
        fill_price=fill_price,
        guard_slippage=guard_slippage,
        event_kind="copy_start",
    )
    return sizer.size(copy_id, equity, available)
