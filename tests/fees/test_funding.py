"""Funding (SPEC §4) through the real service: signs for long and short with a positive and a
negative rate, rounding toward zero, isolated margin vs cross cash, once per slot (also after a
crash mid-round), shortfall when an account cannot pay, the copy history and the daily digest.
Expected amounts are computed by hand in the comments: size x contract value x mark x rate."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django_celery_beat.models import PeriodicTask

from apps.accounts.models import Notification
from apps.copies.models import CopyEvent
from apps.core.exceptions import ApplicationError
from apps.fees import services
from apps.fees.models import FundingSettlement
from apps.fees.services import funding_digest_notify, funding_settle, funding_slot
from apps.fees.tasks import funding_settle_due
from apps.ledger.models import Account, JournalEntry
from apps.market.services import price_set
from apps.positions.models import Position
from tests.factories.ledger import account_funded
from tests.factories.trading import copy_make, lead_make, set_price
from tests.fees.conftest import backdate_positions, open_direct

pytestmark = pytest.mark.django_db


def balance(account_id) -> D:
    return Account.objects.get(pk=account_id).balance


def pool() -> D:
    acc = Account.objects.filter(kind="funding_pool").first()
    return acc.balance if acc else D("0")


def funded(pos: Position) -> tuple[D, D]:
    pos.refresh_from_db()
    return pos.funding, pos.margin


@pytest.fixture
def lead_and_copy(btc):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    return lead, copy


def test_positive_rate_longs_pay_and_shorts_receive(lead_and_copy):
    # given BTC at 50,000, rate 0.0001 (the default), and four positions held at the slot
    lead, copy = lead_and_copy
    c_long = open_direct(copy.account_id, side="long", mode="cross", size="1", margin="100")
    c_short = open_direct(copy.account_id, side="short", mode="isolated", size="2", margin="200")
    l_long = open_direct(lead.futures_account_id, side="long", mode="isolated", size="10", margin="1000")  # fmt: skip
    l_short = open_direct(lead.futures_account_id, side="short", mode="cross", size="3", margin="300")  # fmt: skip
    slot = funding_slot()
    backdate_positions(slot)
    # when the slot is settled
    run = funding_settle(slot=slot)
    # then 1 x 0.01 x 50,000 x 0.0001 = 0.05 per contract: longs pay, shorts receive
    assert funded(c_long) == (D("-0.05"), D("100"))  # cross: from cash, margin unchanged
    assert funded(c_short) == (D("0.1"), D("200.1"))  # isolated: into its margin
    assert funded(l_long) == (D("-0.5"), D("999.5"))  # isolated: from its margin
    assert funded(l_short) == (D("0.15"), D("300"))
    assert balance(copy.account_id) == D("1000.05")  # 1,000 - 0.05 + 0.10
    assert balance(lead.futures_account_id) == D("9999.65")  # 10,000 - 0.50 + 0.15
    assert pool() == D("0.3")  # 0.05 + 0.50 - 0.10 - 0.15
    (rnd,) = run.settled
    assert (rnd.rate, rnd.mark, rnd.positions) == (D("0.0001"), D("50000"), 4)
    assert (rnd.paid_by_users, rnd.received_by_users, rnd.shortfall) == (
        D("0.55"),
        D("0.25"),
        D("0"),
    )
    assert rnd.completed_at is not None
    assert rnd.entry.idempotency_key == f"funding:BTC-USDT-SWAP:{slot.isoformat()}:1"
    assert rnd.entry.kind == JournalEntry.Kind.FUNDING
    # one history line for the copy with its net funding of the round
    ev = CopyEvent.objects.get(copy=copy, kind="funding")
    assert ev.amount == D("0.05")
    assert ev.reason.startswith("Funding BTC-USDT-SWAP ") and "at 0.0100%: received 0.05 USDT" in ev.reason  # fmt: skip


def test_negative_rate_shorts_pay_and_longs_receive(lead_and_copy):
    # given BTC at 40,000 with rate -0.0002
    lead, copy = lead_and_copy
    price_set(instrument="BTC-USDT-SWAP", price=D("40000"), funding_rate=D("-0.0002"))
    c_long = open_direct(copy.account_id, side="long", size="1", price="40000", margin="80")
    c_short = open_direct(copy.account_id, side="short", size="2", price="40000", margin="160")
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    # then 1 x 0.01 x 40,000 x 0.0002 = 0.08 per contract: the long receives, the short pays
    assert funded(c_long)[0] == D("0.08")
    assert funded(c_short)[0] == D("-0.16")
    assert balance(copy.account_id) == D("999.92")
    assert pool() == D("0.08")


def test_amounts_round_toward_zero_for_payer_and_receiver(lead_and_copy):
    # given ETH at 3,333.33, rate 0.00012345: 0.07 x 0.1 x 3,333.33 x 0.00012345
    # = 23.33331 x 0.00012345 = 0.0028804971195 -> 0.00288049 both ways (never up to ...50)
    lead, copy = lead_and_copy
    price_set(instrument="ETH-USDT-SWAP", price=D("3333.33"), funding_rate=D("0.00012345"))
    args = {"instrument": "ETH-USDT-SWAP", "size": "0.07", "price": "3333.33", "margin": "5"}
    long = open_direct(copy.account_id, side="long", **args)
    short = open_direct(lead.futures_account_id, side="short", **args)
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    assert funded(long)[0] == D("-0.00288049")
    assert funded(short)[0] == D("0.00288049")
    assert pool() == D("0")
    eth = FundingSettlement.objects.get(instrument__name="ETH-USDT-SWAP")
    assert (eth.paid_by_users, eth.received_by_users) == (D("0.00288049"), D("0.00288049"))


def test_positions_opened_after_the_funding_time_do_not_pay(lead_and_copy):
    lead, copy = lead_and_copy
    slot = funding_slot()
    held = open_direct(copy.account_id)
    backdate_positions(slot)
    later = open_direct(copy.account_id)  # opened now, after the slot
    funding_settle(slot=slot)
    assert funded(held)[0] == D("-0.05")
    assert funded(later)[0] == D("0")


def test_a_slot_is_settled_once(lead_and_copy):
    lead, copy = lead_and_copy
    pos = open_direct(copy.account_id)
    slot = funding_slot()
    backdate_positions(slot)
    first = funding_settle(slot=slot)
    # when the same slot is settled again (a retried task, the operator endpoint)
    second = funding_settle(slot=slot)
    # then nothing moves again
    assert [r.pk for r in second.already] == [r.pk for r in first.settled] and not second.settled
    assert funded(pos)[0] == D("-0.05")
    assert balance(copy.account_id) == D("999.95")
    assert JournalEntry.objects.filter(kind="funding").count() == 1
    assert CopyEvent.objects.filter(kind="funding").count() == 1


def test_a_round_interrupted_between_chunks_resumes_without_paying_twice(btc, monkeypatch):
    # given three copies with a long each, settled one account per chunk
    lead = lead_make()
    copies = [copy_make(lead, investment="1000") for _ in range(3)]
    positions = [open_direct(c.account_id) for c in copies]
    slot = funding_slot()
    backdate_positions(slot)
    real_events = services._funding_events
    calls = []

    def crash_on_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_events(*args)

    monkeypatch.setattr(services, "_funding_events", crash_on_second_chunk)
    # when the first run dies in its second chunk
    with pytest.raises(RuntimeError):
        funding_settle(slot=slot, chunk_size=1)
    rnd = FundingSettlement.objects.get(instrument__name="BTC-USDT-SWAP")
    assert (rnd.chunks, rnd.completed_at) == (1, None)
    # and the task runs again
    funding_settle(slot=slot, chunk_size=1)
    # then every position paid exactly once, in three chunk entries
    assert [funded(p)[0] for p in positions] == [D("-0.05")] * 3
    assert [balance(c.account_id) for c in copies] == [D("999.95")] * 3
    rnd.refresh_from_db()
    assert (rnd.chunks, rnd.positions, rnd.paid_by_users) == (3, 3, D("0.15"))
    assert rnd.completed_at is not None
    assert JournalEntry.objects.filter(kind="funding").count() == 3


def test_isolated_funding_never_takes_more_than_its_margin(lead_and_copy):
    # given a 100x isolated long of 1 contract: margin 5, and rate 0.03 -> 15 due
    lead, copy = lead_and_copy
    price_set(instrument="BTC-USDT-SWAP", price=D("50000"), funding_rate=D("0.03"))
    pos = open_direct(copy.account_id, mode="isolated", margin="5", leverage=100)
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    # then it pays its 5 of margin; the other 10 is a recorded shortfall (the copy's free cash
    # is not the isolated position's)
    assert funded(pos) == (D("-5"), D("0"))
    assert balance(copy.account_id) == D("995")
    rnd = FundingSettlement.objects.get(instrument__name="BTC-USDT-SWAP")
    assert (rnd.paid_by_users, rnd.shortfall) == (D("5"), D("10"))
    ev = CopyEvent.objects.get(copy=copy, kind="funding")
    assert ev.amount == D("-5") and ev.explanation["shortfall"] == "10.00000000"
    assert "(10.00 USDT could not be paid: the balance was short)" in ev.reason


def test_an_account_that_cannot_pay_in_full_pays_its_balance_and_never_goes_negative(btc):
    # given an account holding only 5, all of it the margin of a 100x cross long; rate 0.03
    price_set(instrument="BTC-USDT-SWAP", price=D("50000"), funding_rate=D("0.03"))
    account = account_funded(kind="copy", amount="5")
    pos = open_direct(account.pk, mode="cross", margin="5", leverage=100)
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    # then 15 is due, 5 is paid, 10 is the shortfall, and the balance is 0, not -10
    assert funded(pos)[0] == D("-5")
    assert balance(account.pk) == D("0")
    rnd = FundingSettlement.objects.get(instrument__name="BTC-USDT-SWAP")
    assert (rnd.paid_by_users, rnd.shortfall) == (D("5"), D("10"))
    assert pool() == D("5")


def test_followers_get_one_funding_digest_per_day(btc):
    # given a follower with two copies: a long (pays 0.05) and a 2-contract short (receives
    # 0.10), settled at two funding times of the same day
    follower_lead_a, follower_lead_b = lead_make(), lead_make()
    copy_a = copy_make(follower_lead_a, investment="1000", balance="2000")
    copy_b = copy_make(follower_lead_b, investment="1000", follower=copy_a.follower)
    open_direct(copy_a.account_id, side="long")
    open_direct(copy_b.account_id, side="short", size="2", margin="200")
    now = datetime.now(UTC)
    slots = [funding_slot() - timedelta(hours=8), funding_slot()]
    backdate_positions(slots[0])
    for slot in slots:
        funding_settle(slot=slot)
    # when the digest runs for the day (twice: a repeated task)
    assert funding_digest_notify(day=now.date()) == 1
    assert funding_digest_notify(day=now.date()) == 0
    # then one notice: paid 2 x 0.05, received 2 x 0.10
    (n,) = Notification.objects.filter(user=copy_a.follower, kind="funding")
    assert n.message == (
        f"Funding on {now:%d %b %Y} across your 2 copies: paid 0.10 USDT and received 0.20 USDT "
        "(net 0.10 USDT). Funding is settled every 8 hours on open positions."
    )
    assert n.data["funding_day"] == now.date().isoformat()
    assert CopyEvent.objects.filter(kind="funding").count() == 4


@pytest.mark.parametrize(
    ("at", "slot"),
    [
        ("2026-12-01T07:59:59", "2026-12-01T00:00:00"),
        ("2026-12-01T08:00:00", "2026-12-01T08:00:00"),
        ("2026-12-01T23:59:00", "2026-12-01T16:00:00"),
    ],
)
def test_funding_slot_is_the_latest_of_00_08_16_utc(at, slot):
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
    assert funding_slot(moment) == datetime.fromisoformat(slot).replace(tzinfo=UTC)


def test_only_past_funding_times_can_be_settled():
    with pytest.raises(ApplicationError, match="00:00, 08:00 and 16:00"):
        funding_settle(slot=funding_slot() + timedelta(hours=1))
    with pytest.raises(ApplicationError, match="not come yet"):
        funding_settle(slot=funding_slot() + timedelta(hours=8))


def test_beat_schedules_are_crontabs_editable_in_the_admin(lead_and_copy):
    funding = PeriodicTask.objects.get(task="apps.fees.tasks.funding_settle_due")
    assert (funding.crontab.minute, funding.crontab.hour, str(funding.crontab.timezone)) == (
        "0",
        "0,8,16",
        "UTC",
    )
    weekly = PeriodicTask.objects.get(task="apps.fees.tasks.profit_share_weekly")
    assert (weekly.crontab.minute, weekly.crontab.hour, weekly.crontab.day_of_week) == (
        "0",
        "0",
        "1",
    )
    assert PeriodicTask.objects.filter(task="apps.fees.tasks.funding_digest").exists()
    # and the funding task settles the current slot (eager in tests)
    lead, copy = lead_and_copy
    pos = open_direct(copy.account_id)
    backdate_positions(funding_slot())
    assert funding_settle_due.delay().get() == 1  # BTC; ETH and SOL have no price here
    assert funded(pos)[0] == D("-0.05")


def test_an_instrument_without_a_price_is_skipped(db):
    set_price("BTC-USDT-SWAP", "50000")
    run = funding_settle()
    assert [r.instrument.name for r in run.settled] == ["BTC-USDT-SWAP"]


def _statements_for_round(copies: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lead = lead_make()
    for _ in range(copies):
        copy = copy_make(lead, investment="1000")
        open_direct(copy.account_id, side="long")
        open_direct(copy.account_id, side="short", mode="isolated")
    slot = funding_slot()
    backdate_positions(slot)
    with CaptureQueriesContext(connection) as ctx:
        funding_settle(slot=slot)
    FundingSettlement.objects.all().delete()  # the next count settles the slot again
    Position.objects.update(status="closed")
    return len(ctx.captured_queries)


def test_a_round_costs_the_same_statements_for_3_or_30_copies(btc):
    assert _statements_for_round(3) == _statements_for_round(30)
