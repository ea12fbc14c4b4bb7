"""PostgreSQL races: concurrent first prices, concurrent feed steps.

These are transactional tests: the flush at their end removes the seeded instruments, so every
market test recreates what it needs with instruments_ensure()/factories instead of relying on the
seed migration (serialized_rollback is not used: it conflicts with content types recreated by
other transactional tests' flushes).
"""

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from apps.market.feed import feed_tick
from apps.market.models import FeedState, Price, PriceTick
from apps.market.services import instruments_ensure, price_set
from tests.conftest import missing_service

D = Decimal
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _race(*targets):
    barrier = threading.Barrier(len(targets))
    errors = []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture(autouse=True)
def _pg():
    if connection.vendor != "postgresql":
        missing_service("PostgreSQL (set DATABASE_URL=postgres://...)")
    instruments_ensure()


def test_concurrent_first_prices_make_one_row_and_every_tick():
    errors = _race(
        *[
            lambda p=p: price_set(instrument="SOL-USDT", price=D(p))
            for p in ("10", "11", "12", "13")
        ]
    )
    assert errors == []
    assert Price.objects.filter(instrument__name="SOL-USDT").count() == 1
    assert PriceTick.objects.filter(instrument__name="SOL-USDT").count() == 4
    assert Price.objects.get(instrument__name="SOL-USDT").price in {D(10), D(11), D(12), D(13)}


def test_feed_steps_serialize_with_each_other():
    price_set(instrument="BTC-USDT-SWAP", price=D("50000"))
    errors = _race(*[lambda: feed_tick(seed=3) for _ in range(4)])
    assert errors == []
    # four steps, each from the previous committed price: no step computed twice
    assert FeedState.objects.get(instrument__name="BTC-USDT-SWAP").step == 4
    assert PriceTick.objects.filter(source="simulated").count() == 4
