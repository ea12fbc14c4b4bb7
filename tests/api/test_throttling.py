"""Abuse limits of auth/register/ and auth/token/ (apps/core/throttling.py, README "API").

- register and token have separate scopes, each per client IP;
- token is also limited per account (the normalised e-mail): failed attempts only, from any IP;
- a refused request answers 429 in the error shape with Retry-After and changes nothing;
- the counts live in the shared cache: two cache clients (two processes) see one count.

Rates are set per test in REST_FRAMEWORK; the expected numbers are the rates themselves and a
hand calculation of the sliding-window counter (``Limit``).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from apps.accounts.models import User
from apps.core.throttling import Limit, parse_rate
from tests.factories.accounts import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
ROOT = Path(__file__).resolve().parent.parent.parent
BIG = "10000/m"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rates(settings):
    def set_rates(**scopes):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "register": BIG,
                "token": BIG,
                "token_account": BIG,
                **scopes,
            },
        }

    return set_rates


def token(client, email, password, ip="198.51.100.1"):
    return client.post(TOKEN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def register(client, email, ip="198.51.100.1"):
    return client.post(
        REGISTER, {"email": email, "password": PASSWORD}, format="json", REMOTE_ADDR=ip
    )


def assert_throttled(response, *, at_most: int):
    assert response.status_code == 429, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "fields"}
    assert body["code"] == "throttled"
    assert body["fields"] == {}
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= at_most, retry_after
    return body


# --- per IP ---------------------------------------------------------------------------------
def test_token_is_limited_per_ip_and_other_ips_are_not_affected(api_client, rates):
    rates(token="3/m")
    UserFactory(email="owner@example.com")
    # three wrong passwords from one address are answered...
    codes = [token(api_client, f"u{i}@example.com", "wrong").status_code for i in range(3)]
    assert codes == [400, 400, 400]
    # ...the fourth (even for another account, even the right password) waits
    assert_throttled(token(api_client, "owner@example.com", PASSWORD), at_most=2 * 60)
    # another address is not limited by it
    assert token(api_client, "owner@example.com", PASSWORD, ip="198.51.100.2").status_code == 200


def test_a_forged_x_forwarded_for_does_not_dodge_the_ip_limit(api_client, rates):
    rates(token="2/m")
    for i in range(2):
        response = api_client.post(
            TOKEN,
            {"email": "a@example.com", "password": "x"},
            format="json",
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
        assert response.status_code == 400
    response = api_client.post(
        TOKEN,
        {"email": "a@example.com", "password": "x"},
        format="json",
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_FORWARDED_FOR="10.0.0.99",
    )
    assert_throttled(response, at_most=120)


def test_register_and_token_have_separate_limits(api_client, rates):
    rates(register="1/h", token="2/m")
    # given sign-up's allowance used up
    assert register(api_client, "first@example.com").status_code == 201
    assert_throttled(register(api_client, "second@example.com"), at_most=2 * 3600)
    # then the token endpoint still answers, and vice versa
    assert token(api_client, "first@example.com", PASSWORD).status_code == 200
    assert token(api_client, "first@example.com", PASSWORD).status_code == 200
    assert_throttled(token(api_client, "first@example.com", PASSWORD), at_most=120)
    # a refused sign-up created nobody
    assert list(User.objects.values_list("email", flat=True)) == ["first@example.com"]


# --- per account ----------------------------------------------------------------------------
def test_token_is_limited_per_account_across_ips(api_client, rates):
    rates(token_account="3/15m")
    UserFactory(email="victim@example.com")
    other = UserFactory(email="bystander@example.com")
    # three failures for one account, from three addresses, in any spelling of the e-mail
    for n, email in enumerate(["victim@example.com", " Victim@Example.COM", "VICTIM@example.com"]):
        assert token(api_client, email, "guess", ip=f"203.0.113.{n}").status_code == 400
    # then that account is refused from yet another address, even with the right password
    body = assert_throttled(
        token(api_client, "victim@example.com", PASSWORD, ip="203.0.113.50"), at_most=2 * 900
    )
    assert "failed sign-in attempts" in body["detail"]
    assert not Token.objects.filter(user__email="victim@example.com").exists()
    # and another account is not affected
    assert token(api_client, other.email, PASSWORD, ip="203.0.113.0").status_code == 200


def test_successful_token_requests_do_not_use_the_account_allowance(api_client, rates):
    rates(token_account="2/15m")
    user = UserFactory(email="busy@example.com")
    assert token(api_client, user.email, "typo").status_code == 400
    for _ in range(5):  # a script fetching its token every run
        assert token(api_client, user.email, PASSWORD).status_code == 200
    assert token(api_client, user.email, "typo").status_code == 400  # the second failure
    assert_throttled(token(api_client, user.email, PASSWORD), at_most=2 * 900)


def test_malformed_requests_do_not_count_against_an_account(api_client, rates):
    rates(token_account="1/15m")
    user = UserFactory(email="solid@example.com")
    for _ in range(3):
        response = api_client.post(TOKEN, {"email": user.email}, format="json")
        assert response.status_code == 400 and "password" in response.json()["fields"]
    assert token(api_client, user.email, PASSWORD).status_code == 200


# --- the sliding-window counter, by hand ----------------------------------------------------
def test_parse_rate():
    assert parse_rate("30/m") == (30, 60)
    assert parse_rate("10/15m") == (10, 900)
    assert parse_rate("20/hour") == (20, 3600)
    assert parse_rate("5/2d") == (5, 172800)
    assert parse_rate(None) is None
    for bad in ("0/m", "x/m", "5/", "5/15", "5/w"):
        with pytest.raises(Exception, match="Throttle rate"):
            parse_rate(bad)


def test_limit_counts_a_sliding_window_and_says_how_long_to_wait():
    limit = Limit("t", f"hand-{uuid.uuid4()}", amount=4, duration=100)
    start = 1_000_000 * 100.0  # the start of a window
    # four hits early in a window are allowed, the fifth waits for the next window:
    # with 4 in the current one, one more fits once 4 * (1 - g) <= 3, i.e. g = 1/4 of the
    # next window: (100 - 10) + 25 = 115 seconds
    assert [limit.hit(start + 10) for _ in range(4)] == [None] * 4
    assert limit.hit(start + 10) == 115
    # the refused hit was not kept: at 25 s into the next window 4 * 0.75 = 3 counted, 1 fits
    assert limit.hit(start + 124) is not None  # 4 * 0.76 = 3.04 + 1 > 4
    assert limit.hit(start + 125) is None
    # now 3 (weighted) + 1 in this window: the next fits when 4 * (1 - g) + 1 <= 3, g = 1/2
    assert limit.hit(start + 126) == 24  # 150 - 126


def test_refund_gives_the_hit_back():
    limit = Limit("t", f"refund-{uuid.uuid4()}", amount=1, duration=60)
    now = 60 * 1000.0 + 5
    assert limit.hit(now) is None
    assert limit.hit(now) is not None
    limit.refund(now)
    assert limit.hit(now) is None


# --- shared between processes ---------------------------------------------------------------
_HIT_SCRIPT = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
django.setup()
from django.conf import settings
from apps.core.throttling import Limit
limit = Limit("shared", sys.argv[1], amount=3, duration=3600)
print(settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
      ",".join("ok" if limit.hit() is None else "refused" for _ in range(int(sys.argv[2]))))
"""


