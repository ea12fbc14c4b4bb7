"""The copy simulator (apps/stats/simulator.py, issue 9 item 6).

1. THE test: a real copy, started at the same investment as the simulation and mirrored by the
   real services (opens with a bump and a miss, partial closes of exact thirds, a leverage
   change, margin add and reduce, a funding round, a weekly and a final profit-share
   settlement, a price path), and the simulation of the same days: final equity, realized PnL,
   fees, funding, profit share and the copied / missed / skipped counts agree to the satoshi.
2. Hand-computed cases on histories built by hand (no database): SPEC §5.2's worked example,
   its bump, a miss below the minimum size, SPEC §7's stop loss (three actions), SPEC §4's
   liquidation price, funding, SPEC §8's four weeks, the daily curve and its drawdown.
3. A hypothesis property: a random lead history replays without error, and the simulated
   balance never goes negative nor below the isolated margins it holds (with only isolated
   positions: cash never goes negative).
4. Input errors, the constant number of queries and the cache.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from unittest import mock

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.copies import engine
from apps.copies.models import CopyEvent
from apps.copies.selectors import copy_figures
from apps.core.exceptions import ApplicationError
from apps.core.money import to_lot
from apps.fees.models import ProfitShareSettlement
from apps.fees.services import funding_settle, profit_share_settle_active
from apps.market.candles import candles_aggregate
from apps.market.models import Instrument
from apps.market.specs import SPECS_BY_NAME
from apps.positions.models import Position
from apps.stats.simulator import (
    FundingRound,
    History,
    PricePoint,
    Replay,
    SimEvent,
    SimInstrument,
    replay,
    simulate,
)
from apps.traders.services import (
    lead_position_close,
    lead_position_leverage,
    lead_position_margin,
    lead_position_open,
)
from tests.factories.trading import copy_make, lead_make, set_price


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Simulations are cached by lead and event ids, which a rolled-back test database reuses."""
    cache.clear()
    yield
    cache.clear()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@contextmanager
def at(text: str):
    """Everything inside happens at that UTC moment (services, auto_now fields, slots)."""
    with mock.patch("django.utils.timezone.now", return_value=utc(text)):
        yield


