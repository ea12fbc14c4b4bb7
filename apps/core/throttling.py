"""Abuse limits of the anonymous API endpoints, counted in the shared cache.

Invariants:
- Counts live in Django's ``default`` cache, which settings make shared by every process (Redis
  when CACHE_URL or CELERY_BROKER_URL names one, the database cache otherwise): N server
  processes enforce one limit, never N limits.
- A limit is "at most N in any P seconds", approximated by a sliding-window counter: the count
  of the current fixed window (an atomic ``incr`` on Redis) plus the previous window's count
  weighted by how much of it still lies within the last P seconds. Cache keys hold a hash of the
  identity (IP or e-mail), never the identity itself.
- A refused request takes its hit back, changes nothing else and answers 429
  ``{detail, code: "throttled", fields: {}}`` with ``Retry-After`` (whole seconds, >= 1): the
  time after which one more request is allowed if nothing else arrives.
- Rates are read at request time from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] as "N/P" with
  P = [count](s|m|h|d), e.g. "30/m" or "10/15m"; a missing or None rate switches the limit off.
- Scopes: ``register``, ``token`` and ``simulate`` (the copy simulator, API and profile page:
  a cold replay costs up to a second of a server process) count every request per client IP;
  ``token_account``
  counts failed token requests per normalised e-mail (``failed_attempts_limited``): a request
  that succeeds gives its slot back, so only wrong guesses use the allowance.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache as default_cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD = re.compile(r"(\d*)\s*([smhd])[a-z]*")


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"10/15m"`` -> ``(10, 900)``: at most 10 in any 900 seconds. None: no limit."""
    if rate is None:
        return None
    try:
        amount, period = rate.split("/")
        match = _PERIOD.fullmatch(period.strip().lower())
        count = int(match.group(1) or 1) if match else 0
        if int(amount) < 1 or count < 1:
            raise ValueError(rate)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"Throttle rate {rate!r}: expected 'N/P' with N >= 1 and P like s, m, 15m, h, d."
        ) from exc
    return int(amount), count * _UNITS[match.group(2)]


def rate_for(scope: str) -> tuple[int, int] | None:
    rates = api_settings.DEFAULT_THROTTLE_RATES
    if scope not in rates:  # a typo must not switch a limit off: say so
        raise ImproperlyConfigured(f"No throttle rate for scope {scope!r} (None turns it off).")
    return parse_rate(rates[scope])


@dataclass(frozen=True)
class Limit:
    """At most ``amount`` hits per ``duration`` seconds for one (scope, identity)."""

    scope: str
    ident: str
    amount: int
    duration: int

    def _key(self, window: int) -> str:
        digest = hashlib.sha256(self.ident.encode()).hexdigest()[:40]
        return f"throttle:{self.scope}:{digest}:{window}"

    def _position(self, now: float) -> tuple[int, float]:
        """The current window's number and the fraction of it that has elapsed."""
        window, elapsed = divmod(now, self.duration)
        return int(window), elapsed / self.duration

    def hit(self, now: float | None = None, *, cache=None) -> float | None:
        """Count one hit. None when allowed; else the seconds to wait (the hit is not kept)."""
        cache = cache or default_cache
        now = time.time() if now is None else now
        window, fraction = self._position(now)
        key = self._key(window)
        previous = cache.get(self._key(window - 1), 0)
        cache.add(key, 0, timeout=self._ttl)
        current = self._bump(cache, key, 1)
        if previous * (1 - fraction) + current <= self.amount:
            return None
        self._bump(cache, key, -1)
        return self._wait(previous, current - 1, fraction)

    def refund(self, now: float, *, cache=None) -> None:
        """Give back a hit counted at ``now`` (when its window is still kept)."""
        self._bump(cache or default_cache, self._key(self._position(now)[0]), -1)

    @property
    def _ttl(self) -> int:
        return 2 * self.duration  # a window is read again as the next one's "previous"

    def _bump(self, cache, key: str, delta: int) -> int:
        """Atomic on Redis (INCRBY). The database cache's incr resets the TTL to its default,
        so the timeout is set again after it."""
        try:
            value = cache.incr(key, delta)
        except ValueError:  # expired since: a new count, or nothing to give back
            if delta < 0:
                return 0
            cache.add(key, delta, timeout=self._ttl)
            return delta
        cache.touch(key, timeout=self._ttl)
        return value

    def _wait(self, previous: int, current: int, fraction: float) -> float:
        """Seconds until ``previous * (1 - f) + current + 1 <= amount`` with no new hits."""
        room = self.amount - 1
        if current <= room and previous > 0:  # later in this window
            later = 1 - fraction - (room - current) / previous
        else:  # in the next window, once the current one has faded enough
            later = (1 - fraction) + (1 - room / current)
        return max(1, math.ceil(round(later * self.duration, 6)))  # 24.000000000004 is 24


def limit_for(scope: str, ident: str) -> Limit | None:
    rate = rate_for(scope)
    return None if rate is None else Limit(scope, ident, *rate)


class _Throttled(Throttled):
    def __init__(self, wait: float, detail: str | None = None):
        super().__init__(wait=math.ceil(wait), detail=detail)


class IpRateThrottle(BaseThrottle):
    """Every request of a client IP counts (``scope`` on the subclass). DRF's ``get_ident``
    honours REST_FRAMEWORK["NUM_PROXIES"] (settings: TRUSTED_PROXY_COUNT, 0 = REMOTE_ADDR)."""

    scope: str = ""

    def allow_request(self, request, view) -> bool:
        limit = limit_for(self.scope, self.get_ident(request) or "")
        self._wait = None if limit is None else limit.hit()
        return self._wait is None

    def wait(self) -> float | None:
        return None if self._wait is None else math.ceil(self._wait)


class RegisterThrottle(IpRateThrottle):
    scope = "register"


class TokenThrottle(IpRateThrottle):
    scope = "token"


class SimulateThrottle(IpRateThrottle):
    scope = "simulate"


@contextmanager
def failed_attempts_limited(*, scope: str, ident: str, message: str) -> Iterator[None]:
    """Run the block only while ``ident`` has failures left in ``scope``; a block that raises
    keeps its hit (a failure), one that returns gives it back. Raises 429 when none are left."""
    limit = limit_for(scope, ident)
    if limit is None:
        yield
        return
    now = time.time()
    wait = limit.hit(now)
    if wait is not None:
        raise _Throttled(wait, detail=message)
    yield
    limit.refund(now)
