"""Two stops of one copy at once, racing a risk pass and an operator's profit-share settlement
(PostgreSQL, real threads and connections): the position closes once, the profit share is
paid once and the cash returns once."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.copies.mirroring import lead_event_mirror
from apps.copies.models import Copy
from apps.copies.risk import risk_pass
from apps.copies.services import copy_stop
from apps.core.exceptions import Conflict
from apps.fees.models import ProfitShareSettlement
from apps.fees.services import profit_share_settle_active
from apps.ledger.models import Account
from apps.positions import outbox
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_open
from tests.concurrency.test_mirroring_races import run_together
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_two_stops_a_risk_pass_and_a_settlement_at_once_act_once(postgres, monkeypatch):
    monkeypatch.setattr(outbox, "_listeners", [])
    # given a copy of 1,000 holding 1 BTC contract cross (margin 100, fee 0.25), 10% share
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", ratio="0.10")
    copy = copy_make(lead, investment="1000", total_stop_loss="500")
    lead_position_open(
        lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross", leverage=5,
        margin="1000",
    )  # fmt: skip
    lead_event_mirror(LeadEvent.objects.get(kind="open").pk)
    assert Position.objects.get(account_id=copy.account_id).size == D("1.00")
    # and BTC at 60,000: closing realizes +100, fee 0.01 x 60,000 x 0.0005 = 0.3
    set_price("BTC-USDT-SWAP", "60000")
    lead_main = Account.objects.get(owner=lead.user, kind="main")
    lead_before = lead_main.balance

    # when two stops, a risk pass and an operator settlement run at once
    results, errors = run_together(
        lambda: copy_stop(copy=copy.pk, user=copy.follower),
        lambda: copy_stop(copy=copy.pk, user=copy.follower),
        lambda: risk_pass(instrument_ids=None),
        lambda: profit_share_settle_active(trigger=ProfitShareSettlement.Trigger.OPERATOR),
    )

    # then one stop wins and the other is told the copy has stopped
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    copy.refresh_from_db()
    assert copy.status == Copy.Status.STOPPED
    # R = 100 - 0.25 - 0.3 = 99.45 -> share 9.945 (a settlement before the stop saw R = -0.25
    # and owed nothing); 1,000 - 0.25 + 100 - 0.3 - 9.945 = 1,089.505 returns
    assert copy.profit_share_paid == D("9.945")
    lead_main.refresh_from_db()
    assert lead_main.balance - lead_before == D("9.945")
    assert Account.objects.get(pk=copy.account_id).balance == 0
    assert Account.objects.get(owner=copy.follower, kind="main").balance == D("1089.505")
    assert Position.objects.get(account_id=copy.account_id).status == "closed"