# --- 1. the simulation reproduces a real copy ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "eth_exit",
    [
        "3050",  # the lead closes its ETH short at a loss
        "3100",  # past both ETH shorts' liquidation prices (3,071.47): the risk pass closes them
    ],
)
def test_replay_reproduces_a_real_copy_to_the_satoshi(django_capture_on_commit_callbacks, eth_exit):
    def mirror(fn, **kw):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kw)

    def price(inst, value):  # the risk pass runs on the change, as in production
        with django_capture_on_commit_callbacks(execute=True):
            set_price(inst, value)

    def lead_open(inst, side, mode, leverage, margin):
        return mirror(
            lead_position_open,
            lead=lead,
            instrument=inst,
            side=side,
            margin_mode=mode,
            leverage=leverage,
            margin=margin,
        )

    # given a lead with 10,000 and a follower copying it with 500 from Saturday 09:00
    with at("2026-02-28 09:00"):
        set_price("BTC-USDT-SWAP", "50000")
        set_price("ETH-USDT-SWAP", "3000")
        lead = lead_make(equity="10000", ratio="0.10")
        copy = copy_make(lead, investment="500")
    # when the lead trades (each step in its own hour) and the platform settles
    with at("2026-02-28 10:00"):  # 3 contracts; the follower 0.15
        btc = lead_open("BTC-USDT-SWAP", "long", "cross", 5, "300")
    with at("2026-02-28 11:00"):  # isolated 50x: margin level 444% (a margin add is followed)
        eth = lead_open("ETH-USDT-SWAP", "short", "isolated", 50, "60")
    with at("2026-02-28 12:00"):  # 0.03 contracts: the follower's 0.0015 is bumped to 0.01
        bump = lead_open("BTC-USDT-SWAP", "long", "cross", 10, "1.5")
    with at("2026-02-28 13:00"):  # 0.01 contracts: a bump would be 20x the target: missed
        lead_open("BTC-USDT-SWAP", "long", "cross", 10, "0.5")
    with at("2026-02-28 14:00"):
        price("BTC-USDT-SWAP", "52000")
    with at("2026-02-28 15:00"):  # 1.00 of 3.00: the follower closes exactly 0.05 of 0.15
        mirror(lead_position_close, lead=lead, position=btc, fraction="0.334")
    with at("2026-03-01 01:00"):
        price("ETH-USDT-SWAP", "2950")
        mirror(lead_position_leverage, lead=lead, position=eth, leverage=40)
    with at("2026-03-01 02:00"):  # margin level 941%: followed
        mirror(lead_position_margin, lead=lead, position=eth, amount="30")
    with at("2026-03-01 08:00:30"):
        funding_settle(slot=utc("2026-03-01 08:00"))
    with at("2026-03-01 09:00"):
        mirror(lead_position_margin, lead=lead, position=eth, amount="-20")
    with at("2026-03-01 10:00"):
        price("BTC-USDT-SWAP", "51000")
        mirror(lead_position_close, lead=lead, position=bump, fraction="1")
    with at("2026-03-02 00:00:30"):  # Monday
        profit_share_settle_active()
    with at("2026-03-02 02:00"):  # 1.00 of 2.00 at a loss: the follower closes 0.05 of 0.10
        price("BTC-USDT-SWAP", "49000")
        mirror(lead_position_close, lead=lead, position=btc, fraction="0.5")
    with at("2026-03-02 03:00"):
        price("ETH-USDT-SWAP", eth_exit)  # a loss too: R ends below the weekly mark
        eth.refresh_from_db()
        if eth.status == "open":
            mirror(lead_position_close, lead=lead, position=eth, fraction="1")
    with at("2026-03-02 05:00"):
        price("BTC-USDT-SWAP", "49500")
    with at("2026-03-02 06:00"):  # the end of the period: settled as the simulation does
        profit_share_settle_active(trigger="operator")
    candles_aggregate()  # the price history the simulation reads (1-hour candles)

    # and the simulation of the same 7 days at the same investment
    sim = simulate(lead=lead, days=7, investment="500", now=utc("2026-03-02 06:00"))

    # then the scenario did what it claims (so the comparison below means something)
    copy.refresh_from_db()
    positions = list(Position.objects.filter(account_id=copy.account_id).order_by("id"))
    events = list(CopyEvent.objects.filter(copy=copy, lead_event__isnull=False).order_by("id"))
    assert [p.opened_size for p in positions] == [D("0.15"), D("0.5"), D("0.01")]
    assert positions[2].explanation["bumped"] is True
    assert [e.reason for e in events if e.kind == "missed"] == ["below minimum size"]
    assert positions[1].margin == D("0")  # closed; on the way: 3 -> 3.75 -> 5.25 -> +funding -> -1
    liquidated = eth_exit == "3100"
    assert positions[1].close_reason == ("liquidation" if liquidated else "lead")
    margins = [e.amount for e in events if e.position_id == positions[1].pk and e.kind == "copied"]
    assert margins[1:4] == [D("3.75"), D("1.5"), D("1")]  # leverage 40x, add, reduce
    weekly = ProfitShareSettlement.objects.get(copy=copy, trigger="weekly")
    final = ProfitShareSettlement.objects.get(copy=copy, trigger="operator")
    assert weekly.share > 0 and final.realized < weekly.realized and final.due == 0
    funding = sum((p.funding for p in positions), D(0))
    assert funding != 0
    # and the simulation agrees with the real copy to the satoshi
    real = copy_figures(copy)
    assert sim.equity == real.equity
    assert sim.pnl_usdt == real.pnl
    assert sim.realized_pnl_usdt == real.realized_pnl
    assert sim.unrealized_pnl_usdt == real.unrealized_pnl
    assert sim.fees_usdt == sum((p.fees for p in positions), D(0))
    assert sim.funding_usdt == funding
    assert sim.profit_share_usdt == copy.profit_share_paid
    assert sim.profit_share_owed_usdt == copy.profit_share_owed
    assert sim.open_positions == real.open_positions == 1
    assert sim.copied == sum(1 for e in events if e.kind == "copied")
    assert sim.missed == dict(Counter(e.reason for e in events if e.kind == "missed"))
    assert sim.skipped == dict(Counter(e.reason for e in events if e.kind == "skipped"))
    assert sim.sync_failed == dict(Counter(e.reason for e in events if e.kind == "sync_failed"))
    assert (sim.failed, sim.liquidations, sim.stopped_at) == (0, int(liquidated), None)
    assert sim.daily[-1][1] == real.equity.quantize(D("0.00000001"), rounding="ROUND_DOWN")


