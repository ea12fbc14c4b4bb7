"""SPEC §8 through the real settlement services: the high-water mark, rounding down, the ledger,
what is owed when a copy's cash is short, the write-off on stop, and the notices.

Realized PnL is booked through the positions service (tests/fees/conftest.py), so R is what
copies.selectors computes; expected values are SPEC's or computed by hand in the comments."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Notification
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures
from apps.copies.services import copy_stop
from apps.fees.models import ProfitShareSettlement
from apps.fees.services import profit_share_settle_active, profit_share_settle_many
from apps.ledger.models import Account
from tests.factories.trading import copy_make, lead_make, set_price
from tests.fees.conftest import book_realized, close_direct, open_direct

pytestmark = pytest.mark.django_db


def settle(copy, realized):
    with transaction.atomic():
        return profit_share_settle_many(
            copies=[copy], realized={copy.pk: D(realized)}, trigger="weekly"
        )[copy.pk]


def weekly(week: int) -> int:
    """The weekly service as beat runs it, ``week`` weeks from now."""
    return profit_share_settle_active(trigger="weekly", now=timezone.now() + timedelta(weeks=week))


def balance(account_id) -> D:
    return Account.objects.get(pk=account_id).balance


def lead_main(lead) -> D:
    return Account.objects.get(owner=lead.user, kind="main").balance


def test_weeks_of_200_minus_150_100_150_pay_20_0_0_10():
    # given a 10% lead and a copy (R is cumulative: 200, 50, 150, 300)
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    before = lead_main(lead)
    # when four weekly settlements run
    paid = [settle(copy, r) for r in ("200", "50", "150", "300")]
    # then
    assert paid == [D("20"), D("0"), D("0"), D("10")]
    assert copy.high_water_mark == D("300") and copy.profit_share_paid == D("30")
    assert lead_main(lead) - before == D("30")
    assert balance(copy.account_id) == D("970")
    assert ProfitShareSettlement.objects.filter(copy=copy).count() == 4
    # and the total paid never exceeds ratio x the highest R reached (SPEC §11.6)
    assert copy.profit_share_paid <= D("0.10") * D("300")


def test_share_rounds_down_to_8_places():
    lead = lead_make(ratio="0.15")
    copy = copy_make(lead, investment="1000")
    assert settle(copy, "0.00000013") == D("0.00000001")  # 0.0000000195 rounded down


def test_spec_four_weeks_through_the_weekly_service(btc):
    # given a 10% lead and a copy of 1,000 whose trades realize +200, -150, +100, +150
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    before = lead_main(lead)
    paid = []
    for week, pnl in enumerate(("200", "-150", "100", "150"), start=1):
        book_realized(copy, pnl)
        # when beat's weekly settlement runs at the end of each week
        assert weekly(week) == 1
        s = ProfitShareSettlement.objects.filter(copy=copy).order_by("-id").first()
        paid.append(s.share)
    # then SPEC §8: 20, 0, 0, 10
    assert paid == [D("20"), D("0"), D("0"), D("10")]
    rows = list(ProfitShareSettlement.objects.filter(copy=copy).order_by("id"))
    assert [r.realized for r in rows] == [D("200"), D("50"), D("150"), D("300")]
    assert [r.high_water_after for r in rows] == [D("200"), D("200"), D("200"), D("300")]
    assert [r.due for r in rows] == [D("20"), D("0"), D("0"), D("10")]
    assert {r.trigger for r in rows} == {"weekly"}
    assert all(r.owed_after == 0 for r in rows)
    # the money: 1,000 + 300 realized - 30 shared stays in the copy; the lead got 30
    assert balance(copy.account_id) == D("1270")
    assert lead_main(lead) - before == D("30")
    copy.refresh_from_db()
    assert (copy.high_water_mark, copy.profit_share_paid, copy.profit_share_owed) == (
        D("300"),
        D("30"),
        D("0"),
    )
    # the ledger entries are keyed per settlement: profit-share:<copy>:<n>
    keys = [r.entry.idempotency_key for r in rows if r.entry_id]
    assert keys == [f"profit-share:{copy.pk}:1", f"profit-share:{copy.pk}:4"]


def test_a_repeated_weekly_run_settles_nothing_twice(btc):
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "200")
    assert weekly(0) == 1
    # when the same weekly task is delivered again (or overlaps) minutes later
    assert weekly(0) == 0
    # then one settlement, 20 paid once
    assert ProfitShareSettlement.objects.filter(copy=copy).count() == 1
    assert balance(copy.account_id) == D("1180")


def test_short_cash_is_owed_and_paid_first_at_the_next_settlement(btc):
    # given a copy of 1,000 that realized +200 (R = 200, H = 0) and then put 1,190 of its
    # 1,200 into margin: its free cash is 10
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "200")
    pos = open_direct(copy.account_id, size="1", margin="1190", leverage=1)
    before = lead_main(lead)
    # when the weekly settlement runs
    weekly(1)
    # then it pays the 10 it can, owes 10, and the mark moves to R (the debt carries the rest)
    s1 = ProfitShareSettlement.objects.get(copy=copy)
    assert (s1.due, s1.share, s1.owed_after, s1.high_water_after) == (
        D("20"),
        D("10"),
        D("10"),
        D("200"),
    )
    copy.refresh_from_db()
    assert copy.profit_share_owed == D("10")
    assert balance(copy.account_id) == D("1190")  # the margin in use is untouched
    # and the follower sees it pending: owed 10 + 10% of (R - H) = 10 + 0
    assert copy_figures(copy).profit_share_pending == D("10")
    # when the position closes flat (R stays 200) and the next week settles
    close_direct(pos, realized="0")
    weekly(2)
    # then the owed 10 is paid first and nothing more: 20 in total = 10% of the highest R
    s2 = ProfitShareSettlement.objects.filter(copy=copy).order_by("-id").first()
    assert (s2.due, s2.share, s2.owed_after) == (D("10"), D("10"), D("0"))
    copy.refresh_from_db()
    assert (copy.profit_share_paid, copy.profit_share_owed) == (D("20"), D("0"))
    assert lead_main(lead) - before == D("20")
    assert balance(copy.account_id) == D("1180")
    assert copy.profit_share_paid <= D("0.10") * max(s1.realized, s2.realized)


def test_unpaid_debt_and_new_profit_add_up_without_loss(btc):
    # given a copy whose free cash is 0 when 20 is due: nothing is paid, 20 is owed
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "200")
    pos = open_direct(copy.account_id, size="1", margin="1200", leverage=1)
    weekly(1)
    s1 = ProfitShareSettlement.objects.get(copy=copy)
    assert (s1.due, s1.share, s1.owed_after, s1.entry_id) == (D("20"), D("0"), D("20"), None)
    # when it later realizes +100 more (R = 300) and has cash again
    close_direct(pos, realized="100")
    weekly(2)
    # then due = 20 owed + 10% x (300 - 200) = 30, all paid
    s2 = ProfitShareSettlement.objects.filter(copy=copy).order_by("-id").first()
    assert (s2.due, s2.share, s2.owed_after, s2.high_water_after) == (
        D("30"),
        D("30"),
        D("0"),
        D("300"),
    )
    assert balance(copy.account_id) == D("1270")  # 1,000 + 300 - 30


def test_settlement_never_takes_margin_or_a_cross_loss_and_never_goes_negative(btc):
    # given R = 200 and 1,150 of 1,200 in a cross long whose unrealized loss is 60
    # (1 contract from 50,000 to 44,000 = -60): available = 1,200 - 1,150 - 60 < 0 -> 0
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "200")
    open_direct(copy.account_id, size="1", margin="1150", leverage=1)
    set_price("BTC-USDT-SWAP", "44000")
    # when the weekly settlement runs
    weekly(1)
    # then nothing is paid (it would eat the margin backing the loss); all 20 is owed
    s = ProfitShareSettlement.objects.get(copy=copy)
    assert (s.due, s.share, s.owed_after) == (D("20"), D("0"), D("20"))
    assert balance(copy.account_id) == D("1200")
    assert Account.objects.filter(balance__lt=0, kind__in=Account.USER_KINDS).count() == 0


def test_on_stop_what_cannot_be_paid_is_written_off_and_recorded(btc):
    # given a 100 copy that realized +200 (balance 300) and holds a 0.59 contract cross long at
    # 50,000 with 295 margin (notional 295, 1x): free cash 5
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="100")
    book_realized(copy, "200")
    open_direct(copy.account_id, size="0.59", margin="295", leverage=1)
    before = lead_main(lead)
    weekly(1)  # due 20, pays 5, owes 15
    copy.refresh_from_db()
    assert copy.profit_share_owed == D("15")
    # when BTC falls to 1,000 and the follower stops: the close realizes
    # 0.59 x 0.01 x (1,000 - 50,000) = -289.1, fee 0.59 x 0.01 x 1,000 x 0.0005 = 0.00295,
    # leaving 295 - 289.1 - 0.00295 = 5.89705
    set_price("BTC-USDT-SWAP", "1000")
    copy_stop(copy=copy, user=copy.follower)
    # then the 15 owed is paid as far as the cash goes and the rest is written off
    s = ProfitShareSettlement.objects.filter(copy=copy).order_by("-id").first()
    assert s.trigger == "stop"
    assert (s.due, s.share, s.owed_after) == (D("15"), D("5.89705"), D("0"))
    assert s.due - s.share - s.owed_after == D("9.10295")  # written off
    copy.refresh_from_db()
    assert copy.status == Copy.Status.STOPPED
    assert (copy.profit_share_owed, copy.profit_share_paid) == (D("0"), D("10.89705"))
    assert lead_main(lead) - before == D("10.89705")
    assert balance(copy.account_id) == 0
    ev = CopyEvent.objects.filter(copy=copy, kind="profit_share").order_by("-id").first()
    assert ev.explanation["written_off"] == "9.10295000"
    assert "9.10 USDT" in ev.reason and "written off" in ev.reason


def test_follower_and_lead_are_told_in_words(btc):
    lead = lead_make(ratio="0.10", nickname="Whale")
    copies = [copy_make(lead, investment="1000") for _ in range(2)]
    book_realized(copies[0], "1234.5")  # 10% = 123.45
    book_realized(copies[1], "10")  # 10% = 1
    weekly(1)
    follower_notice = Notification.objects.get(user=copies[0].follower, kind="profit_share")
    assert follower_notice.message == (
        "Profit share settled on your copy of Whale (weekly settlement): 123.45 USDT paid to Whale."
    )
    # one notice for the lead for the whole run, summing both copies
    lead_notice = Notification.objects.get(user=lead.user, kind="profit_share")
    assert lead_notice.message == (
        "Profit share (weekly settlement): you earned 124.45 USDT from 2 copies, paid to your "
        "main account."
    )
    ev = CopyEvent.objects.get(copy=copies[0], kind="profit_share")
    assert ev.amount == D("-123.45")
    assert ev.reason == "Profit share (10.00%): 123.45 USDT paid"


def test_nothing_due_writes_a_settlement_but_no_notice_or_event(btc):
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "-50")
    weekly(1)
    s = ProfitShareSettlement.objects.get(copy=copy)
    assert (s.realized, s.due, s.share, s.high_water_after) == (D("-50"), 0, 0, 0)
    assert not Notification.objects.filter(kind="profit_share").exists()
    assert not CopyEvent.objects.filter(kind="profit_share").exists()


def test_operator_settlement_settles_every_active_copy_each_time(btc):
    lead = lead_make(ratio="0.20")
    copies = [copy_make(lead, investment="1000") for _ in range(3)]
    copy_stop(copy=copies[2], user=copies[2].follower)
    book_realized(copies[0], "50")
    # when an operator settles twice in a row (chunks of 1 copy)
    assert profit_share_settle_active(trigger="operator", chunk_size=1) == 2
    assert profit_share_settle_active(trigger="operator", chunk_size=1) == 2
    # then the 10 (20% of 50) is paid once; the stopped copy is not settled again
    assert [s.share for s in ProfitShareSettlement.objects.filter(copy=copies[0])] == [0, D("10")]
    assert ProfitShareSettlement.objects.filter(copy=copies[2], trigger="operator").count() == 0


def _statements_for_weekly(copies: int, week: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lead = lead_make(ratio="0.10")
    made = [copy_make(lead, investment="1000") for _ in range(copies)]
    for c in made:
        book_realized(c, "10")
    with CaptureQueriesContext(connection) as ctx:
        assert weekly(week) >= copies
    for c in made:
        copy_stop(copy=c, user=c.follower)
    return len(ctx.captured_queries)


def test_a_weekly_chunk_costs_the_same_statements_for_3_or_30_copies(btc):
    assert _statements_for_weekly(3, week=1) == _statements_for_weekly(30, week=2)
