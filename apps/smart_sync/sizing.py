"""Sizing an open (SPEC §5.2) and a spot buy (SPEC §6), one copy at a time.

Invariants (tested in tests/smart_sync):
- An ``open`` intent's size is a multiple of the lot size and >= the minimum size.
- An ``open`` intent's ``margin + fee <= available`` of the copy, with the rounded figures that the
  shell will actually move (margin and fee are both rounded DOWN to 8 places).
- Decisions run in the order of §5.2: slippage guard, available cap, minimum-size bump.
- Sizes are exact: an open that neither the cap nor the bump touched has exactly
  ``floor_to_lot(lead margin x copy equity x leverage / (lead equity before x price x contract
  value))`` contracts, computed as one exact quotient (tests/smart_sync/test_exact.py checks it
  against an independent ``Fraction`` computation).
- Spot is sized as a 1x position with a contract value of 1 base unit: the "margin" of a spot buy
  is the USDT spent (cost) and the fee is paid on top of it.

``OpenSizer`` is built once per lead event (every value that does not depend on the copy is
precomputed there); ``OpenSizer.size`` is the lean per-copy step the planner calls 10,000 times.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .rounding import dec_text, exact
from .types import (
    REASON_BELOW_MIN,
    REASON_INSUFFICIENT,
    REASON_SLIPPAGE,
    Instrument,
    Intent,
    Policy,
)

ONE = Decimal(1)
_UNITS = 10**8  # money is counted in integer units of 0.00000001 USDT here


class OpenSizer:
    """Per-event constants for sizing opens; call :meth:`size` per copy.

    Every figure is exact: the lead's ratio is a ``Fraction`` (lead margin / lead equity before),
    a copy's size is ``floor(copy equity x K)`` lots with the integer ratio K = ratio x leverage /
    (price x contract value x lot), and margin and fee are counted in integer units of 1e-8 USDT,
    each floored once. No Decimal division happens anywhere on the way to a size.
    """

    __slots__ = (
        "ratio",
        "price",
        "side",
        "leverage",
        "margin_mode",
        "lot",
        "min_size",
        "min_steps",
        "bump_cap",
        "slippage_miss",
        "_k",
        "_margin_per_step",
        "_fee_per_step",
        "_cost_per_step",
        "_raw_per_equity",
        "_ratio_s",
        "_price_s",
        "_fill_s",
        "_slip_s",
        "_event",
    )

    def __init__(
        self,
        *,
        ratio: Fraction | Decimal,
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
        self.ratio = exact(ratio)
        self.price = price
        self.side = side
        self.leverage = leverage
        self.margin_mode = margin_mode
        self.lot = instrument.lot_size
        self.min_size = instrument.min_size
        self.bump_cap = exact(policy.bump_cap)
        unit_value = exact(price) if spot else exact(instrument.contract_value) * exact(price)
        lot = exact(self.lot)
        min_steps = exact(self.min_size) / lot
        self.min_steps = (
            min_steps.numerator // min_steps.denominator
            + (1 if min_steps.denominator != 1 else 0)  # a minimum off the lot grid: round up
        )
        # lots per USDT of copy equity; USDT units (1e-8) of margin and fee per lot
        self._raw_per_equity = self.ratio * leverage / unit_value
        self._k = self._raw_per_equity / lot
        self._margin_per_step = lot * unit_value / leverage * _UNITS
        self._fee_per_step = lot * unit_value * exact(instrument.taker_fee) * _UNITS
        self._cost_per_step = self._margin_per_step + self._fee_per_step

        self.slippage_miss = False
        slip: Fraction | None = None
        if fill_price is not None and fill_price > 0:
            slip = (exact(price) - exact(fill_price)) / exact(fill_price)
            if guard_slippage:
                tol = exact(policy.slippage_tolerance)
                if side == "long":
                    self.slippage_miss = slip > tol
                else:
                    self.slippage_miss = slip < -tol
        self._ratio_s = dec_text(self.ratio)
        self._price_s = dec_text(price)
        self._fill_s = dec_text(fill_price)
        self._slip_s = dec_text(slip)
        self._event = event_kind

    # --- exact money of a size given in lots ------------------------------------------------
    def _margin_units(self, steps: int) -> int:
        m = self._margin_per_step
        return steps * m.numerator // m.denominator

    def _fee_units(self, steps: int) -> int:
        f = self._fee_per_step
        return steps * f.numerator // f.denominator

    def _fits(self, steps: int, available_units: int) -> bool:
        return self._margin_units(steps) + self._fee_units(steps) <= available_units

    def largest_fitting(self, available_units: int) -> int:
        """The most lots whose floored margin + fee fit in ``available_units`` (1e-8 USDT).

        ``floor(s*m) + floor(s*f) <= s*(m+f)``, so every s <= available / (m+f) fits; and
        ``floor(s*m) + floor(s*f) > s*(m+f) - 2``, so no s > (available + 2) / (m+f) fits.
        Fitting is monotone in s: a binary search between the two bounds is exact."""
        if available_units <= 0:
            return 0
        c = self._cost_per_step
        lo = available_units * c.denominator // c.numerator
        hi = (available_units + 2) * c.denominator // c.numerator + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._fits(mid, available_units):
                lo = mid
            else:
                hi = mid
        return lo

    def _size_of(self, steps: int) -> Decimal:
        return (Decimal(steps) * self.lot).quantize(self.lot)

    def size(self, copy_id: int, equity: Decimal, available: Decimal) -> Intent:
        """Size one copy's open: an ``open`` intent or a ``miss`` with its reason."""
        eq = exact(equity)
        target = self.ratio * eq
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

        k = self._k
        steps = eq.numerator * k.numerator // (eq.denominator * k.denominator)
        exp["raw_size"] = dec_text(self._raw_per_equity * eq)
        exp["rounded_size"] = dec_text(self._size_of(steps))
        av = exact(available)
        available_units = av.numerator * _UNITS // av.denominator if av > 0 else 0
        if not self._fits(steps, available_units):
            steps = self.largest_fitting(available_units)
            exp["capped"] = True
            exp["capped_size"] = dec_text(self._size_of(steps))
        if steps < self.min_steps:
            steps = self.min_steps
            margin_units = self._margin_units(steps)
            if margin_units + self._fee_units(steps) > available_units:
                return self._miss(copy_id, REASON_INSUFFICIENT, exp)
            if Fraction(margin_units, _UNITS) > self.bump_cap * target:
                return self._miss(copy_id, REASON_BELOW_MIN, exp)
            exp["bumped"] = True
            exp["bumped_to"] = dec_text(self._size_of(steps))
        size = self._size_of(steps)
        margin = Decimal(self._margin_units(steps)).scaleb(-8)
        fee = Decimal(self._fee_units(steps)).scaleb(-8)
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
    ratio: Fraction | Decimal,
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