# --- 2. hand-computed cases on histories built by hand (no database) ------------------------------


def sim_inst(name: str = "BTC-USDT-SWAP", *, pk: int = 1, taker_fee: str | None = None):
    spec = dict(SPECS_BY_NAME[name])
    if taker_fee is not None:
        spec["taker_fee"] = D(taker_fee)
    model = Instrument(id=pk, **spec)  # never saved: the replay reads its fields only
    return SimInstrument(id=pk, name=name, model=model, engine=engine.engine_instrument(model))


BTC = sim_inst()
BTC0 = sim_inst(taker_fee="0")  # no trading fee: PnL figures stay round
T0 = utc("2026-03-03 10:00")  # a Tuesday
H = timedelta(hours=1)
_ids = iter(range(1, 10**6))


def ev(kind, at, *, pos, side="long", mode="cross", leverage=5, fill=None, margin=None,
       equity=None, size=None, before=None, margin_before=None, inst=BTC):  # fmt: skip
    return SimEvent(
        id=next(_ids), at=at, kind=kind, status="mirrored", instrument_id=inst.id,
        position_id=pos, side=side, margin_mode=mode, leverage=leverage,
        previous_leverage=None, fill_price=None if fill is None else D(fill),
        size=None if size is None else D(size), lead_size_before=None if before is None else D(before),
        margin=None if margin is None else D(margin),
        lead_margin_before=None if margin_before is None else D(margin_before),
        lead_equity_before=None if equity is None else D(equity), fraction=None,
    )  # fmt: skip


def lead_open(at, *, pos, margin="1000", equity="10000", leverage=5, fill="50000", **kw):
    return ev("open", at, pos=pos, margin=margin, equity=equity, leverage=leverage, fill=fill, **kw)


def lead_close(at, *, pos, fill, **kw):
    return ev("close", at, pos=pos, fill=fill, **kw)


def hour(at, close, *, low=None, high=None, open=None, inst=BTC):
    """A 1-hour candle of the hour starting at ``at``, last tick 59 minutes later."""
    c = D(close)
    return PricePoint(
        at + timedelta(minutes=59), inst.id, c, D(low) if low else c, D(high) if high else c,
        at, D(open) if open else c,
    )  # fmt: skip


def history(*, events=(), prices=(), funding=(), end=None, days=7, ratio="0.10", insts=(BTC,)):
    end = end or T0 + timedelta(days=1)
    return History(
        lead_id=1,
        start=end - timedelta(days=days),
        end=end,
        ratio=D(ratio),
        instruments={i.id: i for i in insts},
        events=tuple(events),
        prices=tuple(sorted(prices, key=lambda p: p.at)),
        funding=tuple(funding),
    )


def run(h: History, investment: str, **kw):
    return replay(history=h, days=(h.end - h.start).days, investment=D(investment), **kw)


