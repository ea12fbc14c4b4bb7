"""A real Celery worker on Redis consumes a task and writes to the PostgreSQL test database."""

from __future__ import annotations

import random
import time

import pytest

from tests.infra.worker import celery_not_eager, run_worker, unique_queue

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.django_db(transaction=True)
def test_heartbeat_runs_on_a_live_worker_and_touches_nothing_users_own(postgres, redis_url):
    from apps.core.models import Heartbeat
    from apps.core.tasks import heartbeat
    from apps.market.models import Price
    from tests.factories.market import instrument
    from tests.factories.trading import set_price

    # given a priced instrument (the old heartbeat overwrote the BTC price) and a worker on a
    # queue nobody else listens to
    instrument("BTC-USDT-SWAP")
    set_price("BTC-USDT-SWAP", "50000")
    prices_before = list(Price.objects.values_list("instrument_id", "price", "updated_at"))
    token = f"live-{random.randint(10_000, 99_999)}"
    queue = unique_queue("heartbeat")

    with run_worker([queue]) as worker, celery_not_eager():
        # when the heartbeat is sent through the broker
        heartbeat.apply_async(args=[token], queue=queue)

        # then the worker writes it to PostgreSQL within the time limit
        deadline = time.monotonic() + 30
        beat = None
        while time.monotonic() < deadline:
            beat = Heartbeat.objects.filter(token=token).first()
            if beat is not None:
                break
            assert worker.poll() is None, "the worker died"
            time.sleep(0.25)
        assert beat is not None, f"the worker did not record heartbeat {token} within 30 s"
        assert beat.worker  # the worker's host name
    # and no price (nor anything else a user owns) moved
    assert list(Price.objects.values_list("instrument_id", "price", "updated_at")) == prices_before
