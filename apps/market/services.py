"""Writes of the market app (prices, funding rates) and the internal venue (a pure calculation).

Invariants:
- One ``Price`` row per instrument, used as both last and mark price. Every change of it appends a
  ``PriceTick`` in the same transaction and calls the ONE price-change hook
  (``apps.market.hooks.price_changed``), whose listeners run after commit.
- A price is > 0 with at most 8 decimal places; a funding rate has |rate| <= 0.03 and at most 8
  places. Invalid input raises ApplicationError with ``fields`` and writes nothing.
- The venue writes nothing: ``venue_execute`` returns an ``Execution`` (fill price incl. simulated
  slippage, exact notional, fee rounded down). The positions app stores fills beside the positions
  they change, in its own transaction (docs/decisions/0003-market.md).
- Only apps.core.money rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError, NotFound
from apps.core.inputs import parse_decimal
from apps.core.money import exact, is_on_lot, to_decimal, usdt, usdt_down

from . import hooks
from .math import notional as _notional
from .models import FeedState, Instrument, Price, PriceTick
from .selectors import instrument_get, price_get
from .specs import INSTRUMENT_SPECS

MAX_FUNDING_RATE = Decimal("0.03")
# The largest value a PriceField can hold (28 digits, 8 of them decimals).
SIDES = ("buy", "sell")
SOURCES = frozenset(PriceTick.Source.values)


# --- validation (shared with the admin form) --------------------------------------------------


def _decimal_field(value: object, field: str, label: str) -> Decimal:
    return parse_decimal(value, field=field, label=label)


def price_validate(price: object, *, field: str = "price") -> Decimal:
    """A valid price as a Decimal normalised to 8 places, or ApplicationError naming ``field``."""
    value = _decimal_field(price, field, "Price")
    if value <= 0:
        raise ApplicationError(
            f"Price must be greater than 0, got {value}.", fields={field: "Must be greater than 0."}
        )
    return usdt(value)


def funding_rate_validate(rate: object, *, field: str = "funding_rate") -> Decimal:
    value = _decimal_field(rate, field, "Funding rate")
    if abs(value) > MAX_FUNDING_RATE:
        raise ApplicationError(
            f"Funding rate {value} is outside -{MAX_FUNDING_RATE}..{MAX_FUNDING_RATE} (per 8 h).",
            fields={field: f"Must be between -{MAX_FUNDING_RATE} and {MAX_FUNDING_RATE}."},
        )
    return usdt(value)


def _instrument_resolve(instrument: Instrument | str, *, field: str = "instrument") -> Instrument:
    """An Instrument from an instance or a name. An unknown name in a request body is bad input
    (400 naming the field), not a missing resource (404)."""
    if isinstance(instrument, Instrument):
        return instrument
    try:
        return instrument_get(instrument)
    except NotFound as exc:
        raise ApplicationError(
            exc.message, code=exc.code, fields={field: exc.fields["instrument"]}
        ) from None


def _source_validate(source: str) -> str:
    if source not in SOURCES:
        raise ApplicationError(
            f"Unknown price source {source!r}; one of {', '.join(sorted(SOURCES))}.",
            fields={"source": "Unknown source."},
        )
    return source


# --- prices -----------------------------------------------------------------------------------


def _price_write(
    *,
    instrument: Instrument,
    price: Decimal,
    source: str,
    funding_rate: Decimal | None,
    at: datetime,
) -> Price:
    defaults: dict = {"price": price, "source": source, "updated_at": at}
    if funding_rate is not None:
        defaults["funding_rate"] = funding_rate
    # update_or_create locks the existing row (SELECT ... FOR UPDATE) and retries a racing insert.
    row, _ = Price.objects.update_or_create(instrument=instrument, defaults=defaults)
    return row


def price_set(
    *,
    instrument: Instrument | str,
    price: Decimal,
    source: str = "operator",
    funding_rate: Decimal | None = None,
    at: datetime | None = None,
) -> Price:
    """Set the (last = mark) price of one instrument, record a tick, fire the price hook.

    Locks: the instrument's Price row (update_or_create). Not idempotent by design: setting the same
    price twice records two ticks and runs the risk checks twice, which is harmless.
    """
    inst = _instrument_resolve(instrument)
    value = price_validate(price)
    rate = None
    if funding_rate is not None:
        rate = funding_rate_validate(funding_rate)
        _funding_allowed(inst)
    _source_validate(source)
    at = at or timezone.now()
    with transaction.atomic():
        row = _price_write(instrument=inst, price=value, source=source, funding_rate=rate, at=at)
        PriceTick.objects.create(instrument=inst, price=value, source=source, created_at=at)
        hooks.price_changed([inst.pk])
    return row


def prices_set_many(
    *, prices: Mapping[str | Instrument, Decimal], source: str, at: datetime | None = None
) -> list[Price]:
    """Set several prices at once (the feed): all or nothing, one tick each, ONE hook call.

    Every input is validated before anything is written. Locks: the Price rows, in instrument id
    order, so two batches cannot deadlock each other.
    """
    _source_validate(source)
    resolved: dict[int, tuple[Instrument, Decimal]] = {}
    for key, value in prices.items():
        inst = _instrument_resolve(key)
        field = f"prices.{inst.name}"
        resolved[inst.pk] = (inst, price_validate(value, field=field))
    if not resolved:
        return []
    at = at or timezone.now()
    rows: list[Price] = []
    with transaction.atomic():
        for pk in sorted(resolved):
            inst, value = resolved[pk]
            rows.append(
                _price_write(instrument=inst, price=value, source=source, funding_rate=None, at=at)
            )
        PriceTick.objects.bulk_create(
            [
                PriceTick(instrument=inst, price=value, source=source, created_at=at)
                for inst, value in (resolved[pk] for pk in sorted(resolved))
            ]
        )
        hooks.price_changed(sorted(resolved))
    return rows


def _funding_allowed(instrument: Instrument) -> None:
    if not instrument.is_perpetual:
        raise ApplicationError(
            f"{instrument.name} is a spot instrument: it has no funding rate.",
            fields={"funding_rate": "Only perpetual swaps have a funding rate."},
        )


def funding_rate_set(*, instrument: Instrument | str, rate: Decimal) -> Price:
    """Set the funding rate (per 8 h) of a perpetual that already has a price.

    Does not fire the price hook: a rate changes nothing until the next funding settlement.
    Locks: the instrument's Price row.
    """
    inst = _instrument_resolve(instrument)
    value = funding_rate_validate(rate, field="rate")
    _funding_allowed(inst)
    with transaction.atomic():
        updated = Price.objects.filter(instrument=inst).update(funding_rate=value)
        if not updated:
            raise ApplicationError(
                f"No price yet for {inst.name}: set a price before its funding rate.",
                code="no_price",
                fields={"instrument": f"No price yet for {inst.name}."},
            )
        return Price.objects.get(instrument=inst)


def instruments_ensure() -> list[Instrument]:
    """Create any SPEC §4 instrument that is missing (after a flush, on a fresh demo database).
    Existing rows are left alone: operators may have edited them in the admin."""
    out = []
    for spec in INSTRUMENT_SPECS:
        values = dict(spec)
        inst, _ = Instrument.objects.get_or_create(name=values.pop("name"), defaults=values)
        out.append(inst)
    return out


def feed_state_reset(*, instrument: Instrument | None = None) -> None:
    """Restart the simulated walk at step 0 (all instruments, or one)."""
    qs = (
        FeedState.objects.all()
        if instrument is None
        else FeedState.objects.filter(instrument=instrument)
    )
    qs.update(step=0)


# --- the internal venue: a pure calculation ----------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """A market-order fill on the internal venue. Nothing is stored by the venue."""

    instrument_id: int
    side: str  # "buy" | "sell"
    quantity: Decimal  # contracts (perpetual) or base units (spot)
    price: Decimal  # fill price, slippage included, 8 places
    notional: Decimal  # quantity x contract value x price, exact (not rounded)
    fee: Decimal  # usdt_down(notional x taker fee), USDT charged to the taker


def _side_validate(side: str) -> str:
    if side not in SIDES:
        raise ApplicationError(
            f"Side must be 'buy' or 'sell', got {side!r}.", fields={"side": "Must be buy or sell."}
        )
    return side


def venue_price(
    *, instrument: Instrument | str, side: str, reference: Decimal | None = None
) -> Decimal:
    """The price a taker gets: the current price (or ``reference``) moved against the taker by
    settings.VENUE_SLIPPAGE (a fraction, default 0): buy pays P x (1 + s), sell gets P x (1 - s).

    The result is cut to 8 places toward zero with the money helpers; with the default slippage 0
    it is exactly the reference price. A sell never gets a price <= 0 (slippage must be < 1).
    """
    inst = _instrument_resolve(instrument)
    _side_validate(side)
    base = price_get(inst) if reference is None else price_validate(reference)
    slippage = to_decimal(settings.VENUE_SLIPPAGE)
    if not (0 <= slippage < 1):
        raise ApplicationError(f"VENUE_SLIPPAGE must be in [0, 1), is {slippage}.")
    factor = 1 + slippage if side == "buy" else 1 - slippage
    return usdt(base * factor)


def taker_fee(*, instrument: Instrument | str, notional: Decimal) -> Decimal:
    """The taker fee on ``notional`` USDT, rounded DOWN to 8 places (a fee never rounds up)."""
    inst = _instrument_resolve(instrument)
    return usdt_down(exact(notional) * exact(inst.taker_fee))


def venue_execute(
    *,
    instrument: Instrument | str,
    side: str,
    quantity: Decimal,
    price: Decimal | None = None,
) -> Execution:
    """Fill a market order of ``quantity`` at the current price (or ``price`` as the reference),
    with simulated slippage and the taker fee. Writes nothing.

    Refuses (ApplicationError): a quantity <= 0 or off the instrument's lot grid, an unknown side,
    an instrument without a price. Minimum size is an opening rule applied by sizing, not here: a
    close of a fraction may legitimately be below it.
    """
    inst = _instrument_resolve(instrument)
    _side_validate(side)
    try:
        qty = to_decimal(quantity)
    except (TypeError, ValueError):
        raise ApplicationError(
            f"Quantity must be a decimal number, got {quantity!r}.",
            fields={"quantity": "Enter a decimal number."},
        ) from None
    if qty <= 0:
        raise ApplicationError(
            f"Quantity must be greater than 0, got {qty}.", fields={"quantity": "Must be > 0."}
        )
    if not is_on_lot(qty, inst.lot_size):
        raise ApplicationError(
            f"Quantity {qty} is not a multiple of the lot size {inst.lot_size.normalize()} "
            f"of {inst.name}.",
            code="off_lot",
            fields={"quantity": f"Must be a multiple of {inst.lot_size.normalize()}."},
        )
    fill = venue_price(instrument=inst, side=side, reference=price)
    value = _notional(qty, inst.contract_value, fill)
    return Execution(
        instrument_id=inst.pk,
        side=side,
        quantity=qty,
        price=fill,
        notional=value,
        fee=taker_fee(instrument=inst, notional=value),
    )
