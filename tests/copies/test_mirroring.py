"""Every row of SPEC §5.3, through the real services and the mirroring task."""

from decimal import Decimal as D

import pytest

from apps.accounts.models import Notification
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures
from apps.copies.services import copy_investment_modify, copy_position_close
from apps.ledger.models import Account
from apps.positions.models import LeadEvent, Position
from apps.traders.services import (
    lead_position_close,
    lead_position_leverage,
    lead_position_margin,
    lead_position_open,
    lead_trader_end,
)
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def open_lead(lead, *, margin="1000", leverage=5, side="long", mode="cross"):
    return lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side=side,
        margin_mode=mode,
        leverage=leverage,
        margin=margin,
    )


def follower_position(copy):
    return Position.objects.get(account=copy.account)


def test_partial_close_mirrors_example_b(btc, mirror):
    # given the worked example: the follower holds 1 contract at 50,000, 100 margin
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead)
    # when the lead closes 40% at 52,000
    set_price(btc, "52000")
    mirror(lead_position_close, lead=lead, position=lead_pos, fraction="0.4")
    # then the follower closed 0.4: +8 realized, fee 0.104, 40 margin released
    pos = follower_position(copy)
    assert (pos.size, pos.margin, pos.realized_pnl) == (D("0.6"), D("60"), D("8"))
    assert pos.fees == D("0.25") + D("0.104")
    assert pos.status == "open"
    fill = pos.fills.get(action="close")
    assert (fill.price, fill.reference_price, fill.fee) == (D("52000"), D("52000"), D("0.104"))
    # cash: 1000 - 0.25 - 100 margin + 40 released + 8 - 0.104
    assert copy_figures(copy).cash == D("947.646")


def test_full_close_closes_every_linked_position(btc, mirror):
    lead = lead_make()
    copies = [copy_make(lead, investment="1000") for _ in range(3)]
    lead_pos = mirror(open_lead, lead)
    set_price(btc, "49000")
    mirror(lead_position_close, lead=lead, position=lead_pos, fraction="1")
    for c in copies:
        pos = follower_position(c)
        assert pos.status == "closed" and pos.size == 0 and pos.margin == 0
        assert pos.realized_pnl == D("-10")  # 1 ct x 0.01 x (49,000 - 50,000)
        assert pos.close_reason == "lead"
        assert copy_figures(c).margin_in_use == 0


def test_lead_liquidation_event_closes_follower_fully(btc, mirror):
    # the lead-side liquidation engine arrives with the risk issue; its event is mirrored now
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead, mode="isolated")
    from apps.copies.tasks import lead_event_dispatch

    event = LeadEvent.objects.create(
        account_id=lead.futures_account_id,
        kind="liquidation",
        position=lead_pos,
        instrument=lead_pos.instrument,
        side="long",
        margin_mode="isolated",
        leverage=5,
        fill_price=D("50000"),
        size=lead_pos.size,
        fraction=D("1"),
    )
    lead_event_dispatch(event.pk)
    assert follower_position(copy).status == "closed"


def test_leverage_down_moves_margin_when_cash_allows(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead)
    mirror(lead_position_leverage, lead=lead, position=lead_pos, leverage=2)
    pos = follower_position(copy)
    # entry notional 500 / 2 = 250
    assert (pos.leverage, pos.margin) == (2, D("250"))
    assert copy_figures(copy).available == D("749.75")


def test_leverage_down_without_cash_keeps_old_and_notifies(btc, mirror):
    # given the worked example, after which the follower took most free cash out
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead)
    copy_investment_modify(copy=copy, user=copy.follower, total_investment="150")
    assert copy_figures(copy).available == D("49.75")
    # when the lead goes from 5x to 1x (the follower would need 400 more margin)
    mirror(lead_position_leverage, lead=lead, position=lead_pos, leverage=1)
    # then the follower keeps 5x and is told to increase the investment
    pos = follower_position(copy)
    assert (pos.leverage, pos.margin) == (5, D("100"))
    ev = CopyEvent.objects.get(copy=copy, kind="sync_failed")
    assert "increase your investment" in ev.reason
    assert Notification.objects.filter(user=copy.follower, kind="sync_failed").exists()


def test_margin_add_is_proportional(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead, mode="isolated", leverage=50, margin="100")
    # follower: ratio 0.01 -> 10 margin at 50x -> 10 ct? 10 x 50 / 500 = 1 ct, margin 10
    pos = follower_position(copy)
    assert pos.margin == D("10")
    set_price(btc, "49500")  # margin level drops below 1,000%
    mirror(lead_position_margin, lead=lead, position=lead_pos, amount="50")
    pos.refresh_from_db()
    assert pos.margin == D("15")  # 50 x (10 / 100)


