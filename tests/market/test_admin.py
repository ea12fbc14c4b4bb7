from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from apps.market.hooks import price_listener
from apps.market.models import Price, PriceTick
from tests.factories.market import priced

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = get_user_model().objects.create_user(
        email="root@example.com", password="x", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_changing_a_price_in_the_admin_goes_through_price_set(
    admin_client_, django_capture_on_commit_callbacks
):
    btc = priced("BTC-USDT-SWAP", "50000")
    row = Price.objects.get(instrument=btc)
    calls = []
    with price_listener(calls.append), django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            f"/admin/market/price/{row.pk}/change/", {"price": "51000", "funding_rate": "0.0001"}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Price.objects.get(pk=row.pk).price == D("51000")
    assert PriceTick.objects.filter(instrument=btc).count() == 2
    assert calls == [[btc.pk]]


def test_admin_refuses_a_bad_price_with_a_form_error(admin_client_):
    btc = priced("BTC-USDT-SWAP", "50000")
    row = Price.objects.get(instrument=btc)
    response = admin_client_.post(
        f"/admin/market/price/{row.pk}/change/", {"price": "-1", "funding_rate": "0.0001"}
    )
    assert response.status_code == 200
    assert "Must be greater than 0." in response.content.decode()
    assert Price.objects.get(pk=row.pk).price == D("50000")


def test_admin_pages_render(admin_client_):
    priced("BTC-USDT-SWAP", "50000")
    for url in (
        "/admin/market/instrument/",
        "/admin/market/price/",
        "/admin/market/pricetick/",
        "/admin/market/price/add/",
    ):
        assert admin_client_.get(url).status_code == 200, url
    assert admin_client_.get("/admin/market/pricetick/add/").status_code == 403


@pytest.mark.parametrize("model", ["instrument", "price"])
def test_instruments_and_prices_cannot_be_deleted_from_the_admin(admin_client, model):
    from apps.market.models import Instrument, Price
    from tests.factories.trading import set_price

    set_price("BTC-USDT-SWAP", "50000")
    obj = {"instrument": Instrument, "price": Price}[model].objects.first()
    r = admin_client.get(f"/admin/market/{model}/{obj.pk}/delete/")
    assert r.status_code == 403
    changelist = admin_client.get(f"/admin/market/{model}/")
    assert b'value="delete_selected"' not in changelist.content
