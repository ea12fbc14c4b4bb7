"""The risk pass: liquidation at the SPEC §4 reference price and not one tick above, the loss
caps (isolated margin, cross equity) with the deficit or forfeited remainder in the insurance
fund, lead liquidation as a lead event, and Total Stop Loss for Trader (SPEC §7) with its three
actions. Expected values are hand calculations written out beside each assertion."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.accounts.models import Notification
from apps.copies.mirroring import lead_event_mirror
from apps.copies.models import Copy, CopyEvent
from apps.copies.risk import risk_pass
from apps.copies.services import copy_investment_modify, copy_position_close
from apps.ledger.models import Account
from apps.ledger.services import account_main, account_system
from apps.positions.models import Fill, LeadEvent, Position
from apps.positions.risk import liquidation_price
from apps.positions.selectors import account_figures_one
from apps.traders.services import lead_position_close, lead_position_open
from tests.api_trading.conftest import client_for
from tests.factories.accounts import StaffFactory
from tests.factories.trading import copy_make, follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def _balance(account_id) -> D:
    return Account.objects.get(pk=account_id).balance


def _insurance() -> D:
    return account_system(Account.Kind.INSURANCE).balance


def _open(lead, *, margin="100", mode="isolated", leverage=5, side="long", inst="BTC-USDT-SWAP"):
    return lead_position_open(
        lead=lead, instrument=inst, side=side, margin_mode=mode, leverage=leverage, margin=margin
    )


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


# --- the reference price ----------------------------------------------------------------------


def test_isolated_lead_liquidates_exactly_at_the_reference_price_and_not_one_tick_above(btc):
    # given SPEC §4's reference: a 5x isolated long of 1 BTC contract at 50,000 with 100 margin
    lead = lead_make(equity="1000")
    pos = _open(lead)
    row = account_figures_one(lead.futures_account_id).positions[0]
    assert row.size == D("1") and row.margin == D("100")
    assert liquidation_price(row) == D("40180.8137")  # 400 / 0.009955 = 40,180.81366 -> up

    # when the mark is one tick (0.1) above the reference, nothing happens
    set_price("BTC-USDT-SWAP", "40180.9137")
    assert risk_pass(instrument_ids=None).liquidated_positions == 0
    pos.refresh_from_db()
    assert pos.status == "open"

    # when the mark reaches the reference price, the position is liquidated at the mark
    set_price("BTC-USDT-SWAP", "40180.8137")
    insurance_before = _insurance()
    report = risk_pass(instrument_ids=None)
    assert report.liquidated_positions == 1
    pos.refresh_from_db()
    assert (pos.status, pos.close_reason, pos.exit_price) == (
        "closed",
        "liquidation",
        D("40180.8137"),
    )
    # the account pays exactly the margin: 1,000 - 0.25 open fee - 100 = 899.75
    assert _balance(lead.futures_account_id) == D("899.75")
    # loss 0.01 x (40,180.8137 - 50,000) = -98.191863, fee 0.01 x 40,180.8137 x 0.0005 =
    # 0.20090406(85) -> 0.20090406; forfeited remainder 100 - 98.191863 - 0.20090406 = 1.60723294
    assert _insurance() - insurance_before == D("1.60723294")
    assert Fill.objects.get(position=pos, action="liquidation").price == D("40180.8137")
    # and a lead liquidation is a lead event (the outbox), so followers close their copies
    event = LeadEvent.objects.get(kind="liquidation")
    assert (event.position_id, event.size, event.lead_size_before) == (pos.pk, D("1"), D("1"))
    assert Notification.objects.filter(user=lead.user, kind="liquidation").exists()
    # and a second pass finds nothing (exactly once)
    assert risk_pass(instrument_ids=None).liquidated_positions == 0


def test_a_short_liquidates_at_its_price_rounded_down(btc):
    # 5x isolated short of 1 contract from 50,000 with 100 margin: 100% level where
    # 100 + 0.01 x (50,000 - P) = 0.01 x P x 0.0045 -> P = 600 / 0.010045 = 59,731.20955... -> down
    lead = lead_make(equity="1000")
    pos = _open(lead, side="short")
    row = account_figures_one(lead.futures_account_id).positions[0]
    assert liquidation_price(row) == D("59731.2095")
    set_price("BTC-USDT-SWAP", "59731.1095")  # one 4th-decimal... well below: safe
    assert risk_pass(instrument_ids=None).liquidated_positions == 0
    set_price("BTC-USDT-SWAP", "59731.2095")
    assert risk_pass(instrument_ids=None).liquidated_positions == 1
    pos.refresh_from_db()
    assert pos.close_reason == "liquidation"


# --- follower accounts ------------------------------------------------------------------------


def test_a_follower_isolated_position_is_liquidated_and_told(btc):
    # given a follower mirroring the reference position (ratio 100/999.75 of 1,000 -> 1 contract)
    lead = lead_make(equity="1000")
    copy = copy_make(lead, investment="1000")
    _open(lead)  # mirrored by hand: on-commit dispatch does not run in this test
    lead_event_mirror(LeadEvent.objects.get(kind="open").pk)
    fpos = Position.objects.get(account_id=copy.account_id)
    assert (fpos.size, fpos.margin) == (D("1.00"), D("100"))
    # when the mark falls far past the liquidation price (a gap): 30,000
    set_price("BTC-USDT-SWAP", "30000")
    insurance_before = _insurance()
    risk_pass(instrument_ids=None)
    # then the follower loses exactly the 100 margin, not the 200.15 the price implies
    fpos.refresh_from_db()
    assert (fpos.status, fpos.close_reason) == ("closed", "liquidation")
    assert _balance(copy.account_id) == D("899.75")  # 1,000 - 0.25 - 100
    # the position records what the follower lost: realized - fees = -100 - 0.25 open fee
    assert fpos.realized_pnl - fpos.fees == D("-100.25")
    # two liquidations (lead and follower), each paying a deficit of 200 + 0.15 - 100 = 100.15
    assert insurance_before - _insurance() == D("200.30")
    event = CopyEvent.objects.get(copy=copy, kind="liquidated")
    assert event.amount == D("-100") and "30000" in event.reason
    assert Notification.objects.filter(
        user=copy.follower, kind="liquidation", message__contains="loss 100.00 USDT"
    ).exists()


def test_cross_liquidation_of_a_copy_account_and_the_equity_cap(
    btc, django_capture_on_commit_callbacks
):
    # given a follower whose copy is 1 cross contract (100 margin) and 100.75 cash after
    # Modify took out 899 (equity 101 - 0.25 fee = 100.75)
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="1000", mode="cross")
    copy_investment_modify(copy=copy, user=copy.follower, total_investment="101")
    assert _balance(copy.account_id) == D("100.75")
    # cross level = (100.75 + 0.01 x (P - 50,000)) / (0.01 x P x 0.0045) <= 1 at P <= 40,105.47..
    set_price("BTC-USDT-SWAP", "40200")
    assert risk_pass(instrument_ids=None).liquidated_positions == 0
    # when the price gaps to 30,000: loss 200 + fee 0.15 > equity 100.75
    set_price("BTC-USDT-SWAP", "30000")
    insurance_before = _insurance()
    report = risk_pass(instrument_ids=None)
    # then the copy's cross position is liquidated; the account pays its equity, no more
    assert report.liquidated_positions == 1
    assert _balance(copy.account_id) == D("0")
    assert insurance_before - _insurance() == D("99.40")  # 200.15 - 100.75
    # and the lead (equity 10,000, level far above 100%) keeps its position
    assert Position.objects.get(account_id=lead.futures_account_id).status == "open"


def test_cross_liquidation_keeps_what_is_left_of_the_equity(
    btc, django_capture_on_commit_callbacks
):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="1000", mode="cross")
    copy_investment_modify(copy=copy, user=copy.follower, total_investment="101")
    # at 40,000: level = (100.75 - 100) / 1.8 < 1; loss 100 + fee 0.2 = 100.2 <= 100.75
    set_price("BTC-USDT-SWAP", "40000")
    risk_pass(instrument_ids=None)
    assert _balance(copy.account_id) == D("0.55")


def test_a_close_never_takes_more_than_the_isolated_margin(btc):
    # the case: 5x isolated with 100 margin closed far past liquidation took the
    # account from 1,000 to 799.60 (loss 200 + fee 0.15 + open fee 0.25)
    lead = lead_make(equity="1000")
    pos = _open(lead)
    set_price("BTC-USDT-SWAP", "30000")
    insurance_before = _insurance()
    lead_position_close(lead=lead, position=pos, fraction="1")
    assert _balance(lead.futures_account_id) == D("899.75")  # 1,000 - 0.25 - 100
    assert insurance_before - _insurance() == D("100.15")  # 200 + 0.15 - 100


# --- Total Stop Loss for Trader ---------------------------------------------------------------


def test_spec_7_stop_loss_example_through_the_api(btc, django_capture_on_commit_callbacks):
    # given a follower copying with 1,000 and a Total Stop Loss for Trader of 150 (close all)
    lead = lead_make(equity="10000")
    user = follower_make("1000")
    client = client_for(user)
    r = client.post(
        "/api/v1/copies/",
        {"trader": lead.pk, "total_investment_usdt": "1000", "total_stop_loss_usdt": "150"},
        format="json",
    )
    assert r.status_code == 201, r.data
    copy_id = r.data["id"]
    # and the lead's 5x cross long of 1,000 at 50,000 mirrored as 1 contract (fee 0.25)
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="1000", mode="cross")
    # when an operator sets the mark to 35,000 (the price change runs the risk pass)
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(StaffFactory()).post(
            "/api/v1/operator/prices/", {"instrument": "BTC-USDT-SWAP", "price": "35000"}
        )
    assert r.status_code == 200, r.data
    # then PnL -150 - 0.25 = -150.25 triggered it: the position closed at market (fee 0.175)
    # and 849.575 returned to the main account
    data = client.get(f"/api/v1/copies/{copy_id}/").data
    assert (data["status"], data["stop_reason"]) == ("stopped", "stop_loss")
    assert account_main(user=user).balance == D("849.575")
    copy = Copy.objects.get(pk=copy_id)
    assert copy.stop_loss_trigger["pnl_usdt"] == "-150.25000000"
    assert copy.stop_loss_trigger["marks"] == {"BTC-USDT-SWAP": "35000.00000000"}
    assert copy.stop_loss_triggered_at is not None
    assert CopyEvent.objects.filter(copy=copy, kind="stop_loss").exists()
    assert Notification.objects.filter(user=user, kind="stop_loss").exists()


def _stop_loss_copy(action, django_capture_on_commit_callbacks):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000", total_stop_loss="150", stop_loss_action=action)
    with django_capture_on_commit_callbacks(execute=True):
        pos = _open(lead, margin="1000", mode="cross")
    set_price("BTC-USDT-SWAP", "35000")
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    return lead, copy, pos


def test_keep_follows_the_lead_closes_then_returns_the_cash(
    btc, django_capture_on_commit_callbacks
):
    lead, copy, lead_pos = _stop_loss_copy("keep", django_capture_on_commit_callbacks)
    # triggered: stopping, no new opens, the position stays
    assert copy.is_stopping and not copy.copying and copy.status == "active"
    assert Position.objects.get(account_id=copy.account_id).status == "open"
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="500", mode="cross")
    assert Position.objects.filter(account_id=copy.account_id).count() == 1  # not copied
    # when the lead closes the first position, the follower follows, and the copy stops
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_close(lead=lead, position=lead_pos, fraction="1")
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "stop_loss")
    assert account_main(user=copy.follower).balance == D("849.575")


def test_hand_over_leaves_the_positions_to_the_follower(btc, django_capture_on_commit_callbacks):
    lead, copy, lead_pos = _stop_loss_copy("hand_over", django_capture_on_commit_callbacks)
    fpos = Position.objects.get(account_id=copy.account_id)
    assert fpos.handed_over and copy.is_stopping
    # the lead's close no longer touches it
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_close(lead=lead, position=lead_pos, fraction="1")
    fpos.refresh_from_db()
    assert fpos.status == "open"
    # the follower closes it (same price: -150 and fee 0.175) and the cash returns at once
    copy_position_close(copy=copy, position=fpos, user=copy.follower)
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "stop_loss")
    assert account_main(user=copy.follower).balance == D("849.575")


def test_no_stop_loss_above_the_amount(btc, django_capture_on_commit_callbacks):
    # PnL at 35,100: -149 - 0.25 = -149.25 > -150: nothing happens
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000", total_stop_loss="150")
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="1000", mode="cross")
    set_price("BTC-USDT-SWAP", "35100")
    assert risk_pass(instrument_ids=None).stop_losses == 0
    copy.refresh_from_db()
    assert copy.copying and copy.stop_loss_triggered_at is None


def test_the_api_shows_liquidation_price_margin_level_and_the_stop_loss_state(
    btc, django_capture_on_commit_callbacks
):
    # given a follower's isolated copy of the reference position and a cross one
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000", total_stop_loss="90", stop_loss_action="keep")
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead, margin="1000")  # 5x isolated: ratio 0.1 -> 1 contract, margin 100
    client = client_for(copy.follower)
    [row] = client.get(f"/api/v1/copies/{copy.pk}/positions/").data["results"]
    assert row["liquidation_price"] == "40180.81370000"
    # level at 50,000: 100 / (0.01 x 50,000 x 0.0045) = 44.44444444
    assert row["margin_level"] == "44.44444444"
    assert row["handed_over"] is False
    # when the stop loss triggers (keep) at 40,500 (PnL -95 - 0.25 fee; not yet liquidated),
    # the copy says it is stopping and why
    set_price("BTC-USDT-SWAP", "40500")
    risk_pass(instrument_ids=None)
    data = client.get(f"/api/v1/copies/{copy.pk}/").data
    assert data["status"] == "active" and data["stopping"] is True
    assert data["stop_loss_trigger"]["action"] == "keep"
    assert data["stop_loss_triggered_at"] is not None


def test_a_cross_position_shows_its_accounts_liquidation_price(btc):
    # a lead's cross long of 1 contract with a 999.75 balance would liquidate where
    # 999.75 + 0.01 x (P - 50,000) = 0.01 x P x 0.0045, i.e. P = -499.75 / 0.009955 < 0: never
    from apps.positions.risk import account_risk

    lead = lead_make(equity="1000")
    _open(lead, mode="cross", margin="100")
    fig = account_figures_one(lead.futures_account_id)
    [(pid, risk)] = account_risk(fig).items()
    assert risk.liquidation_price is None
    # a 100x cross long of 1 contract (margin 5) on a 99.75 balance:
    # 99.75 + 0.01 x (P - 50,000) = 0.000045 x P -> P = 400.25 / 0.009955 = 40,205.92667.. -> up
    lead2 = lead_make(equity="100")
    _open(lead2, mode="cross", margin="5", leverage=100)
    fig2 = account_figures_one(lead2.futures_account_id)
    [(_, risk2)] = account_risk(fig2).items()
    assert fig2.balance == D("99.75")  # open fee 0.01 x 50,000 x 0.0005 = 0.25
    assert risk2.liquidation_price == D("40205.9267")
    # and its margin level at 50,000: (99.75 + 0) / (0.01 x 50,000 x 0.0045) = 44.33333333
    assert risk2.margin_level == D("44.33333333")
