from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.market.hooks import price_listener, register_price_listener, unregister_price_listener
from apps.market.models import Price, PriceTick
from apps.market.selectors import price_board, price_get, prices_by_instrument_id
from apps.market.services import funding_rate_set, price_set, prices_set_many
from tests.factories.market import instrument, priced

D = Decimal
pytestmark = pytest.mark.django_db


def test_price_set_upserts_one_price_and_appends_history():
    # given
    btc = instrument("BTC-USDT-SWAP")
    # when the price is set twice
    price_set(instrument=btc, price=D("50000"))
    row = price_set(instrument="BTC-USDT-SWAP", price=D("50100.12345678"), source="replay")
    # then one Price row holds the latest, the history holds both
    assert Price.objects.filter(instrument=btc).count() == 1
    assert row.price == D("50100.12345678") and row.source == "replay"
    assert row.funding_rate == D("0.0001")  # the SPEC default
    assert list(PriceTick.objects.filter(instrument=btc).values_list("price", "source")) == [
        (D("50100.12345678"), "replay"),
        (D("50000"), "operator"),
    ]


def test_price_set_fires_the_hook_after_commit(django_capture_on_commit_callbacks):
    btc = instrument("BTC-USDT-SWAP")
    calls = []
    with price_listener(calls.append):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            price_set(instrument=btc, price=D("50000"))
            # not before commit
            assert calls == []
        for callback in callbacks:
            callback()
    assert calls == [[btc.pk]]


