"""The simulated price feed: a seeded, reproducible random walk for demos (SPEC §4).

Model (docs/decisions/0003-market.md):
- Each step multiplies the price by 1 + r, r in basis points drawn by a ``random.Random`` seeded
  with the string "PRICE_FEED_SEED:BASE_ASSET:step". r is the sum of four uniform integers in
  [-17, 17] bp: close to Gaussian with sigma ~0.2%, bounded at +-0.68% per step, and integer-only
  (no float ever touches a price, and the sequence is the same on every platform and Python build).
- Spot and swap of one asset (BTC-USDT and BTC-USDT-SWAP) use the SAME factor at the same step, so
  they move together like a real index and a basis never opens up by chance. To keep that true the
  step counter is per asset: every instrument of an asset is set to the asset's highest step + 1.
- The new price is rounded DOWN to the instrument's tick (money.to_lot) and never <= 0 (the floor is
  one tick).
- State lives in FeedState (the step) and in Price (the level), so a restarted worker continues
  where it stopped. Same seed + same starting prices + same steps -> the same sequence.
- Instruments without a price are skipped: the feed moves prices, it does not invent them
  (seed_demo, operators or replay set the first one).
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from apps.core.money import to_lot

from .models import FeedState, Instrument, Price
from .services import prices_set_many

FEED_TASK_NAME = "Simulated price feed"
FEED_TASK_PATH = "apps.market.tasks.price_feed_tick"
BP = Decimal("0.0001")
_DRAWS, _HALF_WIDTH = 4, 17  # sum of 4 x U{-17..17} bp: sd ~20 bp, max 68 bp


def walk_return_bp(*, seed: int, asset: str, step: int) -> int:
    """The step's move in basis points; a pure function of (seed, asset, step)."""
    rng = random.Random(f"{seed}:{asset}:{step}")  # str seeds hash with SHA-512: stable everywhere
    return sum(rng.randint(-_HALF_WIDTH, _HALF_WIDTH) for _ in range(_DRAWS))


def walk_next_price(*, price: Decimal, tick: Decimal, seed: int, asset: str, step: int) -> Decimal:
    factor = 1 + walk_return_bp(seed=seed, asset=asset, step=step) * BP
    return max(to_lot(price * factor, tick), tick)


def feed_tick(*, seed: int | None = None) -> list[Price]:
    """Advance every active priced instrument one step and store the prices (source "simulated").

    Locks: the Price rows then the FeedState rows, by instrument id, so an operator's concurrent
    price_set is never overwritten by a step computed from the older price. One hook call.
    """
    seed = settings.PRICE_FEED_SEED if seed is None else seed
    with transaction.atomic():
        prices = {
            p.instrument_id: p
            for p in Price.objects.select_for_update()
            .select_related("instrument")
            .filter(instrument__active=True)
            .order_by("instrument_id")
        }
        if not prices:
            return []
        for inst_id in prices:
            FeedState.objects.get_or_create(instrument_id=inst_id)
        states = {
            s.instrument_id: s
            for s in FeedState.objects.select_for_update()
            .filter(instrument_id__in=list(prices))
            .order_by("instrument_id")
        }
        by_asset: dict[str, list[int]] = {}
        for inst_id, row in prices.items():
            by_asset.setdefault(row.instrument.base_asset, []).append(inst_id)
        new_prices: dict[Instrument, Decimal] = {}
        for asset, ids in by_asset.items():
            step = max(states[i].step for i in ids) + 1
            for inst_id in ids:
                row = prices[inst_id]
                new_prices[row.instrument] = walk_next_price(
                    price=row.price,
                    tick=row.instrument.tick_size,
                    seed=seed,
                    asset=asset,
                    step=step,
                )
                states[inst_id].step = step
        FeedState.objects.bulk_update(list(states.values()), ["step"])
        return prices_set_many(prices=new_prices, source="simulated")


def feed_schedule_ensure():
    """Create or update the django-celery-beat task "Simulated price feed": every
    PRICE_FEED_INTERVAL_S seconds, enabled iff PRICE_FEED == "simulated". Operators see and edit it
    in the admin; running this again (seed, deploy) puts interval and enabled back to the settings.
    Ticks expire after one interval so a backlog from a stopped worker is dropped, not replayed.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = max(1, int(settings.PRICE_FEED_INTERVAL_S))
    with transaction.atomic():
        schedule = IntervalSchedule.objects.filter(
            every=every, period=IntervalSchedule.SECONDS
        ).first() or IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)
        task, _ = PeriodicTask.objects.update_or_create(
            name=FEED_TASK_NAME,
            defaults={
                "task": FEED_TASK_PATH,
                "interval": schedule,
                "crontab": None,
                "solar": None,
                "clocked": None,
                "enabled": settings.PRICE_FEED == "simulated",
                "expire_seconds": every,
                "queue": "prices",
                "description": "Random-walk demo prices (apps/market/feed.py). "
                "Enabled when PRICE_FEED=simulated.",
            },
        )
    return task
