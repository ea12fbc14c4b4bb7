"""Fixtures for the trading API tests: authenticated clients and a priced BTC swap."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories.accounts import StaffFactory
from tests.factories.trading import set_price


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def operator():
    return client_for(StaffFactory())


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")
