"""The risk pass on PostgreSQL, from real threads and connections: two passes at once act once;
a stop loss racing the lead's close leaves one consistent outcome."""

from decimal import Decimal as D

import pytest

from apps.copies.models import Copy, CopyEvent
from apps.copies.risk import risk_pass
from apps.ledger.services import account_main
from apps.positions import outbox
from apps.positions.models import Fill, LeadEvent, Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.concurrency.test_mirroring_races import run_together
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = [pytest.mark.django_db(transaction=True)]


def _mirror_pending():
    from apps.copies.mirroring import lead_event_mirror

    for pk in (
        LeadEvent.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)
    ):
        lead_event_mirror(pk)


@pytest.fixture
def quiet(postgres, monkeypatch):
    """No dispatch and no risk pass on commit: the test mirrors and runs the passes itself, so
    each sees a known state."""
    from apps.market import hooks

    monkeypatch.setattr(outbox, "_listeners", [])
    monkeypatch.setattr(hooks, "_listeners", [])
    set_price("BTC-USDT-SWAP", "50000")


def test_two_concurrent_risk_passes_liquidate_each_position_once(quiet):
    # given a lead and 12 followers, all 5x isolated longs liquidatable at 30,000
    lead = lead_make(equity="1000")
    copies = [copy_make(lead, investment="1000") for _ in range(12)]
    lead_position_open(
        lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="isolated",
        leverage=5, margin="100",
    )  # fmt: skip
    _mirror_pending()
    assert Position.objects.filter(status="open").count() == 13
    set_price("BTC-USDT-SWAP", "30000")

    # when two passes run at the same moment
    results, errors = run_together(
        lambda: risk_pass(instrument_ids=None), lambda: risk_pass(instrument_ids=None)
    )

    # then every position was liquidated exactly once, by one of them
    assert not errors, errors
    assert sum(r.liquidated_positions for r in results) == 13
    assert Fill.objects.filter(action="liquidation").count() == 13
    assert Position.objects.filter(status="open").count() == 0
    assert CopyEvent.objects.filter(kind="liquidated").count() == 12
    assert LeadEvent.objects.filter(kind="liquidation").count() == 1
    for copy in copies:  # each follower lost exactly its 100 margin
        assert Copy.objects.get(pk=copy.pk).account.balance == D("899.75")


def test_stop_loss_racing_the_lead_close_has_one_outcome(quiet):
    # given a copy with a Total Stop Loss of 150 and the lead's position at a loss that
    # triggers it (PnL -150.25 at 35,000)
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000", total_stop_loss="150")
    pos = lead_position_open(
        lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross",
        leverage=5, margin="1000",
    )  # fmt: skip
    _mirror_pending()
    set_price("BTC-USDT-SWAP", "35000")

    # when the risk pass and the lead's close (then its mirror) race
    def close_and_mirror():
        lead_position_close(lead=lead, position=pos, fraction="1")
        _mirror_pending()

    results, errors = run_together(lambda: risk_pass(instrument_ids=None), close_and_mirror)

    # then the follower's position was closed once (by the stop or by the mirror) at 35,000
    assert not errors, errors
    fpos = Position.objects.get(account_id=copy.account_id)
    assert fpos.status == "closed"
    assert Fill.objects.filter(position=fpos, action="close").count() == 1
    # and whichever came first, the stop loss ends the copy with the same money back
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "stop_loss")
    assert account_main(user=copy.follower).balance == D("849.575")
