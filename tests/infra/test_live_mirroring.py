"""A lead's open travels the real path: outbox -> Redis -> a live worker process -> the
followers' positions committed in PostgreSQL, with the dispatcher cutting chunks that the
worker's processes share."""

import time
from decimal import Decimal

import pytest

from apps.copies.models import CopyEvent
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price
from tests.infra.worker import all_tasks_routed_to, celery_not_eager, run_worker, unique_queue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_lead_open_is_mirrored_by_a_live_worker(postgres, redis_url, settings):
    # given 12 copies and chunks of 5, so the dispatcher enqueues several chunk tasks
    settings.SMART_SYNC = {**settings.SMART_SYNC, "MIRROR_CHUNK_SIZE": 5}
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make()
    copies = [copy_make(lead, investment="1000") for _ in range(12)]
    queue = unique_queue("mirroring")
    env = {"SMART_SYNC_MIRROR_CHUNK_SIZE": "5"}
    with (
        run_worker([queue], pool="prefork", concurrency=2, env=env) as worker,
        celery_not_eager(),
        all_tasks_routed_to(queue),
    ):
        # when the lead opens (the outbox listener enqueues the dispatch after commit)
        lead_pos = lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )
        # then every follower's position is committed by the worker, exactly once
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if Position.objects.filter(lead_position=lead_pos).count() == len(copies):
                break
            assert worker.poll() is None, "the worker died"
            time.sleep(0.2)
        followers = Position.objects.filter(lead_position=lead_pos)
        assert followers.count() == len(copies)
    assert {p.size for p in followers} == {Decimal("1")}
    event = LeadEvent.objects.get(position=lead_pos, kind="open")
    assert CopyEvent.objects.filter(lead_event=event).count() == len(copies)
