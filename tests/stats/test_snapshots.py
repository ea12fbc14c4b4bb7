"""Daily snapshots (apps/stats/services.py) of a lead and a copy over three UTC days, through the
real services, against figures computed by hand; idempotency; the daily job and the back-fill
write the same numbers.

The scenario (BTC-USDT-SWAP: 0.01 BTC a contract, taker fee 0.0005):

- D1 2026-03-02: 09:00 BTC 50,000. 10:00 the lead is approved and moves 10,000 in. 11:00 a
  follower copies with 1,000. 12:00 the lead opens long isolated 5x with 1,000 margin:
  10 contracts (5,000 / 500), fee 10 x 500 x 0.0005 = 2.5; the copy mirrors 1/10: 1 contract,
  fee 0.25. 20:00 BTC 51,000.
  Lead at the end: balance 10,000 - 2.5 = 9,997.5; uPnL 10 x 0.01 x 1,000 = 100; equity
  10,097.5. Copy: balance 999.75; uPnL 10; equity 1,009.75 (= the lead's AUM).
- D2: 03:00 BTC 49,000. 05:00 the lead closes half: 5 contracts realize 5 x 0.01 x -1,000 =
  -50, fee 5 x 490 x 0.0005 = 1.225; the copy closes 0.5: -5 and 0.1225. 06:00 the lead moves
  1,000 out. 23:00 BTC 49,500.
  Lead: balance 9,997.5 - 50 - 1.225 - 1,000 = 8,946.275; uPnL 5 x 0.01 x -500 = -25;
  equity 8,921.275. Copy: balance 999.75 - 5 - 0.1225 = 994.6275; uPnL 0.5 x 0.01 x -500 =
  -2.5; equity 992.1275.
- D3: 01:00 the lead closes the rest at 49,500: -25, fee 5 x 495 x 0.0005 = 1.2375; the copy
  -2.5 and 0.12375. The sub-position opened D1 12:00 and closed D3 01:00: held 37 h =
  133,200 s; net -75 - 4.9625 = -79.9625: not a win.
  Lead: balance 8,946.275 - 26.2375 = 8,920.0375 = equity. Copy: 994.6275 - 2.62375 =
  992.00375.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.ledger.models import JournalEntry
from apps.ledger.services import account_main, account_system, ledger_post
from apps.positions.models import Position
from apps.stats.models import CopySnapshot, LeadSnapshot
from apps.stats.services import prices_at, snapshots_take, snapshots_take_due
from apps.traders.services import lead_position_close, lead_position_open, lead_transfer
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import at, utc

pytestmark = pytest.mark.django_db

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
FIELDS = (
    "equity", "transfers_in", "transfers_out", "realized_pnl", "unrealized_pnl", "fees",
    "funding", "profit_share", "open_positions",
)  # fmt: skip
LEAD_FIELDS = (*FIELDS, "copiers", "aum", "opens", "closed", "wins", "holding_seconds")


def lead_row(lead, day) -> dict:
    return LeadSnapshot.objects.filter(lead=lead, date=day).values(*LEAD_FIELDS).get()


def copy_row(copy, day) -> dict:
    return CopySnapshot.objects.filter(copy=copy, date=day).values(*FIELDS).get()


def money(**values) -> dict:
    return {k: D(v) if isinstance(v, str) else v for k, v in values.items()}


class Scenario:
    """The three days above, played step by step: ``until(moment)`` runs the steps before it,
    so a test can take snapshots in between, when later steps have not happened yet."""

    def __init__(self, capture):
        self.capture = capture
        self.lead = self.copy = self.position = None
        self.steps = [
            ("2026-03-02 09:00", lambda: set_price("BTC-USDT-SWAP", "50000")),
            ("2026-03-02 10:00", self._lead),
            ("2026-03-02 11:00", self._copy),
            ("2026-03-02 12:00", self._open),
            ("2026-03-02 20:00", lambda: set_price("BTC-USDT-SWAP", "51000")),
            ("2026-03-03 03:00", lambda: set_price("BTC-USDT-SWAP", "49000")),
            ("2026-03-03 05:00", lambda: self._close("0.5")),
            ("2026-03-03 06:00", self._transfer_out),
            ("2026-03-03 23:00", lambda: set_price("BTC-USDT-SWAP", "49500")),
            ("2026-03-04 01:00", lambda: self._close("1")),
        ]

    def until(self, moment: str = "9999-12-31 00:00") -> Scenario:
        while self.steps and utc(self.steps[0][0]) < utc(moment):
            when, step = self.steps.pop(0)
            with at(when), self.capture(execute=True):
                step()
        return self

    def _lead(self):
        self.lead = lead_make(equity="10000")

    def _copy(self):
        self.copy = copy_make(self.lead, investment="1000")

    def _open(self):
        self.position = lead_position_open(
            lead=self.lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="isolated",
            leverage=5,
            margin="1000",
        )

    def _close(self, fraction: str):
        lead_position_close(lead=self.lead, position=self.position, fraction=fraction)

    def _transfer_out(self):
        lead_transfer(lead=self.lead, market="futures", direction="out", amount="1000")


@pytest.fixture
def play(django_capture_on_commit_callbacks) -> Scenario:
    return Scenario(django_capture_on_commit_callbacks)


@pytest.fixture
def scenario(play):
    """All three days played; returns (lead, copy). Snapshots are not taken here."""
    play.until()
    # the copy mirrored every step
    assert Position.objects.filter(account=play.copy.account, status="closed").count() == 1
    return play.lead, play.copy


def test_snapshots_of_a_lead_and_a_copy_over_three_days(scenario):
    lead, copy = scenario
    with at("2026-03-05 00:05"):
        for day in (D1, D2, D3):
            snapshots_take(day=day)

    assert lead_row(lead, D1) == money(
        equity="10097.5", transfers_in="10000", transfers_out="0", realized_pnl="0",
        unrealized_pnl="100", fees="2.5", funding="0", profit_share="0", open_positions=1,
        copiers=1, aum="1009.75", opens=1, closed=0, wins=0, holding_seconds=0,
    )  # fmt: skip
    assert lead_row(lead, D2) == money(
        equity="8921.275", transfers_in="0", transfers_out="1000", realized_pnl="-50",
        unrealized_pnl="-25", fees="1.225", funding="0", profit_share="0", open_positions=1,
        copiers=1, aum="992.1275", opens=0, closed=0, wins=0, holding_seconds=0,
    )  # fmt: skip
    assert lead_row(lead, D3) == money(
        equity="8920.0375", transfers_in="0", transfers_out="0", realized_pnl="-25",
        unrealized_pnl="0", fees="1.2375", funding="0", profit_share="0", open_positions=0,
        copiers=1, aum="992.00375", opens=0, closed=1, wins=0, holding_seconds=133200,
    )  # fmt: skip
    assert copy_row(copy, D1) == money(
        equity="1009.75", transfers_in="1000", transfers_out="0", realized_pnl="0",
        unrealized_pnl="10", fees="0.25", funding="0", profit_share="0", open_positions=1,
    )  # fmt: skip
    assert copy_row(copy, D2) == money(
        equity="992.1275", transfers_in="0", transfers_out="0", realized_pnl="-5",
        unrealized_pnl="-2.5", fees="0.1225", funding="0", profit_share="0", open_positions=1,
    )  # fmt: skip
    assert copy_row(copy, D3) == money(
        equity="992.00375", transfers_in="0", transfers_out="0", realized_pnl="-2.5",
        unrealized_pnl="0", fees="0.12375", funding="0", profit_share="0", open_positions=0,
    )  # fmt: skip


def test_taking_a_day_again_writes_the_same_numbers(play):
    # given D1 taken the next morning, before anything of D2 happened
    play.until("2026-03-03 00:05")
    lead, copy = play.lead, play.copy
    with at("2026-03-03 00:05"):
        snapshots_take(day=D1)
    first = (lead_row(lead, D1), copy_row(copy, D1))
    assert first[0]["equity"] == D("10097.5")
    # when it is taken again after the position moved, closed and money moved out
    play.until()
    with at("2026-03-05 00:05"):
        run = snapshots_take(day=D1)
        snapshots_take(day=D1)
    # then the same numbers, still one row each
    assert (run.leads, run.copies) == (1, 1)
    assert (lead_row(lead, D1), copy_row(copy, D1)) == first
    assert LeadSnapshot.objects.count() == 1 and CopySnapshot.objects.count() == 1


def test_the_daily_job_and_the_backfill_write_the_same_numbers(play):
    # given the daily job run each morning at 00:05, between the scenario's steps (D3's 01:00
    # close happens after the job for D2 and before the one for D3)
    written = {}
    for morning, day in (("2026-03-03 00:05", D1), ("2026-03-04 00:05", D2),
                         ("2026-03-05 00:05", D3)):  # fmt: skip
        play.until(morning)
        with at(morning):
            runs = snapshots_take_due()
        assert [r.day for r in runs] == [day]
        written[day] = (lead_row(play.lead, day), copy_row(play.copy, day))

    # when every snapshot is gone and a later back-fill takes the same days again
    LeadSnapshot.objects.all().delete()
    CopySnapshot.objects.all().delete()
    with at("2026-03-20 08:00"):
        out = StringIO()
        call_command("stats_backfill", "--from", "2026-03-02", "--to", "2026-03-04", stdout=out)
    assert "2026-03-04: 1 lead traders, 1 copies" in out.getvalue()

    # then the numbers are the same
    for day in (D1, D2, D3):
        assert (lead_row(play.lead, day), copy_row(play.copy, day)) == written[day]
    assert written[D2][0]["equity"] == D("8921.275")


def test_the_daily_job_catches_up_missed_days(scenario):
    lead, _ = scenario
    with at("2026-03-03 00:05"):
        snapshots_take_due()
    with at("2026-03-05 00:05"):  # beat was down on the 4th: D2 and D3 are taken now
        runs = snapshots_take_due()
    assert [r.day for r in runs] == [D2, D3]
    assert LeadSnapshot.objects.filter(lead=lead).count() == 3


def test_funding_and_profit_share_are_the_days_flows(scenario):
    # given, on D3, funding received by the copy and paid by the lead, and a profit share paid
    # by the copy to the lead's main account (posted as the fees services post them)
    lead, copy = scenario
    pool = account_system("funding_pool")
    with at("2026-03-04 08:00"):
        ledger_post(
            key="t-funding",
            kind=JournalEntry.Kind.FUNDING,
            postings=[
                (pool, D("-0.5")),
                (copy.account, D("0.3")),
                (lead.futures_account, D("0.2")),
            ],
        )
        ledger_post(
            key="t-share",
            kind=JournalEntry.Kind.PROFIT_SHARE,
            postings=[(copy.account, D("-1.5")), (account_main(user=lead.user), D("1.5"))],
        )
    with at("2026-03-05 00:05"):
        snapshots_take(day=D3)
    lead_d3, copy_d3 = lead_row(lead, D3), copy_row(copy, D3)
    # the lead's equity includes its funding, not the profit share (paid to its main account)
    assert (lead_d3["funding"], lead_d3["profit_share"], lead_d3["equity"]) == (
        D("0.2"), D("1.5"), D("8920.2375"),
    )  # fmt: skip
    # the copy: 992.00375 + 0.3 - 1.5; funding and profit share are not transfers
    assert (copy_d3["funding"], copy_d3["profit_share"], copy_d3["equity"]) == (
        D("0.3"), D("1.5"), D("990.80375"),
    )  # fmt: skip
    assert copy_d3["transfers_in"] == copy_d3["transfers_out"] == 0


def test_a_stopped_copy_gets_its_last_day_then_no_more(scenario):
    from apps.copies.services import copy_stop

    lead, copy = scenario
    with at("2026-03-04 09:00"):
        copy_stop(copy=copy, user=copy.follower)
    with at("2026-03-06 00:05"):
        snapshots_take(day=D3)
        snapshots_take(day=date(2026, 3, 5))
    # D3: 992.00375 returned to the main account; no profit to share
    assert copy_row(copy, D3) | {} == money(
        equity="0", transfers_in="0", transfers_out="992.00375", realized_pnl="-2.5",
        unrealized_pnl="0", fees="0.12375", funding="0", profit_share="0", open_positions=0,
    )  # fmt: skip
    assert lead_row(lead, D3)["copiers"] == 0
    assert not CopySnapshot.objects.filter(copy=copy, date=date(2026, 3, 5)).exists()


def test_a_day_that_has_not_ended_cannot_be_taken(scenario):
    with at("2026-03-04 23:59"), pytest.raises(ValueError, match="has not ended"):
        snapshots_take(day=D3)


def test_price_at_the_end_of_a_day_is_the_last_before_it(db):
    with at("2026-03-02 09:00"):
        set_price("ETH-USDT-SWAP", "3000")
    with at("2026-03-02 23:59"):
        set_price("ETH-USDT-SWAP", "3100")
    with at("2026-03-03 00:00"):
        set_price("ETH-USDT-SWAP", "3200")  # belongs to the next day
    from apps.market.models import Instrument

    eth = Instrument.objects.get(name="ETH-USDT-SWAP")
    assert prices_at(utc("2026-03-03 00:00"))[eth.pk] == (D("0.1"), D("3100"))
    assert prices_at(utc("2026-03-02 09:00"))[eth.pk][1] is None  # nothing known before


def test_price_at_uses_the_candles_once_ticks_are_pruned(db):
    from django.apps import apps

    try:
        candle = apps.get_model("market", "Candle")
    except LookupError:
        pytest.skip("no market.Candle model")
    with at("2026-03-02 09:00"):
        set_price("SOL-USDT-SWAP", "150")
    from apps.market.models import Instrument, PriceTick

    sol = Instrument.objects.get(name="SOL-USDT-SWAP")
    PriceTick.objects.filter(instrument=sol).delete()  # pruned
    candle.objects.create(
        instrument=sol, start=utc("2026-03-02 21:14"), open=D("151"), high=D("153"),
        low=D("150.5"), close=D("152.25"), ticks=3, first_tick_at=utc("2026-03-02 21:14:05"),
        last_tick_at=utc("2026-03-02 21:14:55"),
    )  # fmt: skip
    assert prices_at(utc("2026-03-03 00:00"))[sol.pk][1] == D("152.25")


def test_backfill_refuses_bad_days(db):
    with at("2026-03-05 10:00"):
        for args, message in (
            (["--from", "March"], "--from must be a date"),
            (["--from", "2026-03-05"], "--from 2026-03-05 has not ended yet"),
            (["--from", "2026-03-01", "--to", "2026-03-05"], "--to 2026-03-05 has not ended"),
            (["--from", "2026-03-04", "--to", "2026-03-01"], "is after"),
        ):
            with pytest.raises(CommandError, match=message):
                call_command("stats_backfill", *args, stdout=StringIO())
