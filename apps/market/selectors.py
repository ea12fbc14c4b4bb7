"""Reads of instruments and prices shared by pages, the API, mirroring and accounting.

Invariants:
- The one ``Price`` row of an instrument is both its last and its mark price (SPEC §4).
- Every selector here is a bounded number of queries, whatever the number of instruments.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TypedDict

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from apps.core.exceptions import ApplicationError, NotFound
from apps.core.money import exact, usdt_down

from .models import Instrument, Price, PriceTick


class PriceBoardRow(TypedDict):
    instrument: str
    instrument_id: int
    kind: str
    base_asset: str
    price: Decimal | None
    funding_rate: Decimal | None
    price_24h_ago: Decimal | None
    change: Decimal | None  # price - price_24h_ago
    change_pct: Decimal | None  # percent, 8 places
    updated_at: object


def instrument_list(kind: str | None = None, *, active_only: bool = False) -> QuerySet[Instrument]:
    qs = Instrument.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("kind", "name")


def instrument_get(name: str) -> Instrument:
    """The instrument called ``name`` (case and surrounding spaces ignored), or NotFound."""
    key = str(name).strip().upper()
    try:
        return Instrument.objects.get(name=key)
    except Instrument.DoesNotExist:
        known = ", ".join(Instrument.objects.order_by("name").values_list("name", flat=True))
        raise NotFound(
            f"Unknown instrument {str(name)!r}. Known instruments: {known or 'none'}.",
            code="unknown_instrument",
            fields={"instrument": f"Unknown instrument {str(name)!r}."},
        ) from None


def price_get(instrument: Instrument | str) -> Decimal:
    """The current (last = mark) price, or ApplicationError when none was ever set."""
    if isinstance(instrument, str):
        instrument = instrument_get(instrument)
    value = (
        Price.objects.filter(instrument_id=instrument.pk).values_list("price", flat=True).first()
    )
    if value is None:
        raise ApplicationError(
            f"No price yet for {instrument.name}.",
            code="no_price",
            fields={"instrument": f"No price yet for {instrument.name}."},
        )
    return value


def prices_by_instrument_id(ids) -> dict[int, Decimal]:
    """{instrument id: price} in one query; instruments without a price are absent."""
    ids = list(ids)
    if not ids:
        return {}
    return dict(Price.objects.filter(instrument_id__in=ids).values_list("instrument_id", "price"))


def price_list() -> QuerySet[Price]:
    return Price.objects.select_related("instrument").order_by(
        "instrument__kind", "instrument__name"
    )


def price_board(*, now=None) -> list[PriceBoardRow]:
    """Every active instrument with its price and the change against the last tick at or before
    24 h ago (None when history does not reach that far back). One query."""
    now = now or timezone.now()
    then = PriceTick.objects.filter(
        instrument_id=OuterRef("pk"), created_at__lte=now - timedelta(hours=24)
    ).order_by("-created_at", "-id")
    rows = (
        Instrument.objects.filter(active=True)
        .select_related("price")
        .annotate(price_24h_ago=Subquery(then.values("price")[:1]))
        .order_by("kind", "name")
    )
    board: list[PriceBoardRow] = []
    for inst in rows:
        current = getattr(inst, "price", None)  # reverse one-to-one: missing -> DoesNotExist
        price = current.price if current else None
        before = inst.price_24h_ago
        change = change_pct = None
        if price is not None and before:
            change = price - before
            change_pct = usdt_down(exact(change) * 100 / exact(before))
        board.append(
            PriceBoardRow(
                instrument=inst.name,
                instrument_id=inst.pk,
                kind=inst.kind,
                base_asset=inst.base_asset,
                price=price,
                funding_rate=current.funding_rate if current else None,
                price_24h_ago=before,
                change=change,
                change_pct=change_pct,
                updated_at=current.updated_at if current else None,
            )
        )
    return board
