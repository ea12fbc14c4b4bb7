from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask

from apps.market.feed import (
    FEED_TASK_NAME,
    feed_schedule_ensure,
    feed_tick,
    walk_next_price,
    walk_return_bp,
)
from apps.market.models import FeedState, Price, PriceTick
from apps.market.services import feed_state_reset
from apps.market.tasks import price_feed_tick
from tests.factories.market import instrument, priced

D = Decimal


def _walk(seed, steps, start=D("50000")):
    prices, price = [], start
    for step in range(1, steps + 1):
        price = walk_next_price(price=price, tick=D("0.1"), seed=seed, asset="BTC", step=step)
        prices.append(price)
    return prices


def test_walk_is_reproducible_and_depends_on_the_seed():
    assert _walk(42, 200) == _walk(42, 200)
    assert _walk(42, 200) != _walk(43, 200)


def test_walk_steps_are_small_and_centred():
    moves = [walk_return_bp(seed=42, asset="ETH", step=s) for s in range(1, 2001)]
    assert max(abs(m) for m in moves) <= 68  # at most 0.68% a step
    assert abs(sum(moves) / len(moves)) < 2  # no drift to speak of
    assert 10 < (sum(m * m for m in moves) / len(moves)) ** 0.5 < 30  # sd ~0.2%


def test_walk_prices_stay_positive_and_on_the_tick():
    price = D("0.05")
    for step in range(1, 500):
        price = walk_next_price(price=price, tick=D("0.01"), seed=7, asset="SOL", step=step)
        assert price >= D("0.01")
        assert price % D("0.01") == 0


@pytest.mark.django_db
def test_feed_tick_is_reproducible_across_runs_and_restarts():
    # given prices and a fresh walk
    priced("BTC-USDT-SWAP", "50000")
    priced("ETH-USDT-SWAP", "3000")

    def run(steps):
        out = []
        for _ in range(steps):
            feed_tick(seed=42)
            out.append(dict(Price.objects.values_list("instrument__name", "price")))
        return out

    first = run(5)
    # when the same walk is replayed from the same start
    feed_state_reset()
    priced("BTC-USDT-SWAP", "50000")
    priced("ETH-USDT-SWAP", "3000")
    again = run(3)
    # a "restart" keeps its state in the database and continues the same sequence
    again += run(2)
    assert again == first
    assert all(p > 0 for snapshot in first for p in snapshot.values())
    assert first[0] != first[1]
    assert set(FeedState.objects.values_list("step", flat=True)) == {5}


@pytest.mark.django_db
def test_feed_moves_spot_and_swap_of_an_asset_together(django_capture_on_commit_callbacks):
    priced("BTC-USDT-SWAP", "50000")
    priced("BTC-USDT", "50000")
    instrument("SOL-USDT")  # no price: skipped, not invented
    from apps.market.hooks import price_listener

    calls = []
    with price_listener(calls.append), django_capture_on_commit_callbacks(execute=True):
        for _ in range(10):
            feed_tick(seed=1)
    prices = dict(Price.objects.values_list("instrument__name", "price"))
    assert prices["BTC-USDT-SWAP"] == prices["BTC-USDT"] != D("50000")
    assert "SOL-USDT" not in prices
    assert len(calls) == 10  # one hook call per step, for the whole batch
    assert PriceTick.objects.filter(source="simulated").count() == 20


@pytest.mark.django_db
def test_feed_task_is_a_noop_unless_simulated(settings):
    priced("BTC-USDT-SWAP", "50000")
    settings.PRICE_FEED = "off"
    assert price_feed_tick.delay().get() == 0
    settings.PRICE_FEED = "simulated"
    assert price_feed_tick.delay().get() == 1
    assert PriceTick.objects.filter(source="simulated").count() == 1


@pytest.mark.django_db
def test_feed_schedule_ensure_follows_settings(settings):
    settings.PRICE_FEED = "simulated"
    settings.PRICE_FEED_INTERVAL_S = 5
    task = feed_schedule_ensure()
    assert task.enabled and task.task == "apps.market.tasks.price_feed_tick"
    assert (task.interval.every, task.interval.period) == (5, "seconds")
    # an operator may edit it; a later ensure (settings changed) updates the same row
    settings.PRICE_FEED = "off"
    settings.PRICE_FEED_INTERVAL_S = 10
    task = feed_schedule_ensure()
    assert PeriodicTask.objects.filter(name=FEED_TASK_NAME).count() == 1
    assert not task.enabled and task.interval.every == 10


@pytest.mark.django_db
def test_market_schedules_command(settings):
    from django.core.management import call_command

    settings.PRICE_FEED = "off"
    call_command("market_schedules")
    assert not PeriodicTask.objects.get(name=FEED_TASK_NAME).enabled
