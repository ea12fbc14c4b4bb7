"""Seed the six instruments of SPEC §4. Prices are NOT created here (seed_demo and tests set them).

The table is frozen in this file on purpose: apps/market/specs.py may evolve, a migration must not.
"""

from decimal import Decimal as D

from django.db import migrations

INSTRUMENTS = [
    # name, kind, base, contract_value, lot_size, min_size, max_leverage, mmr, taker_fee, tick_size
    ("BTC-USDT-SWAP", "perpetual", "BTC", D("0.01"), D("0.01"), D("0.01"), 100, D("0.004"), D("0.0005"), D("0.1")),
    ("ETH-USDT-SWAP", "perpetual", "ETH", D("0.1"), D("0.01"), D("0.01"), 100, D("0.004"), D("0.0005"), D("0.01")),
    ("SOL-USDT-SWAP", "perpetual", "SOL", D("1"), D("0.01"), D("0.01"), 50, D("0.01"), D("0.0005"), D("0.01")),
    ("BTC-USDT", "spot", "BTC", D("1"), D("0.00000001"), D("0.00001"), None, None, D("0.001"), D("0.1")),
    ("ETH-USDT", "spot", "ETH", D("1"), D("0.00000001"), D("0.0001"), None, None, D("0.001"), D("0.01")),
    ("SOL-USDT", "spot", "SOL", D("1"), D("0.00000001"), D("0.001"), None, None, D("0.001"), D("0.01")),
]
FIELDS = (
    "name", "kind", "base_asset", "contract_value", "lot_size", "min_size",
    "max_leverage", "mmr", "taker_fee", "tick_size",
)


def seed(apps, schema_editor):
    Instrument = apps.get_model("market", "Instrument")
    for row in INSTRUMENTS:
        values = dict(zip(FIELDS, row, strict=True))
        name = values.pop("name")
        Instrument.objects.update_or_create(
            name=name, defaults={**values, "quote_asset": "USDT", "active": True}
        )


def unseed(apps, schema_editor):
    Instrument = apps.get_model("market", "Instrument")
    Instrument.objects.filter(name__in=[row[0] for row in INSTRUMENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
