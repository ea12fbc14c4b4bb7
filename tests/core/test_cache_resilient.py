"""Redis down: the shared cache answers from per-process memory (apps/core/cache.py), so sign-in
and the API's abuse limits keep working (they answered 500 while Redis was stopped), limits
still count (per process), and Redis is used again once it is back."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches
from django.test import override_settings

from apps.core import cache as resilient
from apps.core.cache import ResilientRedisCache
from tests.factories.accounts import PASSWORD, UserFactory

# Nothing listens on port 1: every connection is refused at once.
DEAD = "redis://127.0.0.1:1/0"
OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
DEAD_CACHES = {
    "default": {
        "BACKEND": "apps.core.cache.ResilientRedisCache",
        "LOCATION": DEAD,
        "OPTIONS": OPTIONS,
    }
}


def test_calls_fall_back_to_memory_and_the_outage_is_logged_once(caplog):
    cache = ResilientRedisCache(DEAD, {"OPTIONS": OPTIONS})
    with caplog.at_level(logging.WARNING, logger="apps.core.cache"):
        assert cache.get("k") is None
        assert cache.add("k", 1, timeout=60) is True
        assert cache.incr("k", 2) == 3
        with pytest.raises(ValueError):  # same semantics as Redis: no such key
            cache.incr("missing")
        assert cache.get_or_set("g", 7) == 7
    warnings = [r for r in caplog.records if "Redis cache unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_redis_is_not_tried_again_until_the_retry_time(monkeypatch):
    cache = ResilientRedisCache(DEAD, {"OPTIONS": OPTIONS})
    tries = []
    real_get = resilient.RedisCache.get

    def counting_get(self, *args, **kwargs):
        tries.append(1)
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(resilient.RedisCache, "get", counting_get)
    monkeypatch.setattr(ResilientRedisCache, "get", resilient._resilient("get"))
    for _ in range(5):
        cache.get("k")
    assert len(tries) == 1  # the first call failed; the next four went to memory
    cache._down_until = 0.0  # the retry time has passed
    cache.get("k")
    assert len(tries) == 2


def test_back_on_redis_once_it_answers(redis_url):
    cache = ResilientRedisCache(redis_url, {"OPTIONS": OPTIONS, "KEY_PREFIX": "resilient-test"})
    cache._down_until = 0.0
    cache.set("shared", "from redis", timeout=30)
    other_process = ResilientRedisCache(
        redis_url, {"OPTIONS": OPTIONS, "KEY_PREFIX": "resilient-test"}
    )
    assert other_process.get("shared") == "from redis"  # really in Redis, not in memory
    cache.delete("shared")


@pytest.mark.django_db
@override_settings(CACHES=DEAD_CACHES)
def test_sign_in_and_the_token_limit_keep_working_with_redis_down(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token_account": "10/15m",  # the production rate
        },
    }
    caches["default"].clear()
    user = UserFactory(email="owner@example.com")
    # the web login answers (no 500) and signs the owner in
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    # the API: a wrong password is a 400, and the per-account limit (10 failures) still counts
    for _ in range(10):
        wrong = client.post(
            "/api/v1/auth/token/", {"email": user.email, "password": "wrong"}, REMOTE_ADDR="1.2.3.4"
        )
        assert wrong.status_code == 400
    refused = client.post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, REMOTE_ADDR="1.2.3.5"
    )
    assert refused.status_code == 429
