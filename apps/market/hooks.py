"""The one price-change hook: a tiny listener registry.

Higher-level apps (stop loss, liquidation, ...) register from their ``AppConfig.ready()``::

    from apps.market.hooks import register_price_listener
    register_price_listener(risk_check_on_price_change)

so that market never imports them (imports point down: copies/fees -> positions -> market).

Invariants:
- A listener is called with ``instrument_ids: list[int]`` (sorted, unique) AFTER the transaction that
  changed those prices commits (``transaction.on_commit``): a risk check must see the committed price,
  and a rolled-back price change must trigger nothing. Outside a transaction it runs at once.
- Each listener runs with ``robust=True``: one failing listener is logged and does not stop the
  others, nor turn a stored price into an error for the operator. Listeners are expected to be cheap
  (enqueue a task); the periodic sweeps catch up on anything a failed listener missed.
- Registering the same function twice is a no-op (``ready()`` may run more than once in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import transaction

logger = logging.getLogger(__name__)

PriceListener = Callable[[list[int]], None]

_listeners: list[PriceListener] = []


def register_price_listener(fn: PriceListener) -> PriceListener:
    """Add ``fn`` to the listeners; returns it so this works as a decorator too."""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def unregister_price_listener(fn: PriceListener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def price_listeners() -> tuple[PriceListener, ...]:
    return tuple(_listeners)


@contextmanager
def price_listener(fn: PriceListener) -> Iterator[PriceListener]:
    """Register ``fn`` for the duration of a ``with`` block (tests)."""
    register_price_listener(fn)
    try:
        yield fn
    finally:
        unregister_price_listener(fn)


def price_changed(instrument_ids: Iterable[int]) -> None:
    """Tell every listener, after commit, that these instruments have a new price."""
    ids = sorted({int(i) for i in instrument_ids})
    if not ids:
        return
    for fn in tuple(_listeners):
        # Bind fn and a copy of ids now: the registry or the list may change before commit.
        transaction.on_commit(lambda fn=fn, ids=list(ids): fn(ids), robust=True)
    logger.debug("price change queued for %d listener(s): %s", len(_listeners), ids)
