"""A copy holding a cross and an isolated position at once (docs/decisions/0009-risk.md): a cross
liquidation never takes the isolated margin, and Total Stop Loss for Trader (close all) closes
both and returns what is left. Hand calculations beside each assertion; the ledger audit runs
after each test (tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.copies.models import Copy
from apps.copies.risk import risk_pass
from apps.copies.selectors import _close_estimates, copy_stop_estimate
from apps.copies.services import copy_investment_modify, copy_stop
from apps.ledger.models import Account
from apps.ledger.services import account_system
from apps.positions.models import Position
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def _balance(account_id) -> D:
    return Account.objects.get(pk=account_id).balance


def _insurance() -> D:
    return account_system(Account.Kind.INSURANCE).balance


def _main(user) -> D:
    return Account.objects.get(owner=user, kind="main").balance


@pytest.fixture
def mixed(django_capture_on_commit_callbacks):
    """A lead (10,000) and a copy of 1,000 holding 1 BTC contract cross and 1.66 ETH
    contracts isolated, both 5x long.

    BTC: lead 1,000 margin at 50,000 -> 10 contracts, fee 2.5; ratio 1,000 / 10,000 = 0.1;
    the copy (equity 1,000) targets 100 -> 1 contract, margin 100, fee 0.25.
    ETH: lead 1,000 at 3,000 -> 16.66 contracts (margin 999.6, fee 2.499), ratio 999.6 /
    9,997.5; the copy (equity 999.75) targets 99.96... -> 1.66 contracts, margin 99.6,
    fee 1.66 x 0.1 x 3,000 x 0.0005 = 0.249. Copy balance 1,000 - 0.25 - 0.249 = 999.501."""
    set_price("BTC-USDT-SWAP", "50000")
    set_price("ETH-USDT-SWAP", "3000")
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000", total_stop_loss="150")
    with django_capture_on_commit_callbacks(execute=True):
        for inst, mode in (("BTC-USDT-SWAP", "cross"), ("ETH-USDT-SWAP", "isolated")):
            lead_position_open(
                lead=lead, instrument=inst, side="long", margin_mode=mode, leverage=5, margin="1000"
            )
    rows = {p.margin_mode: p for p in Position.objects.filter(account_id=copy.account_id)}
    assert (rows["cross"].size, rows["cross"].margin) == (D("1.00"), D("100"))
    assert (rows["isolated"].size, rows["isolated"].margin) == (D("1.66"), D("99.6"))
    assert _balance(copy.account_id) == D("999.501")
    return copy, rows


def test_a_cross_liquidation_never_takes_the_isolated_margin(mixed):
    copy, rows = mixed
    # given the copy takes out 799 (free: 999.501 - 199.6 = 799.901): balance 200.501, cross
    # equity 200.501 - 99.6 = 100.901
    copy_investment_modify(copy=copy, user=copy.follower, total_investment="201")
    assert _balance(copy.account_id) == D("200.501")
    # when BTC gaps to 30,000: cross loss 0.01 x 20,000 = 200, fee 0.01 x 30,000 x 0.0005 = 0.15
    set_price("BTC-USDT-SWAP", "30000")
    insurance_before = _insurance()
    report = risk_pass(instrument_ids=None)
    # then only the cross position is liquidated; the account pays its cross equity 100.901
    # and keeps the isolated margin 99.6; the insurance fund pays 200.15 - 100.901 = 99.249
    assert report.liquidated_positions == 1
    rows["cross"].refresh_from_db()
    rows["isolated"].refresh_from_db()
    assert (rows["cross"].status, rows["cross"].close_reason) == ("closed", "liquidation")
    assert (rows["isolated"].status, rows["isolated"].margin) == ("open", D("99.6"))
    assert _balance(copy.account_id) == D("99.6")
    assert insurance_before - _insurance() == D("99.249")
    # and stopping closes ETH at 3,000 (realized 0, fee 0.249): 99.351 goes home
    before = _main(copy.follower)
    copy_stop(copy=copy, user=copy.follower)
    assert _main(copy.follower) - before == D("99.351")


def test_total_stop_loss_close_all_closes_both_modes_and_returns_the_rest(mixed):
    copy, rows = mixed
    # when BTC falls to 35,000: PnL = 999.501 - 150 - 1,000 = -150.499 <= -150
    set_price("BTC-USDT-SWAP", "35000")
    report = risk_pass(instrument_ids=None)
    assert report.stop_losses == 1
    copy.refresh_from_db()
    assert copy.status == Copy.Status.STOPPED
    # then both close at market: BTC -150, fee 0.175; ETH 0, fee 0.249; nothing is due as
    # profit share (R < 0), and 999.501 - 150.175 - 0.249 = 849.077 returns
    assert Position.objects.filter(account_id=copy.account_id, status="open").count() == 0
    assert _balance(copy.account_id) == 0
    assert _main(copy.follower) == D("849.077")


def test_a_stop_books_isolated_results_before_a_cross_loss_whatever_the_position_order(mixed):
    # The loss caps read the isolated margin that stays allocated after the batch (none, when
    # everything closes), so the batch must also book the isolated closes first: before, a
    # cross position opened first took the whole balance (the released isolated margin
    # included), the isolated gain was then added back, and the insurance fund paid a deficit
    # the account could cover; with the positions opened the other way round the same stop
    # left the follower 99.599 less. Here the cross position has the lower id.
    copy, rows = mixed
    assert rows["cross"].pk < rows["isolated"].pk
    # given the copy took out 799: balance 200.501, 99.6 of it isolated margin
    copy_investment_modify(copy=copy, user=copy.follower, total_investment="201")
    # and BTC gaps to 20,000 (cross: -300, fee 0.1) while ETH rises to 4,000 (isolated:
    # +1.66 x 0.1 x 1,000 = 166, fee 1.66 x 0.1 x 4,000 x 0.0005 = 0.332), no risk pass between
    set_price("BTC-USDT-SWAP", "20000")
    set_price("ETH-USDT-SWAP", "4000")
    insurance_before = _insurance()
    # the stop confirmation's estimate books the same way: -134.432 on the closes
    # (66.069 - 200.501), 66.069 back, whatever order it is given the positions in
    estimate = copy_stop_estimate(copy=copy)
    assert (estimate.closes_result, estimate.returned) == (D("-134.432"), D("66.069"))
    both = [rows["cross"], rows["isolated"]]
    for given in (both, both[::-1]):
        closes = _close_estimates(given, both, D("200.501"))
        assert [c.position.pk for c in closes] == [p.pk for p in given]  # listed as given
        assert sum(c.to_cash for c in closes) - D("199.6") == D("-134.432")  # less the margins
    # when the follower stops
    copy_stop(copy=copy, user=copy.follower)
    # then the account's whole result is 200.501 + 165.668 - 300.1 = 66.069 >= 0: the insurance
    # fund pays nothing and 66.069 returns (main: 799 taken out earlier + 66.069); R < 0, so no
    # profit share
    assert _insurance() == insurance_before
    assert _main(copy.follower) == D("865.069")