def stepped(h: History, investment: str, **kw) -> Replay:
    r = Replay(h, investment=D(investment), stop_loss=kw.get("stop_loss"),
               stop_loss_action=kw.get("stop_loss_action", "close_all"), policy=engine.policy())  # fmt: skip
    for item in r.timeline():
        r.step(item)
    return r


def test_worked_example_opens_one_contract_leaving_899_75_cash():
    # SPEC 5.2: lead equity 10,000 opens 1,000 margin 5x cross at 50,000 -> ratio 0.1; copy 1,000
    h = history(events=[lead_open(T0, pos=1)])
    sim = run(h, "1000")
    (trade,) = sim.trades
    assert (trade.action, trade.size, trade.margin, trade.fee) == (
        "open",
        D("1"),
        D("100"),
        D("0.25"),
    )
    assert stepped(h, "1000").cash == D("899.75")
    assert (sim.equity, sim.pnl_usdt, sim.fees_usdt, sim.copied) == (
        D("999.75"),
        D("-0.25"),
        D("0.25"),
        1,
    )
    assert sim.roi == D("-0.00025")  # -0.25 / 1,000


def test_bump_to_the_minimum_size():
    # SPEC 5.2: copy equity 100, ratio 0.003 (30 / 10,000), 10x at 50,000 -> 0.006 -> 0 -> 0.01
    sim = run(history(events=[lead_open(T0, pos=1, margin="30", leverage=10)]), "100")
    (trade,) = sim.trades
    # margin 0.01 x 0.01 x 50,000 / 10 = 0.5 (<= 10 x the target 0.3); fee 5 x 0.0005 = 0.0025
    assert (trade.size, trade.margin, trade.fee) == (D("0.01"), D("0.5"), D("0.0025"))
    assert sim.equity == D("99.9975") and sim.missed == {}


def test_miss_below_the_minimum_size():
    # ratio 0.0004: target 0.04; the minimum (margin 0.5) would be 12.5x the target (cap 10x)
    sim = run(history(events=[lead_open(T0, pos=1, margin="4", leverage=10)]), "100")
    assert sim.missed == {"below minimum size": 1}
    assert (sim.copied, sim.equity, sim.fees_usdt) == (0, D("100"), D("0"))
    assert [(t.action, t.reason) for t in sim.trades] == [("missed", "below minimum size")]


def _stop_loss_history():
    # SPEC 7: the worked example's 1 contract (cross); the mark falls to 35,000 an hour later;
    # the lead opens again (never copied once triggered) and closes its first at 36,000
    return history(
        events=[
            lead_open(T0, pos=1),
            lead_open(T0 + 2 * H, pos=2, fill="35500"),
            lead_close(T0 + 3 * H, pos=1, fill="36000"),
        ],
        prices=[hour(T0 + H, "35000")],
    )


def test_stop_loss_close_all_returns_849_575():
    sim = run(_stop_loss_history(), "1000", stop_loss=D("150"))
    # PnL = -0.25 fee + 0.01 x (35,000 - 50,000) = -150.25 <= -150: closed at 35,000, fee 0.175
    assert sim.stop_loss_triggered_at == sim.stopped_at == T0 + H + timedelta(minutes=59)
    assert (sim.stop_reason, sim.equity, sim.copied) == ("stop_loss", D("849.575"), 1)
    assert (sim.fees_usdt, sim.pnl_usdt) == (D("0.425"), D("-150.425"))
    assert sim.trades[-1].action == "stop" and sim.daily[-1][1] == D("849.575")


def test_stop_loss_keep_follows_the_lead_close_then_stops():
    sim = run(_stop_loss_history(), "1000", stop_loss=D("150"), stop_loss_action="keep")
    # no open after the trigger; the lead's close at 36,000 closes it: -140, fee 0.18
    assert sim.copied == 2 and sim.stopped_at == T0 + 3 * H
    assert sim.equity == D("859.57")  # 1,000 - 0.25 - 140 - 0.18


