"""Celery tasks of the market app (routed to the "prices" queue by CELERY_TASK_ROUTES).

Tasks only parse input and call a service. ``price_feed_tick`` is safe to redeliver (acks_late):
a duplicate advances the demo walk one extra step, which changes no money by itself.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from .feed import feed_tick

logger = logging.getLogger(__name__)


@shared_task(
    name="apps.market.tasks.price_feed_tick",
    acks_late=True,
    soft_time_limit=20,
    time_limit=30,
    ignore_result=True,
)
def price_feed_tick() -> int:
    """One step of the simulated feed; a no-op unless settings.PRICE_FEED == "simulated".
    Returns the number of prices written."""
    if settings.PRICE_FEED != "simulated":
        logger.debug("price_feed_tick skipped: PRICE_FEED=%s", settings.PRICE_FEED)
        return 0
    return len(feed_tick())


@shared_task(
    name="apps.market.tasks.candles_refresh",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
    ignore_result=True,
)
def candles_refresh() -> dict:
    """Aggregate ticks into 1-minute candles and prune the ticks past the retention that a candle
    holds (apps/market/candles.py). Idempotent: a redelivered or overlapping run writes nothing
    new and never deletes a tick that is not in a candle."""
    from .candles import candles_refresh as refresh

    result = refresh()
    logger.info(
        "candles refreshed: %s written, %s late ticks merged, %s ticks pruned",
        result.candles,
        result.merged,
        result.deleted,
    )
    return {"candles": result.candles, "merged": result.merged, "deleted": result.deleted}
