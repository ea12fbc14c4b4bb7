"""Races on PostgreSQL with real threads and connections: duplicate delivery, two workers
taking overlapping chunks, and stop copying while an event is being mirrored."""

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from apps.copies.mirroring import lead_event_mirror
from apps.copies.models import Copy, CopyEvent
from apps.copies.services import copy_stop
from apps.ledger.models import Account
from apps.positions import outbox
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = [pytest.mark.django_db(transaction=True)]


def run_together(*fns):
    """Start every fn at the same moment in its own thread and connection; re-raise errors."""
    barrier = threading.Barrier(len(fns))
    results, errors = [None] * len(fns), []

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


@pytest.fixture
def unmirrored_open(postgres, monkeypatch):
    """A lead with 30 copies and an open that nobody has mirrored yet."""
    monkeypatch.setattr(outbox, "_listeners", [])
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make()
    copies = [copy_make(lead, investment="1000") for _ in range(30)]
    lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    event = LeadEvent.objects.get(kind="open")
    return event, copies


def assert_mirrored_once(event, copies):
    for c in copies:
        assert CopyEvent.objects.filter(copy=c, lead_event=event).count() == 1
        assert Position.objects.filter(account_id=c.account_id).count() == 1
        assert Account.objects.get(pk=c.account_id).balance == D("999.75")


def test_same_event_delivered_twice_at_once_mirrors_once(unmirrored_open):
    event, copies = unmirrored_open
    results, errors = run_together(
        lambda: lead_event_mirror(event.pk), lambda: lead_event_mirror(event.pk)
    )
    assert not errors
    assert sorted(results) == [0, 30]
    assert_mirrored_once(event, copies)
    event.refresh_from_db()
    assert event.mirrored_at is not None and event.status == "mirrored"


def test_two_workers_with_overlapping_chunks_mirror_once(unmirrored_open):
    event, copies = unmirrored_open
    ids = sorted(c.pk for c in copies)
    results, errors = run_together(
        lambda: lead_event_mirror(event.pk, lo=ids[0], hi=ids[19]),
        lambda: lead_event_mirror(event.pk, lo=ids[10], hi=ids[29]),
        lambda: lead_event_mirror(event.pk, lo=ids[5], hi=ids[25]),
    )
    assert not errors
    assert sum(results) == 30
    assert_mirrored_once(event, copies)


def test_stop_copying_while_mirroring_leaves_a_consistent_state(unmirrored_open):
    event, copies = unmirrored_open
    victims = copies[::5]
    results, errors = run_together(
        lambda: lead_event_mirror(event.pk),
        *[lambda c=c: copy_stop(copy=c, user=c.follower) for c in victims],
    )
    assert not errors, errors
    for c in victims:
        c.refresh_from_db()
        assert c.status == Copy.Status.STOPPED
        # a stopped copy holds no money and no open position, whichever ran first
        assert Account.objects.get(pk=c.account_id).balance == 0
        assert not Position.objects.filter(account_id=c.account_id, status="open").exists()
    for c in copies:
        if c not in victims:
            assert Position.objects.filter(account_id=c.account_id, status="open").count() == 1
    # every copy got the event at most once
    assert CopyEvent.objects.filter(lead_event=event).count() <= 30


@pytest.fixture
def unmirrored_spot_buys(postgres, monkeypatch):
    """A spot lead with 20 spot copies, a first buy mirrored and a second one not yet."""
    from apps.ledger.services import deposit_credit
    from apps.traders.services import lead_spot_buy, lead_transfer

    set_price("BTC-USDT", "50000")
    lead = lead_make(equity="0")
    deposit_credit(user=lead.user, amount=D("10000"), key=f"spot:{lead.pk}")
    lead_transfer(lead=lead, market="spot", direction="in", amount="10000")
    copies = [copy_make(lead, investment="1000", market="spot") for _ in range(20)]
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")  # mirrored on commit
    monkeypatch.setattr(outbox, "_listeners", [])
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="2000")  # not yet
    event = LeadEvent.objects.filter(kind="spot_buy").latest("pk")
    return event, copies


def test_a_spot_buy_delivered_twice_and_in_overlapping_chunks_adds_once(unmirrored_spot_buys):
    # given 20 copies each holding 0.002 BTC from the first buy (ratio 0.1 of 1,000)
    event, copies = unmirrored_spot_buys
    ids = sorted(c.pk for c in copies)
    # when the second buy (2,000 of 8,999 + 1,000 = 9,999 equity) is mirrored by duplicate and
    # overlapping deliveries at once
    results, errors = run_together(
        lambda: lead_event_mirror(event.pk),
        lambda: lead_event_mirror(event.pk),
        lambda: lead_event_mirror(event.pk, lo=ids[5], hi=ids[15]),
    )
    assert not errors, errors
    assert sum(results) == 20
    # then each copy added to its one holding exactly once: 2,000 / 9,999 x 999.9 = 200 USDT
    # exactly (999.9 / 9,999 = 0.1) -> 0.004 BTC on top of 0.002
    for c in copies:
        assert CopyEvent.objects.filter(copy=c, lead_event=event).count() == 1
        [h] = Position.objects.filter(account_id=c.account_id)
        assert h.size == D("0.006") and h.margin == D("300")
        assert Fill_count(h) == 2


def Fill_count(position) -> int:  # noqa: N802 - reads like the assertion it serves
    from apps.positions.models import Fill

    return Fill.objects.filter(position=position).count()
