"""``manage.py seed_demo [--days 21]``: a demo platform built through the real services only.

Prices for the six instruments, the simulated feed schedule, an operator, three lead traders
with funded lead futures accounts, a follower copying AlphaWhale, and two lead positions,
AlphaWhale's mirrored into the follower's copy. Before that, unless ``--days 0``, a history of
``--days`` days (default 21) so that the directory, the profiles, their charts and the copy
simulator are not empty:

- a price path per instrument (a seeded random walk ending at today's prices, a point every 20
  minutes), written as ``seed`` ticks (every point of the last 7 days, one an hour before:
  enough for the 1-hour candle charts, few enough to stay fast on SQLite) and rolled into
  1-minute and 1-hour candles by the market's own ``candles_aggregate`` (the beat task prunes
  the raw ticks past retention later, on the worker);
- the lead traders trading through the real services (``lead_position_open`` / ``_close``,
  ``lead_spot_buy`` / ``_sell``, ``lead_transfer``), each event mirrored at once by the real
  mirroring, into copies of four background copiers (``copier1..4@smartsync.local``, no
  password: they cannot sign in) started through ``copy_start`` along the way: AlphaWhale
  (BTC trend, cross 5x, closes in halves), SteadyEddie (ETH and BTC swings, isolated 2x, and a
  spot book of BTC, ETH and SOL bought and sold in fractions: the spot lead, copied on spot
  with Buy Existing Assets), SolSurfer (SOL both ways, isolated 3x, one trade too small to
  copy: a miss with its reason);
- how it is back-dated: each step sets the prices of that moment (``prices_set_many``) and
  runs its services with the clock (``django.utils.timezone.now``, which every timestamp and
  ``auto_now_add`` read) set to that moment. Nothing else is faked: the ledger, fills, events
  and notices are the services' own rows, only dated then. The clock is put back before
  anything else runs;
- then the daily snapshots of every past day and the stats as of yesterday, by the nightly
  job's services (``stats_backfill``'s work), and finally, at the real now, each lead's
  futures equity is topped up or drawn down to 10,000 USDT with a transfer, so that today's
  demo trades (AlphaWhale's BTC long, mirrored into the follower's copy as SPEC 5.2's example:
  1 contract, 100 USDT margin) have the numbers the README tells.

Not replayed: funding rounds and the weekly profit-share settlement (the simulator and the
pages show none for the history), and prices between the 15-minute steps.

Run it before the worker starts (``make run`` does): the mirroring tasks queued on commit find
the events mirrored already. Idempotent: when the operator and the follower's copy already
exist, nothing new is created; the history runs only on a platform without the demo lead traders
(an interrupted run is finished without it). Money only moves through ledger services.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.copies.models import Copy
from apps.ledger.services import deposit_credit
from apps.market.feed import feed_schedule_ensure
from apps.market.models import Instrument, Price, PriceTick
from apps.market.services import instruments_ensure, price_set, prices_set_many
from apps.positions.models import LeadEvent, Position
from apps.traders.models import LeadTrader
from apps.traders.services import (
    lead_position_close,
    lead_position_open,
    lead_spot_buy,
    lead_spot_sell,
    lead_trader_approve,
    lead_transfer,
)

OPERATOR_EMAIL = "operator@smartsync.local"
OPERATOR_PASSWORD = "operator-demo-2026"
LEAD_PASSWORD = "lead-demo-2026"
FOLLOWER_EMAIL = "follower@smartsync.local"
FOLLOWER_PASSWORD = "follower-demo-2026"

PRICES = {
    "BTC-USDT-SWAP": "50000",
    "BTC-USDT": "50000",
    "ETH-USDT-SWAP": "3000",
    "ETH-USDT": "3000",
    "SOL-USDT-SWAP": "150",
    "SOL-USDT": "150",
}

LEADS = [
    {
        "email": "lead1@smartsync.local",
        "nickname": "AlphaWhale",
        "ratio": "0.10",
        "bio": "Trend follower on BTC perpetuals. Few trades, held for days, 5x at most.",
    },
    {
        "email": "lead2@smartsync.local",
        "nickname": "SteadyEddie",
        "ratio": "0.08",
        "bio": "Low leverage, tight risk: capital preservation first, steady gains second. "
        "Futures swings and a long-term spot book.",
    },
    {
        "email": "lead3@smartsync.local",
        "nickname": "SolSurfer",
        "ratio": "0.15",
        "bio": "Short-term swings on SOL, both directions, isolated margin on every trade.",
    },
]
LEAD_DEPOSIT = Decimal("20000")
LEAD_FUTURES = Decimal("10000")
LEAD_SPOT = Decimal("4000")  # SteadyEddie's spot book
FOLLOWER_DEPOSIT = Decimal("5000")
FOLLOWER_INVESTMENT = "1000"
COPIER_DEPOSIT = Decimal("5000")

# nickname -> the one position the demo opens for that lead today
LEAD_POSITIONS = {
    "AlphaWhale": {
        "instrument": "BTC-USDT-SWAP",
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "margin": "1000",
    },
    "SolSurfer": {
        "instrument": "SOL-USDT-SWAP",
        "side": "short",
        "margin_mode": "isolated",
        "leverage": 3,
        "margin": "500",
    },
}

HISTORY_DAYS = 21
STEP = timedelta(minutes=20)
DENSE_DAYS = 7  # every step a tick in the last days; one an hour before them
# the price path: per base asset, drift and volatility per 20-minute step (the walk runs
# backwards from today's price, so a positive drift means the price rose towards today)
WALKS = {"BTC": (0.00008, 0.0026), "ETH": (-0.00001, 0.003), "SOL": (0.00004, 0.0042)}
SEED = 2026

# background copiers: (e-mail, lead, market, investment, day, hour, options)
COPIERS = [
    ("copier1@smartsync.local", "AlphaWhale", "futures", "2000", 1, 12, {}),
    ("copier2@smartsync.local", "SolSurfer", "futures", "300", 2, 9,
     {"total_stop_loss": "120", "stop_loss_action": "close_all"}),
    ("copier3@smartsync.local", "SteadyEddie", "spot", "1000", 4, 12,
     {"copy_ongoing_positions": True}),
    ("copier4@smartsync.local", "SteadyEddie", "futures", "1000", 5, 7, {}),
]  # fmt: skip


@contextmanager
def _clock(at: datetime) -> Iterator[None]:
    """Every ``timezone.now()`` (services, ``auto_now_add``) reads ``at`` inside the block."""
    with mock.patch.object(timezone, "now", lambda: at):
        yield


class Command(BaseCommand):
    help = "Seed a demo: prices and their history, operator, lead traders and their trades, copies."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=HISTORY_DAYS,
            help=f"days of back-dated history (default {HISTORY_DAYS}; 0: none)",
        )

    def handle(self, *args, days: int = HISTORY_DAYS, **options):
        User = get_user_model()
        instruments_ensure()
        task = feed_schedule_ensure()

        operator = User.objects.filter(email__iexact=OPERATOR_EMAIL).first()
        follower = User.objects.filter(email__iexact=FOLLOWER_EMAIL).first()
        if (
            operator is not None
            and follower is not None
            and Copy.objects.filter(follower=follower, lead__nickname="AlphaWhale").exists()
        ):
            self.stdout.write(
                "Demo data found (operator and the follower's copy exist): nothing to do."
            )
            self._logins()
            return

        ends = self._prices()
        now = timezone.now()
        start = None
        if days > 0 and not self._traded():
            start = datetime.combine(now.date() - timedelta(days=days), time(6), tzinfo=UTC)
        operator = self._user(OPERATOR_EMAIL, OPERATOR_PASSWORD, superuser=True)
        with _clock(start) if start else _noop():
            leads = self._leads(operator)
        if start is not None:
            history = _History(self, leads, operator, ends, start, now)
            history.run()
            prices_set_many(prices=ends, source="operator")  # today's prices again
            self.stdout.write(
                f"History: {days} days from {start:%Y-%m-%d %H:%M} UTC, "
                f"{history.actions} lead trades, {history.ticks} price ticks."
            )
        for lead in leads.values():
            self._rebalance(lead)

        follower = self._user(FOLLOWER_EMAIL, FOLLOWER_PASSWORD)
        deposit_credit(
            user=follower,
            amount=FOLLOWER_DEPOSIT,
            key=f"demo-deposit:{FOLLOWER_EMAIL}",
            operator=operator,
        )
        alpha = leads["AlphaWhale"]
        if not Copy.objects.filter(follower=follower, lead=alpha).exists():
            from apps.copies.services import copy_start

            copy_start(follower=follower, lead=alpha, total_investment=FOLLOWER_INVESTMENT)
            self.stdout.write(
                f"{FOLLOWER_EMAIL} copies AlphaWhale with {FOLLOWER_INVESTMENT} USDT."
            )

        for nickname, spec in LEAD_POSITIONS.items():
            lead = leads[nickname]
            if not Position.objects.filter(
                account_id=lead.futures_account_id, status=Position.Status.OPEN
            ).exists():
                lead_position_open(lead=lead, **spec)
                self.stdout.write(f"{nickname} opened {spec['side']} {spec['instrument']}.")

        self._mirror_now()
        if start is not None:
            history.stats()
        self.stdout.write(
            f"Feed schedule '{task.name}': every {task.interval.every}s, "
            f"{'enabled' if task.enabled else 'disabled (PRICE_FEED is not simulated)'}."
        )
        self.stdout.write(self.style.SUCCESS("Demo data created."))
        self._logins()

    # --- steps ------------------------------------------------------------------------------
    def _prices(self) -> dict[str, Decimal]:
        """Set the prices that are not set yet; today's price of each instrument."""
        priced = dict(Price.objects.values_list("instrument__name", "price"))
        for name, price in PRICES.items():
            if name not in priced:
                price_set(instrument=name, price=Decimal(price), source="operator")
                priced[name] = Decimal(price)
        return {name: priced[name] for name in PRICES}

    def _traded(self) -> bool:
        """A demo lead exists already (an earlier, interrupted run): no history then."""
        return LeadTrader.objects.filter(user__email__in=[s["email"] for s in LEADS]).exists()

    def _leads(self, operator) -> dict[str, LeadTrader]:
        leads = {}
        for spec in LEADS:
            user = self._user(spec["email"], LEAD_PASSWORD)
            deposit_credit(
                user=user,
                amount=LEAD_DEPOSIT,
                key=f"demo-deposit:{spec['email']}",
                operator=operator,
            )
            lead = LeadTrader.objects.filter(user=user).first() or lead_trader_approve(
                email=spec["email"],
                nickname=spec["nickname"],
                profit_share_ratio=spec["ratio"],
                bio=spec["bio"],
                operator=operator,
            )
            lead_transfer(
                lead=lead,
                market="futures",
                direction="in",
                amount=LEAD_FUTURES,
                key=f"demo-transfer:{spec['email']}",
            )
            leads[spec["nickname"]] = lead
            self.stdout.write(f"Lead trader {lead.nickname} ready ({spec['email']}).")
        return leads

    def _rebalance(self, lead: LeadTrader) -> None:
        """Bring the lead futures equity to LEAD_FUTURES by a transfer (the history's profit
        goes back to the main account, a loss is topped up), when nothing is open."""
        from apps.positions.selectors import account_figures_one

        fig = account_figures_one(lead.futures_account_id)
        if fig.positions or fig.equity == LEAD_FUTURES:
            return
        gap = fig.equity - LEAD_FUTURES
        lead_transfer(
            lead=lead,
            market="futures",
            direction="out" if gap > 0 else "in",
            amount=abs(gap),
            key=f"demo-rebalance:{lead.pk}",
        )

    def _user(self, email: str, password: str | None, *, superuser: bool = False):
        User = get_user_model()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            make = User.objects.create_superuser if superuser else User.objects.create_user
            with transaction.atomic():
                user = make(email=email, password=password)
        try:
            from apps.accounts.services import user_email_address_ensure
        except ImportError:  # pragma: no cover - allauth rows are optional for the demo
            return user
        address = user_email_address_ensure(user=user)
        if not address.verified:  # demo addresses: no verification mail to wait for
            address.verified = True
            address.save(update_fields=["verified"])
        return user

    def _mirror_now(self) -> None:
        """Mirror now rather than wait for the worker (it may not be up under ``make run``):
        idempotent, so the task queued on commit becomes a no-op."""
        from apps.copies.mirroring import lead_event_mirror

        for event_id in (
            LeadEvent.objects.filter(status=LeadEvent.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        ):
            lead_event_mirror(event_id)

    def _logins(self) -> None:
        rows = [("operator (admin)", OPERATOR_EMAIL, OPERATOR_PASSWORD)]
        rows += [(f"lead {s['nickname']}", s["email"], LEAD_PASSWORD) for s in LEADS]
        rows.append(("follower", FOLLOWER_EMAIL, FOLLOWER_PASSWORD))
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        self.stdout.write("")
        self.stdout.write(f"{'role':<{w1}}  {'e-mail':<{w2}}  password")
        for role, email, password in rows:
            self.stdout.write(f"{role:<{w1}}  {email:<{w2}}  {password}")


@contextmanager
def _noop() -> Iterator[None]:
    yield


class _History:
    """The back-dated weeks: a price path, the leads' trades on it and the copiers' copies,
    each step through the real services with the clock at that step (see the module
    docstring)."""

    def __init__(self, cmd: Command, leads, operator, ends: dict[str, Decimal], start, now):
        self.cmd, self.leads, self.operator = cmd, leads, operator
        self.start = start
        self.steps = int((now - start - timedelta(minutes=5)) / STEP)
        self.instruments = {i.name: i for i in Instrument.objects.filter(name__in=list(PRICES))}
        self.path = self._walk(ends)
        self.actions = 0
        self.ticks = 0
        self.open: dict[str, list[Position]] = {}

    def _walk(self, ends: dict[str, Decimal]) -> dict[str, list[Decimal]]:
        """Per instrument, the price at each step; the spot pair follows its perpetual."""
        rng = random.Random(SEED)
        out = {}
        for asset, (drift, vol) in WALKS.items():
            end = float(ends[f"{asset}-USDT-SWAP"])
            prices = [end]
            for _ in range(self.steps):
                prices.append(prices[-1] / (1 + drift + rng.gauss(0, vol)))
            prices.reverse()
            places = Decimal("0.01")
            perp = [Decimal(str(p)).quantize(places) for p in prices]
            out[f"{asset}-USDT-SWAP"] = perp
            spot_end = ends[f"{asset}-USDT"]
            ratio = spot_end / ends[f"{asset}-USDT-SWAP"]
            out[f"{asset}-USDT"] = [(p * ratio).quantize(places) for p in perp]
        return out

    def at(self, step: int) -> datetime:
        return self.start + step * STEP

    def step_of(self, day: int, hour: int, minute: int = 0) -> int:
        return int(timedelta(days=day, hours=hour, minutes=minute) / STEP)

    def price(self, name: str, step: int) -> Decimal:
        return self.path[name][step]

    # --- the run --------------------------------------------------------------------------
    def run(self) -> None:
        plan = sorted(self._plan(), key=lambda a: (a[0], a[1]))
        trade_steps = {step for step, *_ in plan}
        self._ticks(skip=trade_steps)
        for step, _order, action in plan:
            with _clock(self.at(step)):
                prices_set_many(
                    prices={name: self.price(name, step) for name in PRICES},
                    source="seed",
                    at=self.at(step),
                )
                action()
                self.cmd._mirror_now()
        from apps.market.candles import candles_aggregate

        candles_aggregate()

    def stats(self) -> None:
        """The nightly job's work for every past day: snapshots, then the stats."""
        from apps.stats.services import snapshots_take, trader_stats_refresh

        yesterday = timezone.now().date() - timedelta(days=1)
        day = self.start.date()
        while day <= yesterday:
            snapshots_take(day=day)
            day += timedelta(days=1)
        trader_stats_refresh(as_of=yesterday)

    def _ticks(self, *, skip: set[int]) -> None:
        rows = []
        dense = self.steps - int(timedelta(days=DENSE_DAYS) / STEP)
        hourly = int(timedelta(hours=1) / STEP)
        for name, prices in self.path.items():
            inst = self.instruments[name]
            for step, price in enumerate(prices):
                if step in skip or (step < dense and step % hourly):
                    continue
                rows.append(
                    PriceTick(instrument=inst, price=price, source="seed", created_at=self.at(step))
                )
        PriceTick.objects.bulk_create(rows, batch_size=2000)
        self.ticks = len(rows) + len(skip) * len(self.path)  # and the trades' own

    # --- what happens when ----------------------------------------------------------------
    def _plan(self) -> Iterator[tuple[int, int, object]]:
        """(step, order within the step, action) for every lead trade and copy start."""
        last = self.steps - 1
        order = iter(range(10_000))

        def at(day, hour, minute=0):
            return min(self.step_of(day, hour, minute), last)

        alpha, steady, sol = (self.leads[n] for n in ("AlphaWhale", "SteadyEddie", "SolSurfer"))
        yield 0, next(order), lambda: self._transfer(steady, "spot", LEAD_SPOT)
        # copiers start along the way
        for email, nickname, market, amount, day, hour, options in COPIERS:
            yield at(day, hour), next(order), self._copier(email, nickname, market, amount, options)
        total = (self.steps * STEP) // timedelta(days=1)
        # AlphaWhale: a BTC long every 3 days when BTC rose over the last 2 days; half closed
        # a day later, the rest the day after
        margins = ["1200", "1500", "1000", "1300", "1100", "1400", "1000"]
        for i, day in enumerate(range(1, total - 2, 3)):
            s = at(day, 10)
            if self.price("BTC-USDT-SWAP", s) < self.price("BTC-USDT-SWAP", max(0, s - 192)):
                continue
            key = f"alpha{i}"
            yield s, next(order), self._open(alpha, key, "BTC-USDT-SWAP", "long", "cross", 5,
                                              margins[i % len(margins)])  # fmt: skip
            yield at(day + 1, 16), next(order), self._close(alpha, key, "0.5")
            yield at(day + 2, 15), next(order), self._close(alpha, key, "1")
        # SteadyEddie futures: every other day a 2x isolated swing with the day's momentum,
        # closed 12 hours later; ETH and BTC in turn
        for i, day in enumerate(range(1, total, 2)):
            name = "ETH-USDT-SWAP" if i % 2 == 0 else "BTC-USDT-SWAP"
            s = at(day, 8)
            side = "long" if self.price(name, s) >= self.price(name, max(0, s - 96)) else "short"
            key = f"steady{i}"
            yield s, next(order), self._open(steady, key, name, side, "isolated", 2, "600")
            yield at(day, 20), next(order), self._close(steady, key, "1")
        # SteadyEddie spot: a book of BTC, ETH and SOL, bought by amounts, sold by fractions
        spot = [
            (1, 9, "buy", "BTC-USDT", "1200"),
            (3, 11, "buy", "ETH-USDT", "800"),
            (7, 14, "sell", "ETH-USDT", "0.33333333"),
            (9, 10, "buy", "SOL-USDT", "400"),
            (12, 15, "sell", "BTC-USDT", "0.5"),
            (15, 9, "buy", "BTC-USDT", "600"),
            (18, 16, "sell", "SOL-USDT", "1"),
            (20, 10, "buy", "ETH-USDT", "300"),
        ]
        for day, hour, side, name, value in spot:
            if day < total:
                yield at(day, hour), next(order), self._spot(steady, side, name, value)
        # SolSurfer: SOL swings both ways every 36 hours with the last 12 hours' momentum,
        # held 10 to 26 hours; one trade of 1 USDT margin, too small for a copy to follow
        hours = 14
        i = 0
        while hours + 26 < total * 24:
            s = at(0, hours)
            name = "SOL-USDT-SWAP"
            side = "long" if self.price(name, s) >= self.price(name, max(0, s - 48)) else "short"
            margin = "1" if i == 4 else ["500", "400", "600"][i % 3]
            key = f"sol{i}"
            yield s, next(order), self._open(sol, key, name, side, "isolated", 3, margin)
            yield at(0, hours + 10 + (i * 7) % 17), next(order), self._close(sol, key, "1")
            hours += 36
            i += 1

    # --- actions (called with the clock set) ------------------------------------------------
    def _transfer(self, lead, market, amount):
        lead_transfer(
            lead=lead, market=market, direction="in", amount=amount, key=f"demo-{market}:{lead.pk}"
        )

    def _open(self, lead, key, instrument, side, mode, leverage, margin):
        def run():
            position = lead_position_open(
                lead=lead,
                instrument=instrument,
                side=side,
                margin_mode=mode,
                leverage=leverage,
                margin=margin,
            )
            self.open[key] = position
            self.actions += 1

        return run

    def _close(self, lead, key, fraction):
        def run():
            position = self.open.get(key)
            if position is None:
                return
            lead_position_close(lead=lead, position=position.pk, fraction=fraction)
            self.actions += 1

        return run

    def _spot(self, lead, side, instrument, value):
        def run():
            if side == "buy":
                lead_spot_buy(lead=lead, instrument=instrument, amount=value)
            else:
                lead_spot_sell(lead=lead, instrument=instrument, fraction=value)
            self.actions += 1

        return run

    def _copier(self, email, nickname, market, amount, options):
        def run():
            from apps.copies.services import copy_start

            user = self.cmd._user(email, None)
            deposit_credit(
                user=user,
                amount=COPIER_DEPOSIT,
                key=f"demo-deposit:{email}",
                operator=self.operator,
            )
            copy_start(
                follower=user,
                lead=self.leads[nickname],
                market=market,
                total_investment=amount,
                **options,
            )

        return run