def test_stop_loss_hand_over_holds_the_position_to_the_end():
    sim = run(_stop_loss_history(), "1000", stop_loss=D("150"), stop_loss_action="hand_over")
    # the lead's close no longer touches it: still open, marked at 36,000 at the end
    assert sim.stopped_at is None and sim.open_positions == 1 and sim.copied == 1
    assert sim.equity == D("859.75")  # 1,000 - 0.25 + 0.01 x (36,000 - 50,000)


def _isolated(low, *, opened=T0):
    # SPEC 4: 5x isolated long, 1 contract at 50,000, margin 100: liquidated at <= 40,180.8137
    return history(
        events=[lead_open(opened, pos=1, mode="isolated")],
        prices=[hour(T0 + H, "45000", low=low, open="45000")],
    )


def test_liquidation_when_the_hour_low_reaches_the_liquidation_price():
    sim = run(_isolated("40180.8137"), "1000")
    assert sim.liquidations == 1 and sim.open_positions == 0
    liq = sim.trades[-1]
    # the account pays exactly the margin: fee 0.01 x 40,180.8137 x 0.0005 = 0.20090406(85)
    assert (liq.action, liq.price, liq.fee) == ("liquidation", D("40180.8137"), D("0.20090406"))
    assert liq.realized_pnl == D("-99.79909594")  # -100 + the fee: realized - fee = -100
    assert sim.equity == D("899.75")  # 1,000 - 0.25 - 100
    assert sim.fees_usdt == D("0.45090406")


def test_no_liquidation_one_tick_above_nor_when_opened_within_the_hour():
    above = run(_isolated("40180.8138"), "1000")
    assert above.liquidations == 0
    assert above.equity == D("949.75")  # marked at the close: -0.25 + 0.01 x (45,000 - 50,000)
    # the granularity: a position opened during the hour only meets the hour's close
    inside = run(_isolated("40000", opened=T0 + H + timedelta(minutes=15)), "1000")
    assert inside.liquidations == 0


def test_funding_at_a_recorded_round_for_positions_held_at_the_slot():
    slot = utc("2026-03-03 16:00")
    h = history(
        events=[
            lead_open(T0, pos=1, inst=BTC0),  # 10,000 copy: 10 contracts cross long
            lead_open(slot + H, pos=2, side="short", mode="isolated", inst=BTC0),  # after it
        ],
        funding=[FundingRound(slot, BTC0.id, D("0.0001"), D("51000"))],
        insts=(BTC0,),
    )
    sim = run(h, "10000")
    # the long pays 10 x 0.01 x 51,000 x 0.0001 = 0.51 from cash; the short was not held yet
    assert sim.funding_usdt == D("-0.51")
    assert sim.realized_pnl_usdt == D("-0.51")


def test_profit_share_weeks_of_200_minus_150_100_150_pay_20_0_0_10():
    # SPEC 8 at 10%, no trading fee: each Tuesday the lead opens 1,000 of an equity equal to the
    # follower's (10 contracts at 50,000 for the follower), each Wednesday it closes
    rows, equity = [], D("10000")
    for week, (exit_, pnl, paid_monday) in enumerate(
        [("52000", 200, 20), ("48500", -150, 0), ("51000", 100, 0), ("51500", 150, 10)]
    ):
        tue = T0 + timedelta(days=7 * week)
        rows += [
            lead_open(tue, pos=week + 1, equity=str(equity), inst=BTC0),
            lead_close(tue + timedelta(days=1), pos=week + 1, fill=exit_, inst=BTC0),
        ]
        equity += pnl - paid_monday
    h = history(events=rows, insts=(BTC0,), end=utc("2026-03-31 12:00"), days=30)
    r = Replay(h, investment=D("10000"), stop_loss=None, stop_loss_action="close_all",
               policy=engine.policy())  # fmt: skip
    paid_after_mondays = []
    for item in r.timeline():
        r.step(item)
        if item[1] == 4:  # a Monday settlement
            paid_after_mondays.append(r.paid)
    # Mondays Mar 2 (nothing yet), 9 (+20), 16 (R 50 < H 200), 23 (R 150 < H), 30 (R 300: +10)
    assert paid_after_mondays == [D("0"), D("20"), D("20"), D("20"), D("30")]
    sim = r.result(days=30)
    assert (sim.profit_share_usdt, sim.equity, sim.pnl_usdt) == (D("30"), D("10270"), D("270"))
    assert sim.roi == D("0.027")


