"""One event never blocks a lead: the lead cannot open without equity; an event the engine cannot
plan fails its copies (failed CopyEvent, "sync failed" notice) and the rest goes on; an event
whose mirroring crashes is retried a bounded number of times, then fails and stops holding the
lead's later events back; operators see failures on the dashboard and re-dispatch them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.accounts.models import Notification
from apps.copies import mirroring
from apps.copies.models import CopyEvent
from apps.core.exceptions import ApplicationError
from apps.positions import outbox
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


@pytest.fixture
def quiet_outbox(monkeypatch):
    """Events stay pending until the test mirrors them by hand."""
    monkeypatch.setattr(outbox, "_listeners", [])


@pytest.fixture
def max_attempts(settings):
    settings.SMART_SYNC = {**settings.SMART_SYNC, "EVENT_MAX_ATTEMPTS": 3}
    return 3


def _open(lead, margin="100", mode="cross", **kw):
    return lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side=kw.pop("side", "long"),
        margin_mode=mode,
        leverage=kw.pop("leverage", 5),
        margin=margin,
    )


def _mirror_all():
    for pk in (
        LeadEvent.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)
    ):
        mirroring.lead_event_mirror(pk)


def test_a_lead_cannot_open_while_their_equity_is_not_positive(btc):
    # given a lead with 1,000 whose 900 isolated 5x long (9 contracts) lost 1,350 at 35,000:
    # equity 1000 - 2.25 fee - 1350 < 0 while ~97.75 cash is still "available"
    lead = lead_make(equity="1000")
    _open(lead, margin="900", mode="isolated")
    set_price("BTC-USDT-SWAP", "35000")
    # when they try to open again
    with pytest.raises(ApplicationError) as refused:
        _open(lead, margin="50")
    # then it is refused with a message that says why and what to do
    assert refused.value.code == "no_equity"
    assert "equity" in refused.value.message and "above 0" in refused.value.message
    assert LeadEvent.objects.filter(kind="open").count() == 1


def test_an_event_the_engine_cannot_plan_fails_its_copies_and_blocks_nothing(btc, quiet_outbox):
    # given two copies and a lead open whose recorded equity before is 0 (an old bug's event)
    lead = lead_make()
    a, b = copy_make(lead), copy_make(lead)
    bad = _open(lead).events.get()
    LeadEvent.objects.filter(pk=bad.pk).update(lead_equity_before=D("0"))
    later = _open(lead, margin="200")
    later_event = later.events.get()

    # when mirroring runs
    _mirror_all()

    # then both copies have a failed claim for the bad event, with a notice, and the event is failed
    bad.refresh_from_db()
    assert bad.status == "failed" and "lead_equity_before" in bad.failure
    for copy in (a, b):
        claim = CopyEvent.objects.get(copy=copy, lead_event=bad)
        assert claim.kind == "failed" and claim.reason == "could not be mirrored"
        assert Notification.objects.filter(
            user=copy.follower, kind="sync_failed", message__startswith="Sync failed"
        ).exists()
    # and the later open was mirrored to both: nothing was blocked
    later_event.refresh_from_db()
    assert later_event.status == "mirrored"
    for copy in (a, b):
        assert Position.objects.filter(account_id=copy.account_id, status="open").count() == 1


def test_a_copy_the_engine_cannot_plan_fails_alone(btc, quiet_outbox, monkeypatch):
    # given two copies, one of which has figures the engine cannot read (equity NaN)
    lead = lead_make()
    good, broken = copy_make(lead), copy_make(lead)
    real = mirroring.engine.copy_state

    def copy_state(copy_id, figures, **kw):
        state = real(copy_id, figures, **kw)
        if copy_id == broken.pk:
            from dataclasses import replace

            return replace(state, equity=D("NaN"))
        return state

    monkeypatch.setattr(mirroring.engine, "copy_state", copy_state)
    event = _open(lead).events.get()
    # when mirroring runs
    _mirror_all()
    # then the broken copy has a failed claim and the good one its position; the event is done
    assert CopyEvent.objects.get(copy=broken, lead_event=event).kind == "failed"
    assert CopyEvent.objects.get(copy=good, lead_event=event).kind == "copied"
    assert Position.objects.filter(account_id=good.account_id).count() == 1
    assert not Position.objects.filter(account_id=broken.account_id).exists()
    event.refresh_from_db()
    assert event.status == "mirrored"


def test_a_crashing_event_holds_later_ones_back_until_it_fails_then_lets_them_go(
    btc, quiet_outbox, monkeypatch, max_attempts
):
    # given a copy, a lead open whose mirroring crashes every time, and a later open
    lead = lead_make()
    copy = copy_make(lead)
    crashing = _open(lead).events.get()
    later = _open(lead, margin="200").events.get()
    real = mirroring._mirror_range

    def mirror_range(ev, **kw):
        if ev.pk == crashing.pk:
            raise RuntimeError("boom")
        return real(ev, **kw)

    monkeypatch.setattr(mirroring, "_mirror_range", mirror_range)

    # when the chunk runs fewer times than the limit, the later event waits (order is kept)
    for attempt in range(1, max_attempts):
        mirroring.lead_event_mirror(later.pk)
        crashing.refresh_from_db()
        later.refresh_from_db()
        assert crashing.attempts == attempt and crashing.status == "pending"
        assert "RuntimeError: boom" in crashing.failure
        assert later.status == "pending"
        assert not Position.objects.filter(account_id=copy.account_id).exists()

    # and at the limit the crashing event fails and the later one is mirrored
    mirroring.lead_event_mirror(later.pk)
    crashing.refresh_from_db()
    later.refresh_from_db()
    assert crashing.status == "failed" and crashing.failed_at is not None
    assert CopyEvent.objects.get(copy=copy, lead_event=crashing).kind == "failed"
    assert later.status == "mirrored"
    assert Position.objects.filter(account_id=copy.account_id).count() == 1
    # and the pending-events sweeper no longer picks the failed one
    assert crashing.pk not in mirroring.lead_events_unmirrored(older_than_s=0)


def test_operators_see_failures_on_the_dashboard_and_redispatch_them(
    btc, quiet_outbox, monkeypatch, max_attempts, admin_client, django_capture_on_commit_callbacks
):
    # given an event that failed for a copy
    lead = lead_make()
    copy = copy_make(lead)
    event = _open(lead).events.get()
    real = mirroring._mirror_range
    monkeypatch.setattr(
        mirroring, "_mirror_range", lambda ev, **kw: (_ for _ in ()).throw(RuntimeError("x"))
    )
    for _ in range(max_attempts):
        mirroring.lead_event_mirror(event.pk)
    monkeypatch.setattr(mirroring, "_mirror_range", real)

    # then the dashboard counts it, with links to the lists
    page = admin_client.get("/admin/").content.decode()
    assert "Needs attention" in page
    assert mirroring.operations_summary()["failed_events"] == 1
    assert mirroring.operations_summary()["failed_copy_events"] == 1
    assert "/admin/positions/leadevent/?status__exact=failed" in page
    assert admin_client.get("/admin/copies/copyevent/?kind__exact=failed").status_code == 200

    # when an operator re-dispatches it (the bug was fixed)
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(
            "/admin/positions/leadevent/",
            {"action": "redispatch", "_selected_action": [event.pk]},
            follow=True,
        )
    assert "Re-dispatched lead event(s)" in r.content.decode()

    # then the copy gets the position, and nothing is failed any more
    event.refresh_from_db()
    assert event.status == "mirrored"
    assert CopyEvent.objects.get(copy=copy, lead_event=event).kind == "copied"
    assert Position.objects.filter(account_id=copy.account_id).count() == 1
    assert mirroring.operations_summary() == {
        "failed_events": 0,
        "failed_copy_events": 0,
        "pending_events": 0,
    }


def test_a_failed_open_of_a_position_the_lead_closed_since_is_not_redispatched(
    btc, quiet_outbox, max_attempts
):
    lead = lead_make()
    copy_make(lead)
    pos = _open(lead)
    event = pos.events.get()
    LeadEvent.objects.filter(pk=event.pk).update(lead_equity_before=D("0"))
    mirroring.lead_event_mirror(event.pk)
    lead_position_close(lead=lead, position=pos, fraction="1")
    result = mirroring.lead_events_redispatch(event_ids=[event.pk])
    assert result.dispatched == []
    assert result.refused == [(event.pk, "the lead has since closed this position")]
    event.refresh_from_db()
    assert event.status == "failed"
