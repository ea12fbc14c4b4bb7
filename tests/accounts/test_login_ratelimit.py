"""Failed web logins (/accounts/login/) are limited per (account, IP) pair and per IP, never
per account alone: a stranger cannot lock the owner out (apps/accounts/adapter.py).

The numbers are the settings' ACCOUNT_RATE_LIMITS["login_failed"]: "10/m/ip,5/5m/key".
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories.accounts import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.66"
OWNER_IP = "198.51.100.10"
REFUSED = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def login(client, email, password, ip):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_the_limits_are_the_documented_ones():
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "10/m/ip,5/5m/key"
    assert settings.ACCOUNT_ADAPTER == "apps.accounts.adapter.AccountAdapter"


def test_a_stranger_failing_on_purpose_does_not_lock_the_owner_out(client):
    from django.test import Client

    owner = UserFactory(email="owner@example.com")
    # given a stranger who failed 5 times on the owner's account from their address
    for _ in range(5):
        response = login(client, owner.email, "guess", ATTACKER)
        assert response.status_code == 200 and REFUSED not in response.content.decode()
    # then the stranger is refused there, even with the right password
    refused = login(client, owner.email, PASSWORD, ATTACKER)
    assert refused.status_code == 200
    assert REFUSED in refused.content.decode()
    assert not signed_in(refused)
    # and the owner, from their own address, still signs in
    owner_browser = Client()
    assert signed_in(login(owner_browser, owner.email, PASSWORD, OWNER_IP))


def test_the_owner_has_their_own_allowance_from_their_address(client):
    owner = UserFactory(email="owner2@example.com")
    for _ in range(5):
        login(client, owner.email, "guess", ATTACKER)
    # the owner's own typos count only against the owner's pair
    for _ in range(4):
        assert REFUSED not in login(client, owner.email, "typo", OWNER_IP).content.decode()
    assert signed_in(login(client, owner.email, PASSWORD, OWNER_IP))


def test_one_address_spraying_many_accounts_is_refused_per_ip(client):
    users = [UserFactory(email=f"spray{i}@example.com") for i in range(11)]
    # 10 failures a minute from one address, each on another account...
    for user in users[:10]:
        assert REFUSED not in login(client, user.email, "guess", ATTACKER).content.decode()
    # ...and the 11th is refused whatever the account
    assert REFUSED in login(client, users[10].email, PASSWORD, ATTACKER).content.decode()
    # another address is not
    assert signed_in(login(client, users[10].email, PASSWORD, OWNER_IP))
