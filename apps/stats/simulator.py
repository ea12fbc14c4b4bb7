"""The copy simulator, "what would I have made" (issue 9 item 6). Futures Smart Sync only.
Choices and what they give up: docs/decisions/0011-copy-simulator.md.

``simulate(lead=..., days=7|30|90, investment=..., stop_loss=None, stop_loss_action=...)`` answers
what copying ``lead`` with ``investment`` USDT over the last ``days`` days would have returned:
a copy started at the period's start, holding nothing (no Copy Ongoing Positions), that sees only
the lead's events recorded after that moment (as ``Copy.start_after_event_id`` does).

How: the lead's recorded ``positions.LeadEvent`` rows of the period are replayed in id order
through the same pure engine a real copy is mirrored with (``smart_sync.plan_event``, fed by
``copies.mirroring.engine_event`` and ``copies.engine``), against an in-memory copy account
(balance, open positions with margin, size, entry, side, mode, leverage and the lead sub-position
they link to). Each event executes at its own recorded ``fill_price``: the price a real copy gets
when the price did not move between the lead's trade and the mirror. Every amount is booked the
way the real services book it:

- opens: the engine's size, margin and fee (rounding, available cap, minimum-size bump, misses
  with their reasons, unchanged; the slippage guard never trips, the price being the lead's);
- closes (lead closes, liquidations, stops): ``positions.services.close_money``, the ledger's own
  loss caps (isolated: never more than the margin released; cross: never the isolated margins,
  never below zero), realized PnL and fees as recorded on a real position;
- leverage and margin changes: ``copies.engine.margin_spec`` of the engine's intent;
- funding: at each recorded ``fees.FundingSettlement`` round of the period (its slot, rate and
  mark) for the simulated positions opened at or before the slot, with ``fees.services
  .funding_change`` and the real round's order (receipts, then payments; isolated from margin,
  cross from cash; what cannot be paid is a shortfall);
- profit share: every Monday 00:00 UTC and at the end of the period (kept as owed when cash is
  short), and on a stop (the unpaid part written off): due = owed + ratio x max(0, R - H)
  (``fees.selectors.profit_share_due``), paid = min(due, free cash), H = max(H, R), with the lead's
  CURRENT profit share ratio;
- Total Stop Loss for Trader (copy PnL = equity - investment <= -amount) and liquidation
  (``positions.risk.liquidations``: isolated past the liquidation price, cross at <= 100%) are
  checked at every price the history knows: each lead event's fill price (before the event is
  mirrored, as a real price change runs the risk pass first), after each event (the sweep), and
  each 1-hour candle's close; an isolated position held unchanged through an hour is also
  liquidated when that hour's low (long) or high (short) crossed its liquidation price: at the
  hour's first price when that one had already crossed it (what the risk pass did), else at the
  liquidation price (the first price past it is unknown). The three stop-loss actions: close all (the copy stops), keep (no more opens, positions
  follow the lead's closes), hand over (lead events no longer touch them; the simulation holds
  them to the end: nobody knows when you would have closed them).

Marks: an instrument's price at a moment is the latest of what the history recorded at or before
it: a lead event's fill price, the close of a 1-hour ``market.Candle`` (at its last tick), the
current ``market.Price``. Equity per UTC day is taken at the day's end (cash + margins + uPnL at
those marks). ROI = final equity / investment - 1 (no transfers in a simulation); max drawdown
is ``stats.formulas.max_drawdown`` of the daily equity curve from the investment.

Order of things at one instant: the day's close, price observations, lead events, funding,
the weekly settlement; the end of the period last.

Invariants:
- Pure replay: ``history_load`` reads everything in at most four queries (events, instruments with
  their current price, 1-hour candles, funding rounds), whatever the period; ``replay`` reads and
  writes nothing. ``simulate`` adds one query (the lead's last event id, for the cache key).
- Nothing is written: no ledger entry, no row. The simulated balance never goes negative nor
  below the isolated margins it holds (the loss caps of ``close_money``; funding pays only what
  the account holds) and an open never spends more than the available cash (the engine's cap).
  Cash (balance - all margins) can go below zero only as a real account's can: a cross loss or
  cross funding may use the margin of other cross positions (docs/decisions/0008, 0009).
- Cached per (lead, days, investment, stop loss, action, profit share ratio, last event id) for
  ``STATS_SIMULATION_CACHE_S`` seconds (default 300): a new lead event changes the key.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, localcontext
from fractions import Fraction

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from apps import smart_sync as ss
from apps.copies import engine
from apps.copies.mirroring import engine_event
from apps.copies.models import Copy
from apps.copies.services import copy_request_validate
from apps.core.exceptions import ApplicationError
from apps.core.money import ZERO, exact, usdt, usdt_down
from apps.fees.models import FundingSettlement
from apps.fees.selectors import profit_share_due
from apps.fees.services import funding_change
from apps.market import math as pmath
from apps.market.models import Candle, Instrument
from apps.market.services import venue_price
from apps.positions.models import LeadEvent, MarginMode, Position
from apps.positions.risk import liquidation_price, liquidations
from apps.positions.selectors import AccountFigures, OpenPositionRow
from apps.positions.services import CloseSpec, booking_order, close_money, market_close_spec
from apps.stats import formulas

PERIODS = (7, 30, 90)
CACHE_VERSION = 1
ACCOUNT = 1  # the simulated copy account and copy: ids only the replay sees
COPY = 1
Kind = LeadEvent.Kind
_SPOT_KINDS = (Kind.SPOT_BUY, Kind.SPOT_SELL)
_MARGIN_ACTIONS = ("set_leverage", "add_margin", "reduce_margin")
_API_FIELDS = {"total_investment_usdt": "investment_usdt", "total_stop_loss_usdt": "stop_loss_usdt"}
_WIDE = Context(prec=96)
_CROSS_SLACK = Decimal("1.0001")
_NEAR = Decimal("0.000001")  # the fast equity is exact; the real one sums in 28 digits


# --- what the replay reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class SimInstrument:
    id: int
    name: str
    model: Instrument  # venue prices and market close specs read it (no query)
    engine: ss.Instrument


@dataclass(frozen=True)
class SimEvent:
    """One lead event: the fields ``copies.mirroring.engine_event`` reads, plus when and its
    status. ``at`` never goes back in time along the ids (a later id is never earlier)."""

    id: int
    at: datetime
    kind: str
    status: str
    instrument_id: int | None
    position_id: int | None
    side: str
    margin_mode: str
    leverage: int | None
    previous_leverage: int | None
    fill_price: Decimal | None
    size: Decimal | None
    lead_size_before: Decimal | None
    margin: Decimal | None
    lead_margin_before: Decimal | None
    lead_equity_before: Decimal | None
    fraction: Decimal | None
    amount: Decimal | None = None  # spot buys only: never replayed here


@dataclass(frozen=True)
class PricePoint:
    """A price the history knows at ``at``: a 1-hour candle's close (with the hour's start and
    its first, lowest and highest prices) or the current price (no extremes)."""

    at: datetime
    instrument_id: int
    close: Decimal
    low: Decimal | None = None
    high: Decimal | None = None
    hour_start: datetime | None = None
    open: Decimal | None = None


@dataclass(frozen=True)
class FundingRound:
    slot: datetime
    instrument_id: int
    rate: Decimal
    mark: Decimal


@dataclass(frozen=True)
class History:
    """Everything one replay needs, loaded once (``history_load``) or built by hand (tests)."""

    lead_id: int
    start: datetime
    end: datetime
    ratio: Decimal  # the lead's profit share ratio now
    instruments: dict[int, SimInstrument]
    events: tuple[SimEvent, ...] = ()
    prices: tuple[PricePoint, ...] = ()
    funding: tuple[FundingRound, ...] = ()
    last_event_id: int = 0


# --- what it answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SimTrade:
    """One simulated fill (or a missed open), for the chart and the list of trades."""

    at: datetime
    action: str  # open, close, liquidation, stop (closed by a stop), missed
    instrument: str
    side: str
    size: Decimal
    price: Decimal
    fee: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # booked, gross of the fee (after the loss caps)
    margin: Decimal = ZERO
    lead_event_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Simulation:
    """The answer. Money in USDT; ``roi`` and ``max_drawdown`` are fractions rounded toward zero
    to 8 places (0.0125 = 1.25%). ``equity`` is exact (cash + margins + uPnL at the end, after
    the end's profit-share settlement); ``daily`` equities are rounded toward zero to 8 places."""

    lead_id: int
    days: int
    start: datetime
    end: datetime
    investment: Decimal
    stop_loss: Decimal | None
    stop_loss_action: str
    profit_share_ratio: Decimal
    equity: Decimal
    pnl_usdt: Decimal  # equity - investment
    roi: Decimal
    max_drawdown: Decimal | None
    realized_pnl_usdt: Decimal  # closed PnL - fees + funding (SPEC §8's R)
    unrealized_pnl_usdt: Decimal
    fees_usdt: Decimal
    funding_usdt: Decimal  # received (+) or paid (-), net
    profit_share_usdt: Decimal  # paid to the lead
    profit_share_owed_usdt: Decimal  # due at the end but not payable from free cash
    copied: int
    missed: dict[str, int]  # reason -> count
    skipped: dict[str, int]  # reason -> count (nothing to change, as a real copy records)
    sync_failed: dict[str, int]  # reason -> count (leverage or margin not followed)
    failed: int  # events that could not be mirrored at all
    liquidations: int
    open_positions: int  # at the end
    stop_loss_triggered_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str
    daily: list[tuple[date, Decimal]]
    trades: list[SimTrade]
    last_event_id: int
    lead_roi: Decimal | None = None

    @property
    def roi_gap(self) -> Decimal | None:
        """The follower's ROI minus the lead's own over the same days (None when unknown)."""
        return None if self.lead_roi is None else self.roi - self.lead_roi


# --- the entry point ----------------------------------------------------------------------------


def simulate(
    *,
    lead,
    days,
    investment,
    stop_loss=None,
    stop_loss_action: str = Copy.StopLossAction.CLOSE_ALL,
    now: datetime | None = None,
    lead_roi: Callable[..., Decimal | None] | None = None,
) -> Simulation:
    """What copying ``lead`` (a ``LeadTrader``) with ``investment`` USDT over the last ``days``
    days (7, 30 or 90) would have returned. Bad input raises ``ApplicationError`` naming the
    field as ``GET traders/{id}/simulate/`` does (``days``, ``investment_usdt``,
    ``stop_loss_usdt``, ``stop_loss_action``), with the copy wizard's own rules for the amounts
    (at least the minimum investment; a stop loss above 0 and below the investment). ``lead_roi``, when given, is called as
    ``lead_roi(lead=lead, days=days)`` and its answer fills ``Simulation.lead_roi`` (not cached).
    ``now`` (tests, the bench) fixes the end of the period."""
    n = simulation_days_validate(days)
    try:
        req = copy_request_validate(
            total_investment=investment,
            total_stop_loss=stop_loss,
            stop_loss_action=stop_loss_action,
        )
    except ApplicationError as exc:  # the copy wizard's rules, under the simulate API's names
        exc.fields = {_API_FIELDS.get(k, k): v for k, v in exc.fields.items()}
        raise
    end = now or timezone.now()
    last = (
        LeadEvent.objects.filter(account_id=lead.futures_account_id).aggregate(m=Max("id"))["m"]
        or 0
    )
    key = (
        f"stats:simulate:v{CACHE_VERSION}:{lead.pk}:{n}:{usdt(req.investment)}:"
        f"{req.stop_loss and usdt(req.stop_loss)}:{req.stop_loss_action}:"
        f"{lead.profit_share_ratio}:{last}" + (f":{end.isoformat()}" if now is not None else "")
    )
    sim = cache.get(key)
    if sim is None:
        history = history_load(lead=lead, start=end - timedelta(days=n), end=end)
        sim = replay(
            history=history,
            days=n,
            investment=req.investment,
            stop_loss=req.stop_loss,
            stop_loss_action=req.stop_loss_action,
        )
        cache.set(key, sim, getattr(settings, "STATS_SIMULATION_CACHE_S", 300))
    if lead_roi is not None:
        sim = dataclasses.replace(sim, lead_roi=lead_roi(lead=lead, days=n))
    return sim


def simulation_days_validate(days) -> int:
    try:
        n = int(str(days).strip())
    except (TypeError, ValueError):
        n = 0
    if n not in PERIODS:
        choices = ", ".join(str(p) for p in PERIODS)
        raise ApplicationError(
            f"days must be one of {choices}, got {days!r}.",
            code="invalid_days",
            fields={"days": f"One of {choices}."},
        )
    return n


# --- loading: a constant number of queries ---------------------------------------------------------

_EVENT_FIELDS = (
    "id", "created_at", "kind", "status", "instrument_id", "position_id", "side", "margin_mode",
    "leverage", "previous_leverage", "fill_price", "size", "lead_size_before", "margin",
    "lead_margin_before", "lead_equity_before", "fraction", "amount",
)  # fmt: skip


def history_load(*, lead, start: datetime, end: datetime) -> History:
    """The lead's futures events recorded in (start, end], the perpetual instruments with their
    current price, the 1-hour candles and the funding rounds of the instruments those events
    trade: four queries at most."""
    events: list[SimEvent] = []
    last_at = start
    for row in (
        LeadEvent.objects.filter(
            account_id=lead.futures_account_id, created_at__gt=start, created_at__lte=end
        )
        .exclude(kind__in=_SPOT_KINDS)
        .order_by("id")
        .values_list(*_EVENT_FIELDS)
    ):
        ev = SimEvent(*row)
        last_at = max(last_at, ev.at)  # ids order the events; time never goes back along them
        events.append(ev if ev.at == last_at else dataclasses.replace(ev, at=last_at))
    traded = sorted({e.instrument_id for e in events if e.instrument_id is not None})
    instruments, prices, funding = {}, [], []
    if traded:
        for inst in Instrument.objects.filter(pk__in=traded).select_related("price"):
            instruments[inst.pk] = SimInstrument(
                id=inst.pk, name=inst.name, model=inst, engine=engine.engine_instrument(inst)
            )
            current = getattr(inst, "price", None)
            if current is not None and start < current.updated_at <= end:
                prices.append(PricePoint(current.updated_at, inst.pk, current.price))
        for inst_id, open_, low, high, close, last in Candle.objects.filter(
            instrument_id__in=traded,
            interval=Candle.Interval.HOUR,
            start__gte=start - timedelta(hours=1),
            start__lte=end,
            last_tick_at__gt=start,
            last_tick_at__lte=end,
        ).values_list("instrument_id", "open", "low", "high", "close", "last_tick_at"):
            # the hour's start is the hour of its last tick (one timestamp less to parse)
            hour = last.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            prices.append(PricePoint(last, inst_id, close, low, high, hour, open_))
        funding = [
            FundingRound(*row)
            for row in FundingSettlement.objects.filter(
                instrument_id__in=traded, slot__gt=start, slot__lte=end
            )
            .order_by("slot", "instrument_id")
            .values_list("slot", "instrument_id", "rate", "mark")
        ]
    return History(
        lead_id=lead.pk,
        start=start,
        end=end,
        ratio=lead.profit_share_ratio,
        instruments=instruments,
        events=tuple(events),
        prices=tuple(sorted(prices, key=lambda p: (p.at, p.instrument_id))),
        funding=tuple(funding),
        last_event_id=events[-1].id if events else 0,
    )


# --- the replay: pure ---------------------------------------------------------------------------


def replay(
    *,
    history: History,
    days: int,
    investment: Decimal,
    stop_loss: Decimal | None = None,
    stop_loss_action: str = Copy.StopLossAction.CLOSE_ALL,
    policy: ss.Policy | None = None,
) -> Simulation:
    """Replay ``history`` for a copy of ``investment``; no query, no write."""
    run = Replay(
        history,
        investment=investment,
        stop_loss=stop_loss,
        stop_loss_action=stop_loss_action,
        policy=policy or engine.policy(),
    )
    for item in run.timeline():
        run.step(item)
    return run.result(days=days)


@dataclass(slots=True)
class _Pos:
    """A simulated follower position (the fields a real one has)."""

    id: int
    lead_position_id: int
    inst: SimInstrument
    side: str
    margin_mode: str
    leverage: int
    size: Decimal
    entry_price: Decimal
    margin: Decimal
    opened_at: datetime
    changed_at: datetime  # last change of size, margin or leverage
    fees: Decimal = ZERO
    handed_over: bool = False
    isolated: bool = False  # set from margin_mode (the mode never changes)
    _lp_key: tuple = ()
    _lp: Decimal | None = None

    def __post_init__(self) -> None:
        self.isolated = self.margin_mode == MarginMode.ISOLATED

    def row(self, mark: Decimal | None) -> OpenPositionRow:
        e = self.inst.engine
        return OpenPositionRow(
            id=self.id,
            account_id=ACCOUNT,
            lead_position_id=self.lead_position_id,
            instrument_id=self.inst.id,
            side=self.side,
            margin_mode=self.margin_mode,
            leverage=self.leverage,
            size=self.size,
            entry_price=self.entry_price,
            margin=self.margin,
            mark=mark,
            contract_value=e.contract_value,
            mmr=e.mmr,
            taker_fee=e.taker_fee,
            handed_over=self.handed_over,
        )

    def follower(self) -> ss.FollowerPosition:
        return ss.FollowerPosition(
            id=self.id,
            lead_position_id=self.lead_position_id,
            side=self.side,
            margin_mode=self.margin_mode,
            leverage=self.leverage,
            size=self.size,
            entry_price=self.entry_price,
            margin=self.margin,
        )

    def liq_price(self) -> Decimal | None:
        """The isolated liquidation price (positions.risk), recomputed when margin or size
        changed."""
        key = (self.margin, self.size)
        if key != self._lp_key:
            self._lp_key, self._lp = key, liquidation_price(self.row(None))
        return self._lp


class Replay:
    """One simulated copy walking through a history. ``timeline()`` lists the steps in order;
    ``step()`` runs one; ``result()`` sums up. Tests may step through and look at the state."""

    def __init__(
        self,
        history: History,
        *,
        investment: Decimal,
        stop_loss: Decimal | None,
        stop_loss_action: str,
        policy: ss.Policy,
    ) -> None:
        self.h = history
        self.investment = investment
        self.stop_loss = stop_loss
        self.action = stop_loss_action
        self.policy = policy
        self.balance = investment  # the copy account: cash + margins
        self.open: dict[int, _Pos] = {}  # by id, in opening order
        self.marks: dict[int, Decimal] = {}
        self.next_id = 1
        self.copying = True
        self.triggered_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.stop_reason = ""
        self.realized = self.fees = self.funding = ZERO  # gross realized, fees, funding
        self.high_water = self.owed = self.paid = ZERO
        self.copied = self.failed = self.liquidated = 0
        self.missed: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.sync_failed: Counter[str] = Counter()
        self.daily: list[tuple[date, Decimal]] = []
        self.trades: list[SimTrade] = []

    # --- the timeline -------------------------------------------------------------------------
    def timeline(self) -> list[tuple]:
        h = self.h
        items: list[tuple] = []
        day = datetime.combine(h.start.astimezone(UTC).date(), time(0), tzinfo=UTC)
        monday = day - timedelta(days=day.weekday())
        while (day := day + timedelta(days=1)) < h.end:
            items.append((day, 0, 0, self._on_day_close, day))
        items += [(p.at, 1, i, self._on_price, p) for i, p in enumerate(h.prices)]
        items += [(e.at, 2, e.id, self._on_event, e) for e in h.events]
        items += [(r.slot, 3, i, self._on_funding, r) for i, r in enumerate(h.funding)]
        while (monday := monday + timedelta(days=7)) <= h.end:
            if monday > h.start:
                items.append((monday, 4, 0, self._on_weekly, monday))
        items.append((h.end, 9, 0, self._on_end, h.end))
        items.sort(key=lambda it: it[:3])
        return items

    def step(self, item: tuple) -> None:
        at, _, _, handler, payload = item
        handler(at, payload)

    # --- figures (apps.positions.selectors' definitions) --------------------------------------
    def figures(self, *, rows: bool = False) -> AccountFigures:
        """Balance, margin, uPnL, cross uPnL (so equity and available) at the marks, summed as
        ``positions.selectors.account_figures`` sums them; with ``rows``, the positions too
        (what ``positions.risk.liquidations`` reads)."""
        fig = AccountFigures(account_id=ACCOUNT, balance=self.balance)
        for p in self.open.values():
            mark = self.marks[p.inst.id]  # set by the fill that opened it
            u = pmath.upnl(p.side, p.size, p.inst.engine.contract_value, p.entry_price, mark)
            fig.margin += p.margin
            fig.upnl += u
            if not p.isolated:
                fig.cross_upnl += u
            if rows:
                fig.positions.append(p.row(mark))
        return fig

    @property
    def cash(self) -> Decimal:
        return self.balance - sum((p.margin for p in self.open.values()), ZERO)

    # --- handlers ---------------------------------------------------------------------------
    def _on_day_close(self, at: datetime, day: datetime) -> None:
        self.daily.append(((day - timedelta(days=1)).date(), self.figures().equity))

    def _on_price(self, at: datetime, p: PricePoint) -> None:
        if p.low is not None and self.stopped_at is None:
            self._extremes(at, p)
        self._mark(at, p.instrument_id, p.close)

    def _mark(self, at: datetime, instrument_id: int, price: Decimal) -> None:
        """A price change: the risk pass runs when the simulated copy holds the instrument."""
        self.marks[instrument_id] = price
        if self.stopped_at is None and any(p.inst.id == instrument_id for p in self.open.values()):
            self._risk(at)

    def _on_event(self, at: datetime, ev: SimEvent) -> None:
        if self.stopped_at is not None:
            return
        inst = self.h.instruments.get(ev.instrument_id) if ev.instrument_id else None
        if inst is not None and ev.fill_price is not None:
            self._mark(at, inst.id, ev.fill_price)
            if self.stopped_at is not None:
                return
        if ev.kind == Kind.ENDED:
            self._stop(at, Copy.StopReason.LEAD_ENDED)
            return
        if ev.kind == Kind.OPEN:
            if not self.copying:
                return  # a triggered stop loss takes no more opens
            linked: list[_Pos] = []
        else:  # a position event reaches only copies holding a linked position
            linked = [
                p
                for p in self.open.values()
                if p.lead_position_id == ev.position_id and not p.handed_over
            ]
            if not linked:
                return
        if inst is None or ev.status == LeadEvent.Status.FAILED:
            self.failed += 1
            return
        self._mirror(at, ev, inst, linked)
        self._risk(at)  # the sweep, at the same prices

    def _mirror(self, at: datetime, ev: SimEvent, inst: SimInstrument, linked: list[_Pos]) -> None:
        fig = self.figures()
        state = ss.CopyState(
            copy_id=COPY,
            equity=fig.equity,
            available=fig.available,
            positions=tuple(p.follower() for p in linked),
            cross_upnl=fig.cross_upnl,
        )
        price = ev.fill_price if ev.fill_price is not None else self.marks.get(inst.id)
        try:
            intents = ss.plan_event(
                engine_event(ev, price_now=price), [state], inst.engine, self.policy
            )
        except ValueError:  # an event the engine cannot plan fails every copy
            self.failed += 1
            return
        for it in intents:
            self._apply(at, ev, inst, it)

    def _apply(self, at: datetime, ev: SimEvent, inst: SimInstrument, it: ss.Intent) -> None:
        if it.action == "open":
            self._open(at, ev, inst, it)
            self.copied += 1
        elif it.action == "close":
            spec = engine.close_spec(
                it,
                reason=Position.CloseReason.LEAD,
                lead_event_id=ev.id,
                reference_price=ev.fill_price,
            )
            self._book(at, [spec], "close", lead_event_id=ev.id)
            self.copied += 1
        elif it.action in _MARGIN_ACTIONS:
            pos = self.open[it.position_id]
            spec = engine.margin_spec(it, pos.margin)
            pos.margin = spec.margin
            pos.leverage = spec.leverage or pos.leverage
            pos.changed_at = at
            self.copied += 1
        elif it.action == "miss":
            self.missed[it.reason] += 1
            self.trades.append(
                SimTrade(
                    at,
                    "missed",
                    inst.name,
                    it.side,
                    ZERO,
                    it.price,
                    lead_event_id=ev.id,
                    reason=it.reason,
                )
            )
        elif it.action == "sync_failed":
            self.sync_failed[it.reason] += 1
        elif it.action == "skip":
            self.skipped[it.reason] += 1
        else:  # failed (the engine could not plan this copy's figures)
            self.failed += 1

    def _open(self, at: datetime, ev: SimEvent, inst: SimInstrument, it: ss.Intent) -> None:
        pos = _Pos(
            id=self.next_id,
            lead_position_id=ev.position_id,
            inst=inst,
            side=it.side,
            margin_mode=it.margin_mode,
            leverage=it.leverage,
            size=it.size,
            entry_price=it.price,
            margin=it.margin,
            opened_at=at,
            changed_at=at,
            fees=it.fee,
        )
        self.next_id += 1
        self.open[pos.id] = pos
        self.balance -= it.fee  # the margin is an allocation inside the account
        self.fees += it.fee
        self.trades.append(
            SimTrade(
                at, "open", inst.name, it.side, it.size, it.price, it.fee, ZERO, it.margin, ev.id
            )
        )

    def _book(
        self, at: datetime, specs: list[CloseSpec], action: str, lead_event_id: int | None = None
    ) -> None:
        """Book closes as one batch exactly as ``positions.services._apply_closes`` does: the
        rows as they were before the batch, the isolated margin that stays allocated after it
        as the cross floor, then ``close_money`` one close after another in ``booking_order``."""
        floors = {ACCOUNT: ZERO}
        if any(not self.open[c.position_id].isolated for c in specs):
            floor = sum((p.margin for p in self.open.values() if p.isolated), ZERO)
            for c in specs:
                p = self.open[c.position_id]
                if p.isolated:
                    floor -= p.margin if c.quantity == p.size else c.margin_released
            floors[ACCOUNT] = floor
        balances = {ACCOUNT: self.balance}
        for c in booking_order(specs, lambda c: self.open[c.position_id].margin_mode):
            p = self.open[c.position_id]
            row = {
                "account_id": ACCOUNT,
                "margin": p.margin,
                "size": p.size,
                "margin_mode": p.margin_mode,
            }
            money = close_money(c, row, balances, floors)
            left = p.size - c.quantity
            if left > 0:
                p.size, p.margin = left, max(ZERO, p.margin - c.margin_released)
                p.changed_at = at
            else:
                del self.open[p.id]
            p.fees += money.fee
            self.realized += money.realized
            self.fees += money.fee
            self.trades.append(
                SimTrade(
                    at,
                    action,
                    p.inst.name,
                    p.side,
                    c.quantity,
                    c.price,
                    money.fee,
                    money.realized,
                    c.margin_released,
                    lead_event_id,
                )
            )
        self.balance = balances[ACCOUNT]

    # --- risk: liquidation and Total Stop Loss for Trader ---------------------------------------
    def _risk(self, at: datetime) -> None:
        """The risk pass (apps.copies.risk): liquidations, then the stop loss, then a stopping
        copy without positions stops."""
        if self.stopped_at is not None:
            return
        equity = self.balance
        if self.open:
            due, equity = self._scan()
            if due:
                for liq in liquidations({ACCOUNT: self.figures(rows=True)}):
                    self._book(at, liq.specs, "liquidation")
                    self.liquidated += len(liq.specs)
                equity = self.figures().equity
        self._stop_loss(at, equity)
        if self.triggered_at is not None and self.stopped_at is None and not self.open:
            self._stop(at, Copy.StopReason.STOP_LOSS)

    def _scan(self) -> tuple[bool, Decimal]:
        """One cheap pass over the open positions: whether ``positions.risk.liquidations`` may
        have anything to close (an isolated mark past its cached, exact liquidation price, or
        cross equity = balance - isolated margins + cross uPnL within 0.01% of the cross
        positions' maintenance: a superset of a cross level <= 100%, ``liquidations`` decides
        exactly), and the equity (exact: a 96-digit context)."""
        iso_margin = cross_upnl = upnl = maintenance = ZERO
        due = cross = False
        with localcontext(_WIDE):
            for p in self.open.values():
                mark, e = self.marks[p.inst.id], p.inst.engine
                move = p.size * e.contract_value * (mark - p.entry_price)
                u = move if p.side == "long" else -move
                upnl += u
                if p.isolated:
                    iso_margin += p.margin
                    lp = p.liq_price()
                    if lp is not None and (mark <= lp if p.side == "long" else mark >= lp):
                        due = True
                else:
                    cross, cross_upnl = True, cross_upnl + u
                    maintenance += (
                        p.size * e.contract_value * mark * ((e.mmr or ZERO) + e.taker_fee)
                    )
            if cross and maintenance > 0:
                due = due or self.balance - iso_margin + cross_upnl <= maintenance * _CROSS_SLACK
            return due, self.balance + upnl

    def _stop_loss(self, at: datetime, equity: Decimal) -> None:
        """Total Stop Loss for Trader: copy PnL = equity - investment <= -amount (checked on
        ``figures()``, summed as the real copy's figures are, when the fast ``equity`` is near)."""
        if self.stop_loss is None or self.triggered_at is not None:
            return
        if equity - self.investment > _NEAR - self.stop_loss:
            return
        if self.figures().equity - self.investment > -self.stop_loss:
            return
        self.triggered_at, self.copying = at, False
        if self.action == Copy.StopLossAction.CLOSE_ALL:
            self._stop(at, Copy.StopReason.STOP_LOSS)
        elif self.action == Copy.StopLossAction.HAND_OVER:
            for pos in self.open.values():
                pos.handed_over = True

    def _extremes(self, at: datetime, p: PricePoint) -> None:
        """Isolated positions held unchanged through the hour: liquidated when the hour's low
        (long) or high (short) reached their liquidation price; at the hour's first price when
        that one already had (exactly what the risk pass did), else at the liquidation price
        (the first price past it is unknown)."""
        due = []
        for pos in self.open.values():
            if pos.inst.id != p.instrument_id or not pos.isolated or pos.changed_at > p.hour_start:
                continue
            lp = pos.liq_price()
            if lp is None:
                continue
            long = pos.side == "long"
            if p.open is not None and (p.open <= lp if long else p.open >= lp):
                due.append(pos.row(p.open))
            elif p.low <= lp if long else p.high >= lp:
                due.append(pos.row(lp))
        if due:
            fig = AccountFigures(account_id=ACCOUNT, balance=self.balance, positions=due)
            for liq in liquidations({ACCOUNT: fig}):
                self._book(at, liq.specs, "liquidation")
                self.liquidated += len(liq.specs)

    def _stop(self, at: datetime, reason: str) -> None:
        """Stop copying (copies.services.copies_stop_locked): close every position at market,
        settle profit share (the unpaid part written off); the cash goes home."""
        specs = []
        for pos in self.open.values():
            inst = pos.inst.model
            price = venue_price(
                instrument=inst,
                side="sell" if pos.side == "long" else "buy",
                reference=self.marks[pos.inst.id],
            )
            specs.append(
                market_close_spec(
                    position=pos, instrument=inst, quantity=pos.size, price=price, reason=reason
                )
            )
        if specs:
            self._book(at, specs, "stop")
        self._settle(write_off=True)
        self.stopped_at, self.stop_reason, self.copying = at, reason, False

    # --- fees -------------------------------------------------------------------------------
    def _on_funding(self, at: datetime, rnd: FundingRound) -> None:
        """One funding round for this account (fees.services._funding_plan): receipts first,
        then payments; isolated from its margin, cross from cash and cross margin; nothing pays
        more than the account holds (the rest is a shortfall, never charged)."""
        held = [
            p
            for p in self.open.values()
            if p.inst.id == rnd.instrument_id and p.opened_at <= rnd.slot
        ]
        if self.stopped_at is not None or not held:
            return
        cv = self.h.instruments[rnd.instrument_id].engine.contract_value
        balance = self.balance
        free = balance - sum((p.margin for p in self.open.values() if p.isolated), ZERO)
        dues = {
            p.id: funding_change(
                side=p.side, size=p.size, contract_value=cv, mark=rnd.mark, rate=rnd.rate
            )
            for p in held
        }
        moved: dict[int, Decimal] = {}
        for p in held:
            if dues[p.id] > 0:
                moved[p.id] = dues[p.id]
                balance += dues[p.id]
                if p.isolated:
                    p.margin += dues[p.id]
                    p.changed_at = at
                else:
                    free += dues[p.id]
        for p in held:
            if dues[p.id] < 0:
                room = p.margin if p.isolated else max(ZERO, free)
                pay = min(-dues[p.id], room, max(ZERO, balance))
                moved[p.id] = -pay
                balance -= pay
                if p.isolated:
                    p.margin -= pay
                    p.changed_at = at
                else:
                    free -= pay
        self.funding += sum(moved.values(), ZERO)
        self.balance = balance

    def _on_weekly(self, at: datetime, _monday) -> None:
        if self.stopped_at is None:
            self._settle(write_off=False)

    def _settle(self, *, write_off: bool) -> None:
        """A profit-share settlement (fees.services._share_plan): due = owed + ratio x max(0,
        R - H) rounded down; paid = min(due, free cash); the rest owed (or written off on a
        stop); H = max(H, R)."""
        realized = self.realized - self.fees + self.funding
        due = profit_share_due(
            ratio=self.h.ratio, realized=realized, high_water=self.high_water, owed=self.owed
        )
        paid = min(due, max(ZERO, usdt_down(self.figures().available)))
        self.owed = ZERO if write_off else due - paid
        self.high_water = max(self.high_water, realized)
        self.balance -= paid
        self.paid += paid

    def _on_end(self, at: datetime, _end) -> None:
        if self.stopped_at is None:
            self._settle(write_off=False)
        last = (at - timedelta(microseconds=1)).astimezone(UTC).date()
        point = (last, self.figures().equity)
        if self.daily and self.daily[-1][0] == last:
            self.daily[-1] = point
        else:
            self.daily.append(point)

    # --- the answer ---------------------------------------------------------------------------
    def result(self, *, days: int) -> Simulation:
        fig = self.figures()
        equity, investment = fig.equity, self.investment
        drawdown = formulas.max_drawdown(investment, [formulas.Day(e) for _, e in self.daily])
        return Simulation(
            lead_id=self.h.lead_id,
            days=days,
            start=self.h.start,
            end=self.h.end,
            investment=investment,
            stop_loss=self.stop_loss,
            stop_loss_action=self.action,
            profit_share_ratio=self.h.ratio,
            equity=equity,
            pnl_usdt=equity - investment,
            roi=usdt_down(exact(equity) / exact(investment) - 1),
            max_drawdown=None if drawdown is None else usdt_down(Fraction(drawdown)),
            realized_pnl_usdt=self.realized - self.fees + self.funding,
            unrealized_pnl_usdt=fig.upnl,
            fees_usdt=self.fees,
            funding_usdt=self.funding,
            profit_share_usdt=self.paid,
            profit_share_owed_usdt=self.owed,
            copied=self.copied,
            missed=dict(self.missed),
            skipped=dict(self.skipped),
            sync_failed=dict(self.sync_failed),
            failed=self.failed,
            liquidations=self.liquidated,
            open_positions=len(self.open),
            stop_loss_triggered_at=self.triggered_at,
            stopped_at=self.stopped_at,
            stop_reason=self.stop_reason,
            daily=[(d, usdt_down(e)) for d, e in self.daily],
            trades=list(self.trades),
            last_event_id=self.h.last_event_id,
        )


__all__ = [
    "PERIODS",
    "FundingRound",
    "History",
    "PricePoint",
    "Replay",
    "SimEvent",
    "SimInstrument",
    "SimTrade",
    "Simulation",
    "history_load",
    "replay",
    "simulate",
    "simulation_days_validate",
]