def _hits_in_a_new_process(env: dict, ident: str, count: int) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _HIT_SCRIPT, ident, str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_processes_share_one_count_in_redis(redis_url, monkeypatch):
    # given the production settings with only a Redis broker URL configured
    env = {
        "PATH": "/usr/bin:/bin",
        "CELERY_BROKER_URL": redis_url,
        "DATABASE_URL": "sqlite:////nonexistent/unused.sqlite3",
    }
    ident = f"process-test-{uuid.uuid4()}"
    # when one process hits twice and another twice, at most 3 in the hour
    first = _hits_in_a_new_process(env, ident, 2)
    second = _hits_in_a_new_process(env, ident, 2)
    # then both used Redis and the second saw the first one's hits
    assert first == "ResilientRedisCache ok,ok"
    assert second == "ResilientRedisCache ok,refused"


def test_two_processes_share_one_count_in_the_database_cache(tmp_path):
    # given no Redis at all: the database cache, on a SQLite file both processes open
    db = tmp_path / "shared.sqlite3"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{db}"}
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.base"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    ident = f"db-process-test-{uuid.uuid4()}"
    assert _hits_in_a_new_process(env, ident, 2) == "DatabaseCache ok,ok"
    assert _hits_in_a_new_process(env, ident, 2) == "DatabaseCache ok,refused"
