"""The shared cache, kept answering when Redis is not.

Invariants:
- ``ResilientRedisCache`` is Django's ``RedisCache``. When a Redis call fails (connection
  refused, timeout: any ``redis.RedisError``), the same call is answered by a per-process
  in-memory cache instead, and Redis is not tried again for ``RETRY_AFTER_S`` seconds, so an
  outage costs one connect timeout, not one per cache call.
- What degrades: throttle and failed-login counts become per process (N server processes allow
  N times a limit) and cached figures are recomputed per process, for as long as Redis is
  down. What does not: nobody gets a 500 (sign-in, the API's abuse limits and the directory
  kept answering "500 Internal Server Error" while Redis was stopped), and no money path reads
  this cache.
- Each switch to and from the fallback is logged once (WARNING / INFO).
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis import RedisError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 10.0

_SYNC_METHODS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "decr",
    "set_many",
    "delete_many",
    "clear",
    "get_or_set",
)


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._fallback = LocMemCache(f"resilient-fallback-{id(self)}", {"OPTIONS": {}})
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _use_fallback(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            was_up = not self._use_fallback()
            self._down_until = time.monotonic() + RETRY_AFTER_S
        if was_up:
            log.warning(
                "Redis cache unavailable (%s): answering from per-process memory; "
                "retrying in %.0f s",
                exc,
                RETRY_AFTER_S,
            )

    def _recovered(self) -> None:
        if self._down_until:
            with self._lock:
                self._down_until = 0.0
            log.info("Redis cache available again")


def _resilient(name: str):
    primary = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        if self._use_fallback():
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            result = primary(self, *args, **kwargs)
        except RedisError as exc:
            self._failed(exc)
            return getattr(self._fallback, name)(*args, **kwargs)
        self._recovered()
        return result

    method.__name__ = name
    method.__doc__ = primary.__doc__
    return method


for _name in _SYNC_METHODS:
    setattr(ResilientRedisCache, _name, _resilient(_name))
