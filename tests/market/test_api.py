from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.market.models import Price, PriceTick
from apps.market.services import instruments_ensure, price_set

D = Decimal
pytestmark = pytest.mark.django_db
URL = "/api/v1/operator/prices/"


@pytest.fixture(autouse=True)
def _instruments():
    instruments_ensure()


@pytest.fixture
def staff_client(api_client):
    user = get_user_model().objects.create_user(
        email="ops@example.com", password="x", is_staff=True
    )
    api_client.force_authenticate(user)
    return api_client


def test_instruments_list_is_public_with_decimal_strings(api_client):
    response = api_client.get("/api/v1/instruments/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    btc = next(r for r in body["results"] if r["name"] == "BTC-USDT-SWAP")
    assert btc == {
        "name": "BTC-USDT-SWAP",
        "kind": "perpetual",
        "base_asset": "BTC",
        "quote_asset": "USDT",
        "contract_value": "0.01000000",
        "lot_size": "0.01000000",
        "min_size": "0.01000000",
        "max_leverage": 100,
        "mmr": "0.00400000",
        "taker_fee": "0.00050000",
        "tick_size": "0.10000000",
        "active": True,
    }
    spot = next(r for r in body["results"] if r["name"] == "SOL-USDT")
    assert (spot["kind"], spot["max_leverage"], spot["mmr"], spot["min_size"]) == (
        "spot",
        None,
        None,
        "0.00100000",
    )


def test_instruments_filter_by_kind(api_client):
    response = api_client.get("/api/v1/instruments/?kind=spot")
    assert [r["name"] for r in response.json()["results"]] == ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
    bad = api_client.get("/api/v1/instruments/?kind=options")
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]


def test_prices_list_is_public(api_client):
    price_set(instrument="BTC-USDT-SWAP", price=D("50000.5"))
    response = api_client.get("/api/v1/prices/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["instrument"] == "BTC-USDT-SWAP"
    assert row["price"] == "50000.50000000"
    assert row["funding_rate"] == "0.00010000"
    assert row["updated_at"]


def test_operator_sets_a_price_and_the_hook_fires(staff_client, django_capture_on_commit_callbacks):
    from apps.market.hooks import price_listener

    calls = []
    with price_listener(calls.append), django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            URL,
            {"instrument": "BTC-USDT-SWAP", "price": "40180.8137", "funding_rate": "0.0002"},
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["instrument"], body["price"], body["funding_rate"], body["source"]) == (
        "BTC-USDT-SWAP",
        "40180.81370000",
        "0.00020000",
        "operator",
    )
    assert len(calls) == 1
    assert PriceTick.objects.get().price == D("40180.8137")


def test_operator_price_accepts_numbers(staff_client):
    response = staff_client.post(URL, {"instrument": "eth-usdt", "price": 3000}, format="json")
    assert response.status_code == 200
    assert response.json()["price"] == "3000.00000000"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "DOGE-USDT", "price": "1"}, "instrument"),
        ({"instrument": "BTC-USDT-SWAP", "price": "0"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "-1"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "1.000000001"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "abc"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "NaN"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "Infinity"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": "1e40"}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": True}, "price"),
        ({"instrument": "BTC-USDT-SWAP", "price": ["1"]}, "price"),
        ({"instrument": "BTC-USDT-SWAP"}, "price"),
        ({"price": "1"}, "instrument"),
        ({"instrument": {"a": 1}, "price": "1"}, "instrument"),
        ({"instrument": "", "price": "1"}, "instrument"),
        ({"instrument": "BTC-USDT-SWAP", "price": "1", "funding_rate": "0.5"}, "funding_rate"),
        ({"instrument": "BTC-USDT-SWAP", "price": "1", "funding_rate": "x"}, "funding_rate"),
        ({"instrument": "BTC-USDT", "price": "1", "funding_rate": "0.0001"}, "funding_rate"),
    ],
)
def test_operator_price_bad_input_is_400_with_fields(staff_client, body, field):
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["detail"] and payload["code"]
    assert field in payload["fields"], payload
    assert not Price.objects.exists()


def test_operator_price_malformed_json_is_400(staff_client):
    response = staff_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_operator_price_refuses_non_staff(api_client):
    user = get_user_model().objects.create_user(email="u@example.com", password="x")
    api_client.force_authenticate(user)
    response = api_client.post(URL, {"instrument": "BTC-USDT-SWAP", "price": "1"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert not Price.objects.exists()


def test_operator_price_refuses_anonymous(api_client):
    response = api_client.post(URL, {"instrument": "BTC-USDT-SWAP", "price": "1"}, format="json")
    assert response.status_code in (401, 403)
    assert not Price.objects.exists()


def test_schema_documents_the_market_endpoints(api_client):
    response = api_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/operator/prices/" in paths
    assert "400" in paths["/api/v1/operator/prices/"]["post"]["responses"]
    assert "/api/v1/instruments/" in paths and "/api/v1/prices/" in paths
