"""Spot Smart Sync (SPEC §6) through the real services: lead buys and sells, proportional copy
buys and exact-share sells, pre-copy holdings left alone, Buy Existing Assets weights, stop
copying, minimum-size bump and miss, stop loss and profit share. Expected values are hand
calculations written beside each assertion."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from apps.copies.models import Copy, CopyEvent
from apps.copies.risk import risk_pass
from apps.copies.selectors import copy_figures
from apps.copies.services import copy_stop
from apps.ledger.models import Account
from apps.ledger.services import account_main
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_spot_buy, lead_spot_sell, lead_transfer
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def prices():
    set_price("BTC-USDT", "50000")
    set_price("ETH-USDT", "3000")


def spot_lead(equity="10000"):
    """A lead trader whose lead spot account holds ``equity`` USDT."""
    from apps.ledger.services import deposit_credit

    lead = lead_make(equity="0")
    deposit_credit(user=lead.user, amount=D(equity), key=f"spot-lead:{lead.pk}")
    lead_transfer(lead=lead, market="spot", direction="in", amount=equity)
    lead.refresh_from_db()
    return lead


def spot_copy(lead, investment="1000", **kw):
    return copy_make(lead, investment=investment, market="spot", **kw)


def holding(copy) -> Position | None:
    return Position.objects.filter(account_id=copy.account_id, status="open").first()


def cash(account_id) -> D:
    """Balance minus cost basis of the holdings: the USDT not in any asset."""
    acc = Account.objects.get(pk=account_id)
    cost = sum(
        (p.margin for p in Position.objects.filter(account_id=account_id, status="open")), D(0)
    )
    return acc.balance - cost


def test_spec_6_example_lead_buys_1000_and_a_copy_of_1000_buys_100(
    prices, django_capture_on_commit_callbacks
):
    # given a lead with 10,000 in the spot account and a spot copy of 1,000
    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000")
    # when the lead buys 1,000 USDT of BTC at 50,000 (0.02 BTC, fee 1)
    with django_capture_on_commit_callbacks(execute=True):
        lead_holding = lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    assert (lead_holding.size, lead_holding.margin) == (D("0.02"), D("1000"))
    assert cash(lead.spot_account_id) == D("8999")  # 10,000 - 1,000 - fee 1
    event = LeadEvent.objects.get(kind="spot_buy")
    assert (event.amount, event.lead_equity_before) == (D("1000"), D("10000"))
    # then the copy buys 100 USDT (ratio 0.1): 0.002 BTC, fee 0.1, and keeps 899.9 cash
    h = holding(copy)
    assert (h.size, h.margin, h.entry_price, h.fees) == (D("0.002"), D("100"), D("50000"), D("0.1"))
    assert h.lead_position_id == lead_holding.pk and h.margin_mode == "spot"
    assert cash(copy.account_id) == D("899.9")
    assert copy_figures(copy).equity == D("999.9")


def test_buys_add_to_the_holding_at_average_cost(prices, django_capture_on_commit_callbacks):
    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")  # lead 0.02, copy 0.002
    set_price("BTC-USDT", "40000")
    # lead equity before: 8,999 cash + 0.02 x 40,000 = 9,799; buys 500 -> 0.0125 BTC, fee 0.5
    # copy equity: 899.9 + 0.002 x 40,000 = 979.9 -> buys 500/9,799 x 979.9 = 50.00000000.. USDT
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="500")
    h = holding(copy)
    expected_qty = D(int(F(500) / F(9799) * F("979.9") / 40000 * 10**8)) / 10**8
    assert h.size == D("0.002") + expected_qty
    cost = D(int(expected_qty * 40000 * 10**8)) / 10**8
    assert h.margin == D("100") + cost
    # average cost = cost basis / quantity, rounded down for display
    assert h.entry_price == D(int(F(h.margin) / F(h.size) * 10**8)) / 10**8


def test_a_lead_selling_a_third_makes_the_copy_sell_exactly_a_third(
    prices, django_capture_on_commit_callbacks
):
    # given a lead holding 0.03 BTC (1,500 at 50,000) and a copy holding 0.003 (150 at 0.15)
    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1500")
    assert holding(copy).size == D("0.003")
    # when the lead sells a third: 0.03 x 0.33333334 = 0.0100000002 -> 0.01 BTC
    set_price("BTC-USDT", "51000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_sell(lead=lead, instrument="BTC-USDT", fraction="0.33333334")
    event = LeadEvent.objects.get(kind="spot_sell")
    assert (event.size, event.lead_size_before) == (D("0.01"), D("0.03"))
    # then the copy sells 0.003 x 0.01 / 0.03 = 0.001 exactly and keeps 0.002
    h = holding(copy)
    assert h.size == D("0.002")
    # cost basis 150 -> releases a third, 50; fetched 0.001 x 51,000 = 51: realized +1, fee 0.051
    assert h.margin == D("100") and h.realized_pnl == D("1") and h.fees == D("0.201")


def test_what_the_lead_held_before_the_copy_began_is_never_sold_for_it(
    prices, django_capture_on_commit_callbacks
):
    # given a lead that holds 0.02 BTC before the copy starts (no Buy Existing Assets)
    lead = spot_lead("10000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    copy = spot_copy(lead, "1000")
    # when the lead sells half: the copy holds nothing linked, nothing happens
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_sell(lead=lead, instrument="BTC-USDT", fraction="0.5")
    assert holding(copy) is None
    assert not CopyEvent.objects.filter(copy=copy, lead_event__kind="spot_sell").exists()
    assert account_main(user=copy.follower).balance == D("0")
    assert Account.objects.get(pk=copy.account_id).balance == D("1000")


def test_buy_existing_assets_at_the_leads_weights(prices, django_capture_on_commit_callbacks):
    # given a lead holding 0.02 BTC (1,000) and 1 ETH (3,000), cash 10,000 - 4,000 - 4 fees
    lead = spot_lead("10000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
        lead_spot_buy(lead=lead, instrument="ETH-USDT", amount="3000")
    # lead equity 5,996 + 1,000 + 3,000 = 9,996
    # when a follower starts with 1,000 and Buy Existing Assets
    copy = spot_copy(lead, "1000", copy_ongoing_positions=True)
    # then it buys BTC at weight 1,000/9,996 of 1,000 and ETH at 3,000/9,996 of what is left
    btc = Position.objects.get(account_id=copy.account_id, instrument__name="BTC-USDT")
    eth = Position.objects.get(account_id=copy.account_id, instrument__name="ETH-USDT")
    btc_qty = D(int(F(1000) / F(9996) * 1000 / 50000 * 10**8)) / 10**8
    assert btc.size == btc_qty  # 0.00200080
    btc_fee = D(int(F(btc_qty) * 50000 * F("0.001") * 10**8)) / 10**8
    # the second buy is sized on the equity after the first fee
    equity = F(1000) - F(btc_fee)
    eth_qty = D(int(F(3000) / F(9996) * equity / 3000 * 10**8)) / 10**8
    assert eth.size == eth_qty
    assert btc.explanation["source"] == "Copy Ongoing Positions"


def test_stop_copying_sells_every_holding_and_returns_usdt(
    prices, django_capture_on_commit_callbacks
):
    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")  # copy: 0.002 BTC, 899.9
    set_price("BTC-USDT", "55000")
    copy_stop(copy=copy, user=copy.follower)
    copy.refresh_from_db()
    # sells 0.002 x 55,000 = 110, fee 0.11; realized 110 - 100 = 10; net R = 10 - 0.1 - 0.11
    # = 9.79; profit share 10% -> 0.979; returned 899.9 + 110 - 0.11 - 0.979 = 1,008.811
    assert copy.status == "stopped"
    assert account_main(user=copy.follower).balance == D("1008.811")
    assert holding(copy) is None


def test_minimum_size_bump_and_miss_on_spot(prices, django_capture_on_commit_callbacks):
    # BTC-USDT's minimum is 0.00001 BTC (0.5 USDT at 50,000)
    lead = spot_lead("100000")
    bumped = spot_copy(lead, "100")
    # lead buys 35 of 100,000: ratio 0.00035 -> the copy's target 0.035 USDT = 0.0000007 BTC;
    # the minimum costs 0.5 USDT, more than 10 x the target (0.35): missed, below minimum size
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="35")
    assert CopyEvent.objects.get(copy=bumped, lead_event__kind="spot_buy").reason == (
        "below minimum size"
    )
    # lead buys 100: target 0.1 USDT = 0.000002 BTC -> bumped to 0.00001 (0.5 <= 10 x 0.1)
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="100")
    h = holding(bumped)
    assert h.size == D("0.00001") and h.explanation["bumped"] is True


def test_profit_share_and_stop_loss_on_spot(prices, django_capture_on_commit_callbacks):
    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000", total_stop_loss="40")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="5000")  # copy: 0.01 BTC, 500
    # at 46,000 the copy's PnL = 0.01 x (46,000 - 50,000) - 0.5 fee = -40.5 <= -40: stop loss
    set_price("BTC-USDT", "46000")
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "stop_loss")
    # close all: sold 0.01 x 46,000 = 460, fee 0.46: 1,000 - 0.5 - 40 - 0.46 = 959.04
    assert account_main(user=copy.follower).balance == D("959.04")


def test_the_lead_ending_stops_spot_copies_too(prices, django_capture_on_commit_callbacks):
    from apps.traders.services import lead_trader_end

    lead = spot_lead("10000")
    copy = spot_copy(lead, "1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
        lead_trader_end(lead=lead)
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "lead_ended")
    assert Copy.objects.get(pk=copy.pk).account.balance == 0


def test_the_api_shows_a_spot_copy_and_its_holding(prices, django_capture_on_commit_callbacks):
    from tests.api_trading.conftest import client_for
    from tests.factories.trading import follower_make

    # given a follower starting a spot copy through the API (no longer refused)
    lead = spot_lead("10000")
    user = follower_make("1000")
    client = client_for(user)
    r = client.post(
        "/api/v1/copies/",
        {"trader": lead.pk, "market": "spot", "total_investment_usdt": "1000"},
        format="json",
    )
    assert r.status_code == 201, r.data
    assert r.data["market"] == "spot"
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    set_price("BTC-USDT", "52000")
    # then its holding shows quantity, average cost, value and PnL
    [h] = client.get(f"/api/v1/copies/{r.data['id']}/positions/").data["results"]
    assert (h["instrument"], h["margin_mode"], h["size"]) == ("BTC-USDT", "spot", "0.00200000")
    assert h["average_cost"] == "50000.00000000"
    assert h["value_usdt"] == "104.00000000"  # 0.002 x 52,000
    assert h["unrealized_pnl_usdt"] == "4.00000000"
    assert h["explanation"]["ratio"] == "0.1"
    # and the copy's equity: 899.9 cash + 104 = 1,003.9
    assert client.get(f"/api/v1/copies/{r.data['id']}/").data["equity_usdt"] == "1003.90000000"


def test_the_lead_trades_spot_through_the_api(prices, django_capture_on_commit_callbacks):
    from tests.api_trading.conftest import client_for

    lead = spot_lead("10000")
    client = client_for(lead.user)
    # a buy of 1,000 at 50,000: 0.02 BTC, fee 1 on top
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/api/v1/lead/spot/orders/",
            {"instrument": "BTC-USDT", "side": "buy", "amount_usdt": "1000"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="b1",
        )
    assert r.status_code == 201, r.data
    assert (r.data["quantity"], r.data["amount_usdt"], r.data["fee_usdt"]) == (
        "0.02000000", "1000.00000000", "1.00000000",
    )  # fmt: skip
    assert r.data["holding"]["average_cost"] == "50000.00000000"
    # a sell needs a fraction; a buy needs an amount: clear 400s
    bad = client.post("/api/v1/lead/spot/orders/", {"instrument": "BTC-USDT", "side": "sell"})
    assert bad.status_code == 400 and "fraction" in bad.data["fields"]
    wrong = client.post(
        "/api/v1/lead/spot/orders/",
        {"instrument": "BTC-USDT-SWAP", "side": "buy", "amount_usdt": "10"},
    )
    assert wrong.status_code == 400 and "instrument" in wrong.data["fields"]
    # sell half at 60,000: 0.01 x 60,000 = 600 received, fee 0.6; realized 600 - 500 = 100
    set_price("BTC-USDT", "60000")
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/api/v1/lead/spot/orders/",
            {"instrument": "BTC-USDT", "side": "sell", "fraction": "0.5"},
            format="json",
        )
    assert r.status_code == 201, r.data
    assert (r.data["quantity"], r.data["amount_usdt"], r.data["fee_usdt"]) == (
        "0.01000000", "600.00000000", "0.60000000",
    )  # fmt: skip
    [h] = client.get("/api/v1/lead/spot/holdings/").data["results"]
    assert (h["asset"], h["quantity"], h["cost_usdt"]) == ("BTC", "0.01000000", "500.00000000")
    assert (h["value_usdt"], h["realized_pnl_usdt"]) == ("600.00000000", "100.00000000")
    # lead spot account: 10,000 - 1 - 0.6 + 100 = 10,098.4 (cash 9,598.4 + cost 500)
    assert client.get("/api/v1/lead/account/?market=spot").data["balance_usdt"] == "10098.40000000"
