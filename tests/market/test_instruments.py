import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from apps.core.exceptions import NotFound
from apps.market.models import Instrument
from apps.market.selectors import instrument_get, instrument_list
from apps.market.services import instruments_ensure
from apps.market.specs import INSTRUMENT_SPECS

D = Decimal

# SPEC §4, written out once more by hand so a typo in the code cannot agree with itself.
EXPECTED = {
    # name: (kind, base, contract_value, lot, min, max_lev, mmr, taker)
    "BTC-USDT-SWAP": (
        "perpetual",
        "BTC",
        D("0.01"),
        D("0.01"),
        D("0.01"),
        100,
        D("0.004"),
        D("0.0005"),
    ),
    "ETH-USDT-SWAP": (
        "perpetual",
        "ETH",
        D("0.1"),
        D("0.01"),
        D("0.01"),
        100,
        D("0.004"),
        D("0.0005"),
    ),
    "SOL-USDT-SWAP": ("perpetual", "SOL", D("1"), D("0.01"), D("0.01"), 50, D("0.01"), D("0.0005")),
    "BTC-USDT": ("spot", "BTC", D("1"), D("0.00000001"), D("0.00001"), None, None, D("0.001")),
    "ETH-USDT": ("spot", "ETH", D("1"), D("0.00000001"), D("0.0001"), None, None, D("0.001")),
    "SOL-USDT": ("spot", "SOL", D("1"), D("0.00000001"), D("0.001"), None, None, D("0.001")),
}


def _specs_in_db():
    return {
        i.name: (
            i.kind,
            i.base_asset,
            i.contract_value,
            i.lot_size,
            i.min_size,
            i.max_leverage,
            i.mmr,
            i.taker_fee,
        )
        for i in Instrument.objects.all()
    }


def _seed_migration():
    return importlib.import_module("apps.market.migrations.0002_seed_instruments")


@pytest.mark.django_db
def test_seed_migration_creates_the_six_spec_instruments_exactly():
    # given the test database was migrated (a transactional test elsewhere may have flushed it, so
    # the migration's own function is run again: it is idempotent)
    _seed_migration().seed(django_apps, None)
    # then the instruments are exactly those of SPEC §4
    assert _specs_in_db() == EXPECTED
    assert set(Instrument.objects.values_list("quote_asset", flat=True)) == {"USDT"}
    assert all(Instrument.objects.values_list("active", flat=True))


@pytest.mark.django_db
def test_seed_migration_is_idempotent():
    _seed_migration().seed(django_apps, None)
    _seed_migration().seed(django_apps, None)
    assert Instrument.objects.count() == 6


def test_specs_module_matches_the_frozen_migration_table():
    migration = _seed_migration()
    frozen = {
        row[0]: dict(zip(migration.FIELDS, row, strict=True)) for row in migration.INSTRUMENTS
    }
    live = {spec["name"]: {f: spec[f] for f in migration.FIELDS} for spec in INSTRUMENT_SPECS}
    assert frozen == live


@pytest.mark.django_db
def test_instruments_ensure_recreates_after_a_flush():
    # given the tables were emptied (what a transaction=True test does)
    Instrument.objects.all().delete()
    # when
    instruments_ensure()
    # then
    assert _specs_in_db() == EXPECTED


@pytest.mark.django_db
def test_instrument_get_ignores_case_and_spaces():
    instruments_ensure()
    assert instrument_get(" btc-usdt-swap ").name == "BTC-USDT-SWAP"


@pytest.mark.django_db
def test_instrument_get_unknown_name_is_not_found_with_a_clear_message():
    instruments_ensure()
    with pytest.raises(NotFound) as exc:
        instrument_get("DOGE-USDT")
    assert "Unknown instrument 'DOGE-USDT'" in exc.value.message
    assert "BTC-USDT-SWAP" in exc.value.message
    assert exc.value.fields == {"instrument": "Unknown instrument 'DOGE-USDT'."}


@pytest.mark.django_db
def test_instrument_list_filters_by_kind():
    instruments_ensure()
    assert [i.name for i in instrument_list("spot")] == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
    assert len(instrument_list("perpetual")) == 3
    assert len(instrument_list()) == 6