def test_daily_equity_and_max_drawdown():
    # 10 contracts long at 50,000 (no fee); day closes at 49,000, 51,000, 49,495
    h = history(
        events=[lead_open(T0, pos=1, inst=BTC0)],
        prices=[
            hour(utc("2026-03-03 20:00"), "49000", inst=BTC0),
            hour(utc("2026-03-04 20:00"), "51000", inst=BTC0),
            hour(utc("2026-03-05 20:00"), "49495", inst=BTC0),
        ],
        insts=(BTC0,),
        end=utc("2026-03-06 12:00"),
    )
    sim = run(h, "10000")
    assert sim.daily[-5:] == [
        (utc("2026-03-02").date(), D("10000")),
        (utc("2026-03-03").date(), D("9900")),
        (utc("2026-03-04").date(), D("10100")),
        (utc("2026-03-05").date(), D("9949.5")),
        (utc("2026-03-06").date(), D("9949.5")),  # the end, mid-day
    ]
    assert len(sim.daily) == 8  # Feb 27 (the start, mid-day) .. Mar 6
    # drawdowns: 1 - 9,900 / 10,000 = 0.01; 1 - 9,949.5 / 10,100 = 0.0149009900...
    assert sim.max_drawdown == D("0.01490099")
    assert sim.roi == D("-0.00505")


def test_lead_ending_stops_the_copy_at_market_and_settles():
    h = history(
        events=[
            lead_open(T0, pos=1),
            ev("ended", T0 + 2 * H, pos=None),
            lead_open(T0 + 3 * H, pos=2),  # nothing after the end
        ],
        prices=[hour(T0 + H, "51000")],
    )
    sim = run(h, "1000")
    # closed at 51,000: +10, fee 0.255; R = 10 - 0.25 - 0.255 = 9.495; share 0.9495
    assert (sim.stop_reason, sim.stopped_at, sim.copied) == ("lead_ended", T0 + 2 * H, 1)
    assert sim.profit_share_usdt == D("0.9495")
    assert sim.equity == D("1008.5455")  # 1,000 - 0.25 + 10 - 0.255 - 0.9495


# --- 3. property: any lead history replays, and money stays where it must ---------------------

ETH = sim_inst("ETH-USDT-SWAP", pk=2)
PRICES0 = {BTC.id: D("50000"), ETH.id: D("3000")}