def test_margin_add_skipped_when_follower_is_already_safe(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead, mode="isolated", leverage=2, margin="1000")
    # 2x isolated: margin level = 250 / (500 x 0.0045) ~ 11,111% > 1,000%
    mirror(lead_position_margin, lead=lead, position=lead_pos, amount="100")
    pos = follower_position(copy)
    assert pos.margin == D("100")
    ev = CopyEvent.objects.get(copy=copy, lead_event__kind="margin_add")
    assert ev.kind == "skipped" and "1,000%" in ev.reason


def test_margin_reduce_never_below_initial_margin(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead, mode="isolated", leverage=50, margin="100")
    set_price(btc, "49500")
    mirror(lead_position_margin, lead=lead, position=lead_pos, amount="50")
    mirror(lead_position_margin, lead=lead, position=lead_pos, amount="-50")
    pos = follower_position(copy)
    assert pos.margin == D("10")  # back to entry notional / leverage


def test_strategy_ended_stops_copies_and_returns_funds(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    mirror(open_lead, lead)
    set_price(btc, "51000")
    mirror(lead_trader_end, lead=lead)
    copy.refresh_from_db()
    assert copy.status == "stopped" and copy.stop_reason == "lead_ended"
    assert Account.objects.get(pk=copy.account_id).balance == 0
    assert not Position.objects.filter(account=copy.account, status="open").exists()
    main = Account.objects.get(owner=copy.follower, kind="main")
    # 1000 - 0.25 open fee + 10 profit - 0.255 close fee - 10% profit share of 9.495
    assert main.balance == D("1000") - D("0.25") + D("10") - D("0.255") - D("0.9495")
    assert Notification.objects.filter(user=copy.follower, kind="lead_ended").exists()
    # the stopped copy's PnL is exactly what the follower gained: money back - money in
    assert copy_figures(copy).pnl == main.balance - D("1000")
    assert CopyEvent.objects.filter(copy=copy, kind="lead_ended").count() == 1


def test_event_on_unlinked_sub_position_changes_nothing(btc, mirror):
    # given a lead position opened before the copy started (not copied)
    lead = lead_make()
    lead_pos = mirror(open_lead, lead)
    copy = copy_make(lead, investment="1000")
    # when the lead closes it
    mirror(lead_position_close, lead=lead, position=lead_pos, fraction="0.5")
    # then the copy is untouched
    assert not Position.objects.filter(account=copy.account).exists()
    assert not CopyEvent.objects.filter(copy=copy, lead_event__isnull=False).exists()
    assert LeadEvent.objects.filter(status=LeadEvent.Status.PENDING).count() == 0


def test_position_closed_by_hand_ignores_later_lead_close(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead)
    pos = copy_position_close(copy=copy, position=follower_position(copy), user=copy.follower)
    assert pos.status == "closed" and pos.close_reason == "manual"
    funds = Account.objects.get(pk=copy.account_id).balance
    assert funds == D("1000") - D("0.25") - D("0.25")  # both fees; funds stay in the copy
    mirror(lead_position_close, lead=lead, position=lead_pos, fraction="1")
    assert Account.objects.get(pk=copy.account_id).balance == funds


def test_miss_when_price_moved_beyond_slippage(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    # the lead opens at 50,000; before the mirror runs the price rises 0.6%
    with django_capture_on_commit_callbacks() as callbacks:
        open_lead(lead)
    set_price(btc, "50300")
    for cb in callbacks:
        cb()
    ev = CopyEvent.objects.get(copy=copy, lead_event__isnull=False)
    assert ev.kind == "missed" and ev.reason == "price moved beyond slippage tolerance"
    assert not Position.objects.filter(account=copy.account).exists()
    assert Notification.objects.filter(user=copy.follower, kind="missed_copy").exists()


def test_small_move_within_tolerance_copies_at_own_price(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks() as callbacks:
        open_lead(lead)
    set_price(btc, "50200")  # +0.4%
    for cb in callbacks:
        cb()
    pos = follower_position(copy)
    assert (pos.entry_price, pos.lead_entry_price) == (D("50200"), D("50000"))


def test_bump_to_minimum_size(btc, mirror):
    # SPEC bump example: copy equity 100, ratio 0.003, 10x, BTC at 50,000 -> 0.01 ct, margin 0.5
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="100")
    mirror(open_lead, lead, margin="30", leverage=10)
    pos = follower_position(copy)
    assert (pos.size, pos.margin) == (D("0.01"), D("0.5"))
    assert pos.explanation["bumped"] is True
    assert pos.explanation["rounded_size"] == "0.00000000"


def test_miss_below_minimum_size_when_bump_exceeds_cap(btc, mirror):
    # ratio 0.0001 of 100 -> target 0.01 margin; the min size needs 0.5 (> 10x target)
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="100")
    mirror(open_lead, lead, margin="1", leverage=10)
    ev = CopyEvent.objects.get(copy=copy, lead_event__isnull=False)
    assert (ev.kind, ev.reason) == ("missed", "below minimum size")


def test_miss_when_cash_is_short(btc, mirror):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="100")
    mirror(open_lead, lead, margin="9990", leverage=1)  # uses ~100% of the follower's equity
    # the follower could only fit part: capped, not missed
    pos = follower_position(copy)
    assert pos.margin + pos.fees <= D("100")
    # the next open finds no cash left for the minimum size
    mirror(open_lead, lead, margin="5", leverage=1)
    ev = CopyEvent.objects.filter(copy=copy, lead_event__isnull=False).order_by("-id").first()
    assert (ev.kind, ev.reason) == ("missed", "insufficient available balance")


