"""Which markets a lead leads (the copy wizard offers those): a funded or traded lead account.
The "strategy ended" event that the end writes on both accounts is no trade: an ended
futures-only lead does not lead spot (the stats count it the same way)."""

from __future__ import annotations

import pytest

from apps.traders.selectors import lead_markets
from apps.traders.services import lead_spot_buy, lead_trader_end, lead_transfer
from tests.factories.trading import lead_make, set_price

pytestmark = pytest.mark.django_db


def test_a_futures_lead_leads_futures_only_also_once_ended():
    lead = lead_make(equity="10000")
    assert lead_markets(lead=lead) == ["futures"]
    lead_trader_end(lead=lead)
    lead.refresh_from_db()
    assert lead_markets(lead=lead) == ["futures"]


def test_a_spot_trade_makes_a_lead_of_both_markets_even_with_no_cash_left():
    set_price("BTC-USDT", "50000")
    lead = lead_make(equity="10000")
    lead_transfer(lead=lead, market="futures", direction="out", amount="1000")
    lead_transfer(lead=lead, market="spot", direction="in", amount="1000")
    assert lead_markets(lead=lead) == ["futures", "spot"]  # funded
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="999")  # + fee 0.999: all of it
    assert lead_markets(lead=lead) == ["futures", "spot"]


def test_an_unfunded_lead_leads_nothing():
    assert lead_markets(lead=lead_make(equity="0")) == []
