"""A real Celery worker on Redis consumes a task and writes to the PostgreSQL test database."""

from __future__ import annotations

import random
import time
from decimal import Decimal

import pytest

from tests.infra.worker import celery_not_eager, run_worker, unique_queue

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.django_db(transaction=True)
def test_heartbeat_runs_on_a_live_worker_and_writes_the_price(postgres, redis_url):
    from apps.market.models import Price
    from apps.market.tasks import heartbeat
    from tests.factories.market import instrument

    # given the instrument (an earlier transactional test may have flushed the seeded one),
    instrument("BTC-USDT-SWAP")
    # a worker on a queue nobody else listens to, and a price no one else would set
    token = f"{random.randint(10_000, 99_999)}.{random.randint(0, 9)}"
    queue = unique_queue("heartbeat")

    with run_worker([queue]) as worker, celery_not_eager():
        # when the heartbeat is sent through the broker
        heartbeat.apply_async(args=[token], queue=queue)

        # then the worker writes it to PostgreSQL within the time limit
        deadline = time.monotonic() + 30
        price = None
        while time.monotonic() < deadline:
            price = Price.objects.filter(instrument__name="BTC-USDT-SWAP").first()
            if price is not None and price.price == Decimal(token):
                break
            assert worker.poll() is None, "the worker died"
            time.sleep(0.25)
        assert price is not None and price.price == Decimal(token), (
            f"the worker did not set BTC-USDT-SWAP to {token} within 30 s (got {price})"
        )
        assert price.source == "operator"