def test_copy_ongoing_positions_opens_current_lead_positions(btc, mirror):
    lead = lead_make()
    mirror(open_lead, lead)  # 1,000 of 10,000 equity
    copy = copy_make(lead, investment="1000", copy_ongoing_positions=True)
    pos = follower_position(copy)
    # ratio = 1000 / (10,000 - 2.5 fee) -> 100.02 target -> 1 ct at 5x
    assert (pos.size, pos.leverage, pos.margin_mode) == (D("1"), 5, "cross")
    assert pos.explanation["source"] == "Copy Ongoing Positions"


def test_copy_started_after_event_does_not_get_it(btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    with django_capture_on_commit_callbacks() as callbacks:
        open_lead(lead)
    copy = copy_make(lead, investment="1000")
    for cb in callbacks:
        cb()
    assert not Position.objects.filter(account=copy.account).exists()


def test_mirroring_twice_is_a_no_op(btc, mirror):
    from apps.copies.mirroring import lead_event_mirror

    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    lead_pos = mirror(open_lead, lead)
    event = LeadEvent.objects.get(position=lead_pos, kind="open")
    assert lead_event_mirror(event.pk) == 0
    assert Position.objects.filter(account=copy.account).count() == 1
    assert CopyEvent.objects.filter(copy=copy, lead_event=event).count() == 1


def test_events_are_mirrored_in_order_even_if_tasks_arrive_reversed(
    btc, django_capture_on_commit_callbacks
):
    from apps.copies.mirroring import lead_event_mirror

    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks():
        lead_pos = open_lead(lead)
    with django_capture_on_commit_callbacks():
        lead_position_close(lead=lead, position=lead_pos, fraction="1")
    close_event = LeadEvent.objects.get(kind="close")
    # only the close's task arrives: it catches up the open first
    lead_event_mirror(close_event.pk)
    pos = follower_position(copy)
    assert pos.status == "closed"
    assert LeadEvent.objects.filter(status=LeadEvent.Status.PENDING).count() == 0


def test_stop_loss_copy_not_copying_gets_no_new_opens(btc, mirror):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    Copy.objects.filter(pk=copy.pk).update(copying=False)
    mirror(open_lead, lead)
    assert not Position.objects.filter(account=copy.account).exists()


def test_dispatching_a_close_first_catches_up_its_open(btc, django_capture_on_commit_callbacks):
    from apps.copies.tasks import lead_event_dispatch

    # given an open and its close, neither mirrored (both messages delayed)
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks():
        lead_pos = open_lead(lead)
    with django_capture_on_commit_callbacks():
        lead_position_close(lead=lead, position=lead_pos, fraction="1")
    close_event = LeadEvent.objects.get(kind="close")
    # when only the close's dispatch arrives (it has no eligible copy yet: nothing is linked)
    lead_event_dispatch(close_event.pk)
    # then it is not marked done early: the open is mirrored first, then the close
    pos = follower_position(copy)
    assert pos.status == "closed" and pos.close_reason == "lead"
    assert not LeadEvent.objects.filter(status=LeadEvent.Status.PENDING).exists()
