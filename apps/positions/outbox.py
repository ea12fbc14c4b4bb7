"""Who hears about a new lead event. The positions app records events; the copies app (which
decides how to mirror them) registers a listener from its AppConfig.ready(), so the import
arrow keeps pointing down. Listeners run after commit: a rolled-back trade notifies nobody,
and a lost notice is caught by the periodic sweeper because the event row is the outbox.

Listeners run with ``robust=True``: the trade is committed before they run, so nothing they do
(a broker that is down, a bug) may turn the trade's answer into an error. A client that saw a
500 would retry and trade twice; the sweeper re-dispatches whatever a failed listener missed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

_listeners: list[Callable[[int], None]] = []


def register_lead_event_listener(fn: Callable[[int], None]) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def lead_event_recorded(event_id: int) -> None:
    for fn in list(_listeners):
        transaction.on_commit(lambda fn=fn: fn(event_id), robust=True)
