"""Market admin lists: prices and ticks cost a constant number of queries however many rows; an
existing instrument's name, kind, assets and contract value cannot be changed (open positions
are valued with them), its trading limits and fees can."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.market.models import Instrument
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import StaffFactory
from tests.factories.market import instrument

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_market_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(1, capture=capture)
    assert_constant_queries(
        operator,
        {
            "prices": "/admin/market/price/",
            "ticks": "/admin/market/pricetick/",
        },
        lambda: world_grow(3, capture=capture),
    )


def _form(inst: Instrument, **changes) -> dict:
    data = {
        "name": inst.name,
        "kind": inst.kind,
        "base_asset": inst.base_asset,
        "quote_asset": inst.quote_asset,
        "contract_value": inst.contract_value,
        "lot_size": inst.lot_size,
        "min_size": inst.min_size,
        "max_leverage": inst.max_leverage,
        "mmr": inst.mmr,
        "taker_fee": inst.taker_fee,
        "tick_size": inst.tick_size,
        "active": "on",
    }
    data.update(changes)
    return data


def test_an_instruments_identity_and_contract_value_are_read_only(operator):
    btc = instrument("BTC-USDT-SWAP")
    assert btc.contract_value == D("0.01") and btc.taker_fee == D("0.0005")
    page = operator.get(f"/admin/market/instrument/{btc.pk}/change/").content.decode()
    assert 'name="contract_value"' not in page and 'name="taker_fee"' in page
    # when an operator posts a new contract value and name along with a new fee
    r = operator.post(
        f"/admin/market/instrument/{btc.pk}/change/",
        _form(btc, name="XXX", contract_value="1", taker_fee="0.0004"),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    # then only the fee changed
    btc.refresh_from_db()
    assert (btc.name, btc.contract_value, btc.taker_fee) == (
        "BTC-USDT-SWAP",
        D("0.01"),
        D("0.0004"),
    )


def test_a_new_instrument_is_added_with_every_field(operator):
    r = operator.post(
        "/admin/market/instrument/add/",
        {
            "name": "DOGE-USDT-SWAP",
            "kind": "perpetual",
            "base_asset": "DOGE",
            "quote_asset": "USDT",
            "contract_value": "100",
            "lot_size": "1",
            "min_size": "1",
            "max_leverage": "20",
            "mmr": "0.01",
            "taker_fee": "0.0005",
            "tick_size": "0.00001",
            "active": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Instrument.objects.get(name="DOGE-USDT-SWAP").contract_value == D("100")