@st.composite
def lead_histories(draw):
    """A random but possible lead history on BTC and ETH: opens, partial and full closes,
    liquidations, leverage and margin changes, price moves (1-hour candles), funding rounds,
    now and then the end of the strategy; with a random investment and stop loss."""
    modes = draw(st.sampled_from([("isolated",), ("cross", "isolated")]))
    prices, t = dict(PRICES0), T0
    events, points, rounds, held = [], [], [], {}
    for n in range(draw(st.integers(1, 30))):
        t += timedelta(minutes=draw(st.integers(1, 900)))
        inst = draw(st.sampled_from([BTC, ETH]))
        step = D(draw(st.integers(80, 120))) / 100  # the price moves up to 20% at a time
        prices[inst.id] = (prices[inst.id] * step).quantize(D("0.01"))
        p, cv = prices[inst.id], inst.engine.contract_value
        what = draw(st.sampled_from(["open", "open", "reduce", "leverage", "margin", "price",
                                     "funding", "end"]))  # fmt: skip
        mine = [k for k, v in held.items() if v["inst"] is inst]
        if what == "open" or (not mine and what in ("reduce", "leverage", "margin")):
            lev, margin = draw(st.integers(1, 50)), D(draw(st.integers(1, 2000)))
            size = to_lot(exact_q(margin * lev, p * cv), inst.engine.lot_size)
            if size < inst.engine.min_size:
                continue
            equity = margin + D(draw(st.integers(0, 20000)))
            side, mode = draw(st.sampled_from(["long", "short"])), draw(st.sampled_from(modes))
            events.append(lead_open(t, pos=n + 1, margin=str(margin), equity=str(equity),
                                    leverage=lev, fill=str(p), side=side, mode=mode, inst=inst))  # fmt: skip
            held[n + 1] = {"inst": inst, "size": size, "lev": lev, "side": side, "mode": mode,
                           "margin": margin, "entry": p}  # fmt: skip
        elif what == "reduce":
            k = draw(st.sampled_from(mine))
            pos, kind = held[k], draw(st.sampled_from(["partial_close", "close", "liquidation"]))
            f = D(draw(st.sampled_from(["0.25", "0.334", "0.5", "0.9"])))
            qty = to_lot(pos["size"] * f, inst.engine.lot_size)
            if kind != "partial_close" or pos["size"] - qty < inst.engine.min_size or qty <= 0:
                kind, qty = ("close" if kind == "partial_close" else kind), pos["size"]
            events.append(ev(kind, t, pos=k, side=pos["side"], mode=pos["mode"], fill=str(p),
                             size=str(qty), before=str(pos["size"]), inst=inst))  # fmt: skip
            pos["size"] -= qty
            if pos["size"] == 0:
                del held[k]
        elif what == "leverage":
            k = draw(st.sampled_from(mine))
            pos, lev = held[k], draw(st.integers(1, 50))
            if lev != pos["lev"]:
                events.append(ev("leverage", t, pos=k, side=pos["side"], mode=pos["mode"],
                                 leverage=lev, margin_before=str(pos["margin"]), inst=inst))  # fmt: skip
                pos["lev"] = lev
                pos["margin"] = (pos["size"] * cv * pos["entry"] / lev).quantize(D("1e-8"))
        elif what == "margin":
            k = draw(st.sampled_from(mine))
            pos, d = held[k], D(draw(st.integers(1, 300)))
            floor = pos["size"] * cv * pos["entry"] / pos["lev"]
            kind = draw(st.sampled_from(["margin_add", "margin_reduce"]))
            if pos["mode"] == "isolated" and (kind == "margin_add" or pos["margin"] - d >= floor):
                events.append(ev(kind, t, pos=k, side=pos["side"], mode="isolated",
                                 leverage=pos["lev"], fill=str(p), margin=str(d),
                                 margin_before=str(pos["margin"]), inst=inst))  # fmt: skip
                pos["margin"] += d if kind == "margin_add" else -d
        elif what == "price":
            low = (p * D(draw(st.integers(70, 100))) / 100).quantize(D("0.01"))
            high = (p * D(draw(st.integers(100, 130))) / 100).quantize(D("0.01"))
            start = t.replace(minute=0, second=0, microsecond=0)
            points.append(PricePoint(t, inst.id, p, low, high, start, p))
        elif what == "funding":
            slot = t.replace(hour=t.hour - t.hour % 8, minute=0, second=0, microsecond=0)
            rate = D(draw(st.sampled_from(["-0.003", "0.0001", "0.003"])))
            if all(r.slot != slot or r.instrument_id != inst.id for r in rounds):
                rounds.append(FundingRound(slot, inst.id, rate, p))
        elif what == "end" and draw(st.integers(0, 9)) == 0:
            events.append(ev("ended", t, pos=None, inst=inst))
            break
    h = history(events=events, prices=points, funding=sorted(rounds, key=lambda r: r.slot),
                insts=(BTC, ETH), end=t + H, days=30)  # fmt: skip
    investment = D(draw(st.integers(100, 5000)))
    stop_loss = draw(st.none() | st.integers(1, int(investment) - 1).map(D))
    action = draw(st.sampled_from(["close_all", "keep", "hand_over"]))
    return h, investment, stop_loss, action, modes == ("isolated",)


