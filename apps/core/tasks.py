"""Diagnostic Celery tasks.

``heartbeat`` exists for the live-worker test (tests/infra/test_live_worker.py) and for operator
smoke checks: it proves that a real worker consumed a message and wrote to the database, by
setting the BTC-USDT-SWAP price to the number it was given. Nothing in the product calls it.
"""

from __future__ import annotations

from decimal import Decimal

from celery import shared_task


@shared_task(name="apps.core.tasks.heartbeat", soft_time_limit=30, time_limit=60)
def heartbeat(token: str) -> str:
    """Set the BTC-USDT-SWAP price to ``Decimal(token)``; the caller reads it back."""
    from apps.market.services import price_set

    price = price_set(instrument="BTC-USDT-SWAP", price=Decimal(token), source="operator")
    return str(price.price)
