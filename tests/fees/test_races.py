"""Funding racing the other money services on PostgreSQL, from real threads and connections:
a mirror of a lead close, stops, and a second funding run. Whatever the order, every position
pays funding at most once, a position closed first pays nothing, and each copy's ledger balance
agrees with its positions' own records (nothing lost, nothing written over a stale row)."""

from decimal import Decimal as D

import pytest

from apps.copies.mirroring import lead_event_mirror
from apps.copies.models import Copy
from apps.copies.services import copy_stop
from apps.fees.models import FundingSettlement
from apps.fees.services import funding_settle, funding_slot
from apps.ledger.models import Account, JournalEntry
from apps.positions import outbox
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.concurrency.test_mirroring_races import run_together
from tests.factories.trading import copy_make, lead_make, set_price
from tests.fees.conftest import backdate_positions

pytestmark = [pytest.mark.django_db(transaction=True)]

FOLLOWER_FUNDING = D("-0.05")  # 1 contract x 0.01 x 50,000 x 0.0001
LEAD_FUNDING = D("-0.5")  # 10 contracts


@pytest.fixture
def world(postgres, monkeypatch):
    """A lead long 10 contracts BTC (5x cross, 1,000 margin) mirrored to 40 copies of 1,000
    (1 contract each, fee 0.25), all held at the current funding time."""
    monkeypatch.setattr(outbox, "_listeners", [])  # mirror by hand, inside the race
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make()
    copies = [copy_make(lead, investment="1000") for _ in range(40)]
    lead_pos = lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    lead_event_mirror(LeadEvent.objects.get(kind="open").pk)
    backdate_positions(funding_slot())
    return lead, lead_pos, copies


def assert_copy_books_agree(copy: Copy, *, cash_in: D = D("1000")) -> None:
    """The copy's money (its account, plus its main account once stopped) = what went in +
    its positions' realized PnL - fees + funding."""
    ps = Position.objects.filter(account_id=copy.account_id)
    net = sum((p.realized_pnl - p.fees + p.funding for p in ps), D("0"))
    held = Account.objects.get(pk=copy.account_id).balance
    if copy.status == Copy.Status.STOPPED:
        held += Account.objects.get(owner=copy.follower, kind="main").balance
    assert held == cash_in + net, (copy.pk, held, net)
    for p in ps:
        assert p.funding in (D("0"), FOLLOWER_FUNDING)
        if p.status == Position.Status.CLOSED:
            assert p.margin == 0 and p.size == 0


def assert_round_matches_positions() -> None:
    rnd = FundingSettlement.objects.get(instrument__name="BTC-USDT-SWAP")
    funded = list(Position.objects.exclude(funding=0).values_list("funding", flat=True))
    assert rnd.completed_at is not None
    assert rnd.positions >= len(funded)
    assert rnd.paid_by_users == -sum(funded, D("0"))
    pool = Account.objects.filter(kind="funding_pool").values_list("balance", flat=True)
    assert sum(pool, D("0")) == rnd.paid_by_users - rnd.received_by_users


def test_funding_racing_the_mirror_of_a_lead_close(world):
    lead, lead_pos, copies = world
    lead_position_close(lead=lead, position=lead_pos, fraction="1")
    close = LeadEvent.objects.get(kind="close")
    # when funding (5 accounts per chunk) and the close's mirroring run at the same moment
    results, errors = run_together(
        lambda: funding_settle(chunk_size=3), lambda: lead_event_mirror(close.pk)
    )
    # then both finish; each follower position either paid its 0.05 before closing or closed first
    assert not errors, errors
    assert not Position.objects.filter(status="open").exists()
    for c in copies:
        c.refresh_from_db()
        assert_copy_books_agree(c)
    assert_round_matches_positions()


def test_funding_racing_stops(world):
    lead, lead_pos, copies = world
    stopping = copies[:6]
    results, errors = run_together(
        lambda: funding_settle(chunk_size=4),
        *[lambda c=c: copy_stop(copy=c, user=c.follower) for c in stopping],
    )
    assert not errors, errors
    for c in copies:
        c.refresh_from_db()
        assert_copy_books_agree(c)
    for c in stopping:
        assert c.status == Copy.Status.STOPPED
        assert Account.objects.get(pk=c.account_id).balance == 0
    # copies that kept their position all paid, and so did the lead
    for c in copies[6:]:
        assert Position.objects.get(account_id=c.account_id).funding == FOLLOWER_FUNDING
    assert Position.objects.get(pk=lead_pos.pk).funding == LEAD_FUNDING
    assert_round_matches_positions()


def test_two_funding_runs_at_once_settle_each_position_once(world):
    lead, lead_pos, copies = world
    results, errors = run_together(
        lambda: funding_settle(chunk_size=5), lambda: funding_settle(chunk_size=5)
    )
    assert not errors, errors
    assert set(Position.objects.values_list("funding", flat=True)) == {
        FOLLOWER_FUNDING,
        LEAD_FUNDING,
    }
    rnd = FundingSettlement.objects.get(instrument__name="BTC-USDT-SWAP")
    # 41 accounts (the lead's and 40 copies) in chunks of 5, shared by the two runs
    assert (rnd.positions, rnd.chunks) == (41, 9)
    assert rnd.paid_by_users == D("40") * D("0.05") + D("0.5")
    assert JournalEntry.objects.filter(kind="funding").count() == 9
    for c in copies:
        assert_copy_books_agree(c)
    assert_round_matches_positions()
