"""A perpetual opens in cross or isolated margin mode only. "spot" is how a spot holding is
stored (positions.MarginMode.SPOT), not a mode a lead may pick for a swap: the console offered it
and the service took it (a BTC-USDT-SWAP position in "spot" mode, never liquidated)."""

from __future__ import annotations

import pytest

from apps.core.exceptions import ApplicationError
from apps.positions.models import Position
from apps.traders.services import lead_position_open
from tests.factories.trading import lead_make, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    set_price("BTC-USDT-SWAP", "50000")
    return lead_make(equity="10000", nickname="Whale")


def test_the_service_refuses_spot_mode_for_a_perpetual(lead):
    with pytest.raises(ApplicationError) as refused:
        lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="spot",
            leverage=5,
            margin="100",
        )
    assert refused.value.fields == {"margin_mode": "cross or isolated"}
    assert not Position.objects.filter(account_id=lead.futures_account_id).exists()


def test_the_console_offers_cross_and_isolated_and_refuses_spot(client, lead):
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert 'name="margin_mode" value="cross"' in html
    assert 'name="margin_mode" value="isolated"' in html
    assert 'name="margin_mode" value="spot"' not in html
    response = client.post(
        "/lead/positions/open/",
        {
            "instrument": "BTC-USDT-SWAP",
            "side": "long",
            "margin_mode": "spot",
            "leverage": "5",
            "margin": "100",
            "idempotency_key": "k-spot",
        },
    )
    assert response.status_code == 200  # the form again, with the refusal next to the field
    assert "Select a valid choice" in response.content.decode()
    assert not Position.objects.filter(account_id=lead.futures_account_id).exists()