def test_price_set_rolled_back_fires_nothing(django_capture_on_commit_callbacks):
    btc = instrument("BTC-USDT-SWAP")
    calls = []
    with (
        price_listener(calls.append),
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        price_set(instrument=btc, price=D("50000"))
        raise RuntimeError("rolled back")
    assert calls == []
    assert not Price.objects.filter(instrument=btc).exists()


def test_failing_listener_does_not_stop_others_nor_the_price(django_capture_on_commit_callbacks):
    btc = instrument("BTC-USDT-SWAP")
    calls = []

    def broken(ids):
        raise RuntimeError("risk check crashed")

    register_price_listener(broken)
    register_price_listener(calls.append)
    register_price_listener(calls.append)  # a second registration is ignored
    try:
        with django_capture_on_commit_callbacks(execute=True):
            price_set(instrument=btc, price=D("50000"))
    finally:
        unregister_price_listener(broken)
        unregister_price_listener(calls.append)
    assert calls == [[btc.pk]]
    assert price_get(btc) == D("50000")


def test_prices_set_many_is_one_hook_call_for_the_batch(django_capture_on_commit_callbacks):
    btc, eth = instrument("BTC-USDT-SWAP"), instrument("ETH-USDT")
    calls = []
    with price_listener(calls.append), django_capture_on_commit_callbacks(execute=True):
        rows = prices_set_many(prices={btc: D("50000"), "ETH-USDT": D("3000")}, source="simulated")
    assert len(rows) == 2
    assert calls == [sorted([btc.pk, eth.pk])]
    assert PriceTick.objects.filter(source="simulated").count() == 2


def test_prices_set_many_is_all_or_nothing():
    instrument("BTC-USDT-SWAP")
    with pytest.raises(ApplicationError) as exc:
        prices_set_many(
            prices={"BTC-USDT-SWAP": D("50000"), "ETH-USDT": D("-1")}, source="simulated"
        )
    assert exc.value.fields == {"prices.ETH-USDT": "Must be greater than 0."}
    assert not Price.objects.exists() and not PriceTick.objects.exists()


@pytest.mark.parametrize(
    ("price", "field_message"),
    [
        (D("0"), "Must be greater than 0."),
        (D("-5"), "Must be greater than 0."),
        (D("1.000000001"), "At most 8 decimal places."),
        ("abc", "Enter a number."),
        (1.5, "Enter a number."),  # floats are not money
        (D("1e30"), "Must be below 100000000000000000000."),
    ],
)
def test_price_set_refuses_bad_prices_with_fields(price, field_message):
    instrument("BTC-USDT-SWAP")
    with pytest.raises(ApplicationError) as exc:
        price_set(instrument="BTC-USDT-SWAP", price=price)
    assert exc.value.fields == {"price": field_message}
    assert not PriceTick.objects.exists()


def test_price_set_accepts_trailing_zeros_beyond_8_places():
    row = price_set(instrument=instrument("BTC-USDT-SWAP"), price=D("50000.0000000000"))
    assert row.price == D("50000")


def test_price_set_unknown_instrument_is_bad_input_naming_the_field():
    with pytest.raises(ApplicationError) as exc:
        price_set(instrument="NOPE-USDT", price=D("1"))
    assert exc.value.status_code == 400
    assert "instrument" in exc.value.fields


def test_price_set_with_funding_rate_and_its_bounds():
    btc = instrument("BTC-USDT-SWAP")
    assert price_set(instrument=btc, price=D("50000"), funding_rate=D("-0.03")).funding_rate == D(
        "-0.03"
    )
    with pytest.raises(ApplicationError) as exc:
        price_set(instrument=btc, price=D("50000"), funding_rate=D("0.0300001"))
    assert "funding_rate" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        price_set(instrument=instrument("BTC-USDT"), price=D("50000"), funding_rate=D("0.0001"))
    assert exc.value.fields == {"funding_rate": "Only perpetual swaps have a funding rate."}


def test_funding_rate_set_needs_a_price_and_changes_only_the_rate():
    btc = instrument("BTC-USDT-SWAP")
    with pytest.raises(ApplicationError) as exc:
        funding_rate_set(instrument=btc, rate=D("0.0002"))
    assert exc.value.code == "no_price"
    price_set(instrument=btc, price=D("50000"))
    row = funding_rate_set(instrument="BTC-USDT-SWAP", rate=D("0.0002"))
    assert (row.price, row.funding_rate) == (D("50000"), D("0.0002"))
    assert PriceTick.objects.count() == 1  # a rate is not a price tick
    with pytest.raises(ApplicationError):
        funding_rate_set(instrument=btc, rate=D("0.5"))


def test_price_get_without_a_price_is_a_clear_error():
    with pytest.raises(ApplicationError) as exc:
        price_get(instrument("SOL-USDT"))
    assert exc.value.message == "No price yet for SOL-USDT."


def test_prices_by_instrument_id_is_one_query(django_assert_num_queries):
    btc, eth = priced("BTC-USDT-SWAP", "50000"), priced("ETH-USDT-SWAP", "3000")
    sol = instrument("SOL-USDT")
    with django_assert_num_queries(1):
        result = prices_by_instrument_id([btc.pk, eth.pk, sol.pk])
    assert result == {btc.pk: D("50000"), eth.pk: D("3000")}
    assert prices_by_instrument_id([]) == {}


def test_price_board_change_against_24h_ago(django_assert_num_queries):
    now = timezone.now()
    btc = instrument("BTC-USDT-SWAP")
    instrument("ETH-USDT")
    price_set(instrument=btc, price=D("40000"), at=now - timedelta(hours=30))
    price_set(instrument=btc, price=D("48000"), at=now - timedelta(hours=25))
    price_set(instrument=btc, price=D("50000"), at=now - timedelta(hours=1))
    with django_assert_num_queries(1):
        board = {row["instrument"]: row for row in price_board(now=now)}
    assert board["BTC-USDT-SWAP"]["price"] == D("50000")
    assert board["BTC-USDT-SWAP"]["price_24h_ago"] == D("48000")
    assert board["BTC-USDT-SWAP"]["change"] == D("2000")
    assert board["BTC-USDT-SWAP"]["change_pct"] == D("4.16666666")
    # no price, no history: shown without numbers
    assert board["ETH-USDT"]["price"] is None and board["ETH-USDT"]["change"] is None
