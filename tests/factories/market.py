"""Market factories: the SPEC §4 instruments (get-or-create by name) and prices via price_set.

Instruments come from the seed migration, but a ``transaction=True`` test flushes every table, so
these helpers recreate them from apps.market.specs when missing instead of assuming they exist.
"""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from apps.market.models import Instrument, Price
from apps.market.specs import SPECS_BY_NAME


def instrument(name: str = "BTC-USDT-SWAP") -> Instrument:
    """The SPEC instrument called ``name``, created from its spec when a flush removed it."""
    values = dict(SPECS_BY_NAME[name])
    values.pop("name")
    inst, _ = Instrument.objects.get_or_create(name=name, defaults=values)
    return inst


def priced(name: str = "BTC-USDT-SWAP", price: Decimal | str = "50000", **kwargs) -> Instrument:
    """The instrument with its price set through price_set (tick recorded, hook fired)."""
    from apps.market.services import price_set

    inst = instrument(name)
    price_set(instrument=inst, price=Decimal(str(price)), **kwargs)
    return inst


class InstrumentFactory(factory.django.DjangoModelFactory):
    """A made-up instrument (for edge cases); use ``instrument(name)`` for the SPEC ones."""

    class Meta:
        model = Instrument
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"TST{n}-USDT-SWAP")
    kind = Instrument.Kind.PERPETUAL
    base_asset = factory.Sequence(lambda n: f"TST{n}")
    contract_value = Decimal("1")
    lot_size = Decimal("0.01")
    min_size = Decimal("0.01")
    max_leverage = 20
    mmr = Decimal("0.01")
    taker_fee = Decimal("0.0005")
    tick_size = Decimal("0.01")


class PriceFactory(factory.django.DjangoModelFactory):
    """A raw Price row WITHOUT tick or hook; prefer ``priced()`` unless that is the point."""

    class Meta:
        model = Price
        django_get_or_create = ("instrument",)

    instrument = factory.SubFactory(InstrumentFactory)
    price = Decimal("100")
    updated_at = factory.LazyFunction(timezone.now)