def exact_q(a: D, b: D):
    from fractions import Fraction

    return Fraction(a) / Fraction(b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lead_histories())
def test_any_history_replays_and_never_overdraws(case):
    h, investment, stop_loss, action, isolated_only = case
    r = Replay(h, investment=investment, stop_loss=stop_loss, stop_loss_action=action,
               policy=engine.policy())  # fmt: skip
    for item in r.timeline():
        r.step(item)
        isolated = sum((p.margin for p in r.open.values() if p.isolated), D(0))
        assert r.balance >= isolated >= 0  # cross losses never take isolated margin
        if isolated_only:
            assert r.cash >= 0
        for p in r.open.values():
            e = p.inst.engine
            assert p.size >= e.min_size and p.size % e.lot_size == 0 and p.margin >= 0
    sim = r.result(days=30)
    assert sim.equity == sim.investment + sim.pnl_usdt
    if sim.stopped_at is not None:
        assert sim.open_positions == 0 and sim.equity == r.balance >= 0


# --- 4. input, queries, cache ------------------------------------------------------------------


class _Lead:  # enough of a LeadTrader for the checks that run before any query
    pk, futures_account_id, profit_share_ratio = 1, 1, D("0.1")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"days": 14}, "days"),
        ({"days": "x"}, "days"),
        ({"investment": "50"}, "investment_usdt"),
        ({"investment": "abc"}, "investment_usdt"),
        ({"stop_loss": "1000"}, "stop_loss_usdt"),
        ({"stop_loss": "-1"}, "stop_loss_usdt"),
        ({"stop_loss_action": "panic"}, "stop_loss_action"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_reads_nothing(kw, field):
    args = {"lead": _Lead(), "days": 30, "investment": "1000", **kw}
    with pytest.raises(ApplicationError) as err:  # no database access is allowed here
        simulate(**args)
    assert field in err.value.fields and err.value.message


@pytest.mark.django_db
def test_constant_queries_and_a_cache_keyed_by_the_last_event(django_assert_num_queries):
    with at("2026-03-03 09:00"):
        set_price("BTC-USDT-SWAP", "50000")
        lead = lead_make(equity="10000")

    def trade(n):
        for i in range(n):
            with at(f"2026-03-03 {10 + i}:00"):
                pos = lead_position_open(lead=lead, instrument="BTC-USDT-SWAP", side="long",
                                         margin_mode="cross", leverage=5, margin="100")  # fmt: skip
                lead_position_close(lead=lead, position=pos, fraction="0.5")

    trade(1)
    with at("2026-03-04 00:00"):
        # max event id, events, instruments with prices, candles, funding rounds
        with django_assert_num_queries(5):
            first = simulate(lead=lead, days=7, investment="1000")
        with django_assert_num_queries(1):  # the same key: the cached answer
            assert simulate(lead=lead, days=7, investment="1000") is not None
        with django_assert_num_queries(5):  # another amount, another key
            simulate(lead=lead, days=7, investment="2000")
    trade(5)  # ten more events: a new last event id, and the same number of queries
    with at("2026-03-04 00:00"), django_assert_num_queries(5):
        later = simulate(lead=lead, days=7, investment="1000")
    assert (first.copied, later.copied) == (2, 12)
    assert later.last_event_id > first.last_event_id
    # the lead's own ROI comes from the caller (the stats app), never from the cache
    with at("2026-03-04 00:00"):
        gap = simulate(lead=lead, days=7, investment="1000", lead_roi=lambda lead, days: D("0.05"))
    assert (gap.lead_roi, gap.roi_gap) == (D("0.05"), later.roi - D("0.05"))
