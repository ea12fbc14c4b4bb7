"""Shared fixtures.

- After every test that touched the database, ``ledger_audit``'s checks must be clean: the
  ledger sums to zero, every entry balances, every account balance equals the sum of its
  postings and no user account is negative (SPEC §11.1).
- ``postgres`` / ``redis_url`` / ``live_worker`` skip when the service is absent, unless
  REQUIRE_SERVICES=1 (CI), where an absent service fails the test instead.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def missing_service(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available", pytrace=False)
    pytest.skip(f"{what} not available")


def ledger_problems() -> list[str]:
    """What ``manage.py ledger_audit`` would report (the same function): balances equal their
    postings, every entry balances, everything sums to zero, no user account is negative."""
    from apps.ledger.management.commands.ledger_audit import ledger_drift

    return ledger_drift()[2]


@pytest.fixture(autouse=True)
def _ledger_zero_sum(request):
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    uses_db = bool(names & {"db", "transactional_db"}) or marker is not None
    if not uses_db or request.node.get_closest_marker("no_ledger_check"):
        yield
        return
    # Ask for the database fixture first so that it is torn down after this check runs.
    transactional = "transactional_db" in names or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    problems = ledger_problems()
    assert not problems, "ledger invariant broken after test: " + "; ".join(problems)


@pytest.fixture
def postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("PostgreSQL (set DATABASE_URL=postgres://...)")
    return connection


@pytest.fixture
def redis_url():
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        missing_service("Redis broker (set CELERY_BROKER_URL=redis://...)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        missing_service(f"Redis at {url} ({exc})")
    return url


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def pytest_configure(config):
    config.addinivalue_line("markers", "no_ledger_check: skip the zero-sum check")
