"""Writes of the stats app: the daily snapshots and the stats computed from them.

``snapshots_take(day=D)`` writes the snapshot of every lead trader's lead futures account, of
its lead spot account when that one was in use (below), and of every copy that existed during
the UTC day D, as of the day's end E = D + 1 day 00:00 UTC:

- balance at E    = the sum of the account's postings whose entry was made before E, read as
                    the current balance minus the postings made since E (the same number:
                    ``ledger_audit`` proves balance = sum of postings), so the daily run reads
                    minutes of ledger, not all of it
- transfers       = postings of ``transfer`` / ``copy_funding`` / ``copy_return`` entries (and
                    reversals of them) made during D: in = credits, out = debits (a lead's
                    main <-> lead futures and main <-> lead spot transfers)
- funding         = postings of ``funding`` entries made during D
- profit share    = postings of ``profit_share`` entries during D: the copy account's debits
                    (paid), the lead's main account's credits (earned; the lead's spot row
                    gets what its spot copies paid, the futures row the rest)
- realized, fees  = the fills made during D (closes and liquidations realize; every fill pays
                    its fee)
- unrealized      = over the positions open at E, side x size at E x contract value x (price
                    at E - entry); size at E = size now + what fills made since E closed -
                    what they added (a spot buy into a holding; a spot holding bought into
                    since E is valued at its current average cost: the average at E is not
                    recorded, so such a day is exact only when taken before that buy);
                    price at E = the latest of the last tick before E, the last 1-minute candle
                    before E (market.Candle: ticks are pruned) and the current price if it was
                    set before E. Rounded toward zero once per account; equity = balance +
                    unrealized.
- lead only       = copiers (its copies of that market active at E), AUM (their equity at E),
                    its sub-positions (spot: holdings) opened during D, closed during D and the
                    wins among those (formulas.is_win), their holding time
- spot            = the lead spot account's equity is its cash plus its holdings at the price
                    at E (balance + size x (price - average cost): a holding's cost basis sits
                    inside the balance like a margin). Its row is written on the days the
                    account held anything, moved money, traded, or had spot copiers; a lead
                    that never used spot has no spot rows (and no spot stats).
The snapshot depends only on history up to E, so taking a day again, the next morning or a
year later by ``stats_backfill``, writes the same numbers (unique per owner and day: an
upsert). All reads of a day run in one REPEATABLE READ transaction on PostgreSQL (one
consistent view, whatever commits meanwhile), in a constant number of statements whatever
the number of traders and copies; the rows are written with two upserts.

``trader_stats_refresh(as_of=D)`` recomputes every lead's ``TraderStats`` per market (futures,
and spot for a lead with spot snapshots) for 7, 30, 90 days and all time from the lead
snapshots of that market up to D (formulas in apps/stats/formulas.py), and the 30-day tracking
figures from the snapshots and events of that market's copies.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import groupby

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import Coalesce, Lag, RowNumber
from django.utils import timezone

from apps.copies.models import Copy, CopyEvent
from apps.core.bulk import bulk_upsert
from apps.core.money import ZERO, exact_context, usdt, usdt_down
from apps.ledger.models import Account, JournalEntry, Posting
from apps.market import math as pmath
from apps.market.models import Instrument, PriceTick
from apps.positions.models import Fill, Position
from apps.stats import formulas
from apps.stats.aggregate import sum_by
from apps.stats.models import PERIOD_DAYS, CopySnapshot, LeadSnapshot, Period, TraderStats
from apps.traders.models import LeadTrader

log = logging.getLogger(__name__)

MARKET_FUTURES = "futures"
MARKET_SPOT = "spot"
TRANSFER_KINDS = (
    JournalEntry.Kind.TRANSFER,
    JournalEntry.Kind.COPY_FUNDING,
    JournalEntry.Kind.COPY_RETURN,
)
FLOW_KINDS = (*TRANSFER_KINDS, JournalEntry.Kind.FUNDING, JournalEntry.Kind.PROFIT_SHARE)
TRADING_ACCOUNT_KINDS = (Account.Kind.COPY, Account.Kind.LEAD_FUTURES, Account.Kind.LEAD_SPOT)
CLOSING_FILLS = (Fill.Action.CLOSE, Fill.Action.LIQUIDATION)
# The daily task also takes the days it missed (beat down, worker stopped), at most this many;
# older gaps need ``manage.py stats_backfill``.
CATCH_UP_DAYS = 7
TRACKING_DAYS = 30
MIRROR_OUTCOMES = (
    CopyEvent.Kind.COPIED,
    CopyEvent.Kind.MISSED,
    CopyEvent.Kind.SYNC_FAILED,
    CopyEvent.Kind.FAILED,
)
MISSED_KINDS = (CopyEvent.Kind.MISSED, CopyEvent.Kind.SYNC_FAILED, CopyEvent.Kind.FAILED)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


@contextmanager
def _consistent_reads() -> Iterator[None]:
    """One transaction whose reads all see the same committed state. On PostgreSQL that needs
    REPEATABLE READ (READ COMMITTED gives each statement its own view), which can only be set
    first thing in a transaction: inside an enclosing one (a test's) its view is used as is."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


# --- snapshots -------------------------------------------------------------------------------
@dataclass
class _Figures:
    """One account's day, summed from the rows read."""

    balance: Decimal = ZERO  # at the day's end
    transfers_in: Decimal = ZERO
    transfers_out: Decimal = ZERO
    funding: Decimal = ZERO
    profit_share: Decimal = ZERO  # signed, as posted to the account
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    upnl: Decimal = ZERO  # exact
    open_positions: int = 0
    opens: int = 0
    closed: int = 0
    wins: int = 0
    holding_seconds: int = 0

    @property
    def unrealized(self) -> Decimal:
        return usdt(self.upnl)

    @property
    def equity(self) -> Decimal:
        return self.balance + self.unrealized

    @property
    def in_use(self) -> bool:
        """Anything to report: held, moved, traded (a spot account's row is written only then)."""
        return bool(
            self.balance or self.transfers_in or self.transfers_out or self.open_positions
            or self.realized or self.fees or self.opens or self.closed
        )  # fmt: skip


@dataclass(frozen=True)
class SnapshotRun:
    day: date
    leads: int
    copies: int


@dataclass
class _Scope:
    start: datetime
    end: datetime
    leads: list[tuple] = field(default_factory=list)  # (pk, futures, f. balance, user, spot, s. b.)
    lead_mains: dict[int, int] = field(default_factory=dict)  # main account -> lead pk
    copies: list[tuple] = field(default_factory=list)
    figures: dict[int, _Figures] = field(default_factory=lambda: defaultdict(_Figures))


def snapshots_take(*, day: date) -> SnapshotRun:
    """Write (or overwrite with the same numbers) the snapshots of ``day`` for every lead and
    every copy that existed during it. Idempotent: unique (owner, date) rows, upserted."""
    if day >= timezone.now().date():
        raise ValueError(f"{day} has not ended yet (UTC): only past days can be snapshotted")
    with _consistent_reads():
        scope = _scope_read(day)
        _balances_read(scope)
        _flows_read(scope)
        _positions_read(scope)
        now = timezone.now()
        leads = _lead_rows(scope, day, now)
        copies = _copy_rows(scope, day, now)
        bulk_upsert(
            LeadSnapshot, leads, unique=("lead", "market", "date"), update=_updated(LeadSnapshot)
        )
        bulk_upsert(CopySnapshot, copies, unique=("copy", "date"), update=_updated(CopySnapshot))
    return SnapshotRun(day=day, leads=len(leads), copies=len(copies))


def _updated(model) -> list[str]:
    keys = {"id", "lead", "market", "date", "copy"}
    return [f.name for f in model._meta.concrete_fields if f.name not in keys]


def _scope_read(day: date) -> _Scope:
    start, end = day_bounds(day)
    scope = _Scope(start=start, end=end)
    scope.leads = list(
        LeadTrader.objects.filter(approved_at__lt=end)
        .order_by("pk")
        .values_list(
            "pk", "futures_account_id", "futures_account__balance", "user_id",
            "spot_account_id", "spot_account__balance",
        )
    )  # fmt: skip
    users = {user: pk for pk, _, _, user, _, _ in scope.leads}
    scope.lead_mains = {
        acc: users[owner]
        for acc, owner in Account.objects.filter(
            kind=Account.Kind.MAIN, owner_id__in=list(users)
        ).values_list("pk", "owner_id")
    }
    scope.copies = list(
        Copy.objects.filter(started_at__lt=end)
        .filter(Q(stopped_at__isnull=True) | Q(stopped_at__gte=start))
        .order_by("pk")
        .values_list(
            "pk", "lead_id", "account_id", "market", "stopped_at", "account__balance", named=True
        )
    )
    for _, acc, balance, _, spot, spot_balance in scope.leads:
        scope.figures[acc].balance = balance
        scope.figures[spot].balance = spot_balance
    for c in scope.copies:
        scope.figures[c.account_id].balance = c.account__balance
    return scope


def _balances_read(scope: _Scope) -> None:
    """Balance at the day's end = balance now - what was posted since."""
    since = sum_by(
        Posting.objects.filter(
            entry__created_at__gte=scope.end, account__kind__in=TRADING_ACCOUNT_KINDS
        ),
        ["account_id"],
        ["amount"],
    )
    for (acc,), sums in since.items():
        if acc in scope.figures:
            scope.figures[acc].balance -= sums["amount"]


def _flows_read(scope: _Scope) -> None:
    """Transfers, funding and profit share posted during the day (a reversal counts as the
    kind it reverses)."""
    qs = (
        Posting.objects.filter(entry__created_at__gte=scope.start, entry__created_at__lt=scope.end)
        .filter(
            Q(account__kind__in=TRADING_ACCOUNT_KINDS) | Q(account_id__in=list(scope.lead_mains))
        )
        .annotate(flow=Coalesce("entry__reverses__kind", "entry__kind"))
        .filter(flow__in=FLOW_KINDS)
        .annotate(incoming=Q(amount__gt=0))
    )
    for (acc, flow, incoming), sums in sum_by(
        qs, ["account_id", "flow", "incoming"], ["amount"]
    ).items():
        amount = sums["amount"]
        if acc in scope.lead_mains:
            if flow == JournalEntry.Kind.PROFIT_SHARE:
                scope.figures[acc].profit_share += amount
            continue
        if acc not in scope.figures:
            continue
        fig = scope.figures[acc]
        if flow in TRANSFER_KINDS:
            if incoming:
                fig.transfers_in += amount
            else:
                fig.transfers_out -= amount
        elif flow == JournalEntry.Kind.FUNDING:
            fig.funding += amount
        else:
            fig.profit_share += amount


def _positions_read(scope: _Scope) -> None:
    """Positions alive during the day, their fills since its start and the prices at its end:
    realized PnL and fees of the day, open positions and unrealized PnL at the end, and the
    lead's opens, closes, wins and holding time."""
    alive = Position.objects.filter(
        account__kind__in=TRADING_ACCOUNT_KINDS, opened_at__lt=scope.end
    ).filter(Q(status=Position.Status.OPEN) | Q(closed_at__gte=scope.start))
    positions = list(
        alive.values_list(
            "pk", "account_id", "instrument_id", "side", "size", "entry_price", "opened_at",
            "closed_at", "realized_pnl", "fees", "funding", named=True,
        )
    )  # fmt: skip
    account_of = {p.pk: p.account_id for p in positions}
    # size at the day's end = size now + what fills since then closed - what they added (a
    # spot buy into a holding; a futures position never grows: adding is another open)
    later: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for pos, action, qty, fee, realized, at in Fill.objects.filter(
        created_at__gte=scope.start, position__in=alive
    ).values_list("position_id", "action", "quantity", "fee", "realized_pnl", "created_at"):
        if at >= scope.end:
            later[pos] += qty if action in CLOSING_FILLS else -qty
            continue
        fig = scope.figures[account_of[pos]]
        fig.realized += realized
        fig.fees += fee
    prices = prices_at(scope.end)
    leads = {acc for _, acc, _, _, _, _ in scope.leads} | {s for *_, s, _ in scope.leads}
    for p in positions:
        fig = scope.figures[p.account_id]
        if p.closed_at is None or p.closed_at >= scope.end:
            size = p.size + later[p.pk]
            fig.open_positions += 1
            cv, price = prices[p.instrument_id]
            if price is not None and size:
                with exact_context():
                    fig.upnl += pmath.upnl(p.side, size, cv, p.entry_price, price)
        if p.account_id not in leads:
            continue
        if p.opened_at >= scope.start:
            fig.opens += 1
        if p.closed_at is not None and scope.start <= p.closed_at < scope.end:
            fig.closed += 1
            fig.wins += formulas.is_win(p.realized_pnl, p.fees, p.funding)
            fig.holding_seconds += (p.closed_at - p.opened_at) // timedelta(seconds=1)


def prices_at(moment: datetime) -> dict[int, tuple[Decimal, Decimal | None]]:
    """Per instrument: (contract value, its price at ``moment``), in one query. The price is
    the latest known before ``moment`` of: the last tick, the close of the last 1-minute candle
    (ticks are pruned once in a candle), the current price if it was set before ``moment``.
    None when nothing is known (an open position then counts no unrealized PnL)."""
    ticks = PriceTick.objects.filter(instrument=OuterRef("pk"), created_at__lt=moment).order_by(
        "-created_at", "-id"
    )
    qs = Instrument.objects.annotate(
        tick=Subquery(ticks.values("price")[:1]),
        tick_at=Subquery(ticks.values("created_at")[:1]),
        current=F("price__price"),
        current_at=F("price__updated_at"),
    )
    try:
        candle_model = apps.get_model("market", "Candle")
    except LookupError:  # pragma: no cover - before market had candles
        candle_model = None
    if candle_model is not None:
        candles = candle_model.objects.filter(
            instrument=OuterRef("pk"), interval="1m", start__lt=moment
        ).order_by("-start")
        qs = qs.annotate(
            candle=Subquery(candles.values("close")[:1]),
            candle_at=Subquery(candles.values("last_tick_at")[:1]),
        )
    out = {}
    for row in qs.values():
        known = [
            (at, price)
            for at, price in (
                (row["tick_at"], row["tick"]),
                (row.get("candle_at"), row.get("candle")),
                (row["current_at"], row["current"]),
            )
            if price is not None and at is not None and at < moment
        ]
        out[row["id"]] = (
            row["contract_value"],
            max(known, key=lambda k: k[0])[1] if known else None,
        )
    return out


def _lead_rows(scope: _Scope, day: date, now) -> list[dict]:
    copiers: dict[tuple[int, str], int] = defaultdict(int)
    aum: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    spot_paid: dict[int, Decimal] = defaultdict(lambda: ZERO)  # by the lead's spot copies
    for c in scope.copies:
        if c.market == MARKET_SPOT:
            spot_paid[c.lead_id] -= scope.figures[c.account_id].profit_share
        if c.stopped_at is None or c.stopped_at >= scope.end:
            copiers[c.lead_id, c.market] += 1
            aum[c.lead_id, c.market] += scope.figures[c.account_id].equity
    earned: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for acc, lead in scope.lead_mains.items():
        if acc in scope.figures:
            earned[lead] += scope.figures[acc].profit_share
    rows = []
    for pk, futures, _, _, spot, _ in scope.leads:
        for market, acc, share in (
            (MARKET_FUTURES, futures, earned[pk] - spot_paid[pk]),
            (MARKET_SPOT, spot, spot_paid[pk]),
        ):
            f = scope.figures[acc]
            if market == MARKET_SPOT and not (f.in_use or copiers[pk, market] or share):
                continue
            rows.append(
                _common(f, day, now)
                | {
                    "lead_id": pk,
                    "market": market,
                    "profit_share": share,
                    "copiers": copiers[pk, market],
                    "aum": aum[pk, market],
                    "opens": f.opens,
                    "closed": f.closed,
                    "wins": f.wins,
                    "holding_seconds": f.holding_seconds,
                }
            )
    return rows


def _copy_rows(scope: _Scope, day: date, now) -> list[dict]:
    rows = []
    for c in scope.copies:
        f = scope.figures[c.account_id]
        rows.append(
            _common(f, day, now)
            | {"copy_id": c.pk, "lead_id": c.lead_id, "profit_share": -f.profit_share}
        )
    return rows


def _common(f: _Figures, day: date, now) -> dict:
    return {
        "date": day,
        "equity": f.equity,
        "transfers_in": f.transfers_in,
        "transfers_out": f.transfers_out,
        "realized_pnl": f.realized,
        "unrealized_pnl": f.unrealized,
        "fees": f.fees,
        "funding": f.funding,
        "open_positions": f.open_positions,
        "taken_at": now,
    }


def snapshots_take_due(*, today: date | None = None) -> list[SnapshotRun]:
    """The daily job: yesterday (UTC), and the days before it that no run took (at most
    CATCH_UP_DAYS back; older gaps are for ``stats_backfill``). Yesterday is taken even when
    taken already: the same numbers are written again."""
    today = today or timezone.now().date()
    yesterday = today - timedelta(days=1)
    earliest = yesterday - timedelta(days=CATCH_UP_DAYS - 1)
    last = LeadSnapshot.objects.order_by("-date").values_list("date", flat=True).first()
    first = yesterday if last is None else min(last + timedelta(days=1), yesterday)
    if first < earliest:
        log.warning(
            "stats: no snapshot from %s to %s; run manage.py stats_backfill --from %s",
            first, earliest - timedelta(days=1), first,
        )  # fmt: skip
        first = earliest
    runs = []
    day = first
    while day <= yesterday:
        runs.append(snapshots_take(day=day))
        day += timedelta(days=1)
    return runs


# --- stats -------------------------------------------------------------------------------------
@dataclass
class _LeadDay:
    date: date
    equity: Decimal
    transfers_in: Decimal
    transfers_out: Decimal
    copiers: int
    opens: int
    closed: int
    wins: int
    holding_seconds: int

    @property
    def triple(self) -> formulas.Day:
        return formulas.Day(self.equity, self.transfers_in, self.transfers_out)


def _ratio(value: Fraction | Decimal | None) -> Decimal | None:
    return None if value is None else usdt_down(value)


def _window(days: list[_LeadDay], as_of: date, n: int | None) -> tuple[Decimal, list[_LeadDay]]:
    """The days of the period ending with ``as_of`` and the base equity (the end of the day
    before the period; 0 when the lead did not exist yet)."""
    if n is None:
        return ZERO, [d for d in days if d.date <= as_of]
    first = as_of - timedelta(days=n - 1)
    before = [d for d in days if d.date < first]
    return (before[-1].equity if before else ZERO), [d for d in days if first <= d.date <= as_of]


def period_stats(days: list[_LeadDay], as_of: date, n: int | None) -> dict:
    """The stats of one lead over the ``n`` days ending with ``as_of`` (all time: None)."""
    base, window = _window(days, as_of, n)
    triples = [d.triple for d in window]
    factors = formulas.growth_factors(base, triples)
    closed = sum(d.closed for d in window)
    wins = sum(d.wins for d in window)
    opens = sum(d.opens for d in window)
    holding = formulas.average_holding_seconds(sum(d.holding_seconds for d in window), closed)
    return {
        "as_of": as_of,
        "days": len(window),
        "roi": _ratio(formulas.roi_of(factors)),
        "pnl": formulas.pnl(base, triples),
        "max_drawdown": _ratio(formulas.max_drawdown_of(factors)),
        "sharpe": _ratio(formulas.sharpe_of(factors)),
        "win_rate": _ratio(formulas.win_rate(wins, closed)),
        "closed": closed,
        "wins": wins,
        "opens": opens,
        "trades_per_week": _ratio(formulas.trades_per_week(opens, len(window))),
        "avg_holding_seconds": None if holding is None else int(holding),
        "copiers_peak": max((d.copiers for d in window), default=0),
    }


def trader_stats_refresh(*, as_of: date) -> int:
    """Recompute every lead's stats of each market it has snapshots of, for each period ending
    with ``as_of`` (one query), with the 30-day tracking figures; upserted per (lead, market,
    period)."""
    rows = (
        LeadSnapshot.objects.filter(date__lte=as_of)
        .order_by("lead_id", "market", "date")
        .values_list(
            "lead_id", "market", "date", "equity", "transfers_in", "transfers_out", "copiers",
            "opens", "closed", "wins", "holding_seconds",
        )
    )  # fmt: skip
    leads = {
        key: [_LeadDay(*r[2:]) for r in group]
        for key, group in groupby(rows, lambda r: (r[0], r[1]))
    }
    now = timezone.now()
    out = []
    for market in (MARKET_FUTURES, MARKET_SPOT):
        mine = {lead: days for (lead, m), days in leads.items() if m == market}
        if not mine:
            continue
        tracking = tracking_compute(as_of=as_of, leads=mine, market=market)
        for lead, days in mine.items():
            for period, n in PERIOD_DAYS.items():
                row = period_stats(days, as_of, n) | {
                    "lead_id": lead,
                    "market": market,
                    "period": period,
                }
                row |= tracking.get(lead, _NO_TRACKING) if period == Period.D30 else _NO_TRACKING
                row["computed_at"] = now
                out.append(row)
    keys = {"id", "lead", "market", "period"}
    bulk_upsert(
        TraderStats,
        out,
        unique=("lead", "market", "period"),
        update=[f.name for f in TraderStats._meta.concrete_fields if f.name not in keys],
    )
    return len(out)


_NO_TRACKING = {
    "tracked_copies": 0,
    "copiers_median_roi": None,
    "tracking_gap_median": None,
    "mirror_outcomes": 0,
    "missed": 0,
    "missed_share": None,
    "missed_reasons": [],
}


# --- tracking ----------------------------------------------------------------------------------
def tracking_compute(
    *, as_of: date, leads: dict[int, list[_LeadDay]], market: str = MARKET_FUTURES
) -> dict[int, dict]:
    """How closely copiers tracked each lead in ``market`` over the TRACKING_DAYS ending with
    ``as_of`` (``leads``: that market's snapshot days):

    - each copy's (of that market) time-weighted ROI over the days it copied in the period (from its
      snapshots), the median of those, and the median of (copy ROI - the lead's ROI over the
      same days);
    - of the copies' outcomes for the lead events of the period (copied, missed, sync failed,
      could not be mirrored; "nothing to change" is not an outcome), the share missed and the
      count per (kind, reason).
    """
    base_day = as_of - timedelta(days=TRACKING_DAYS)
    lead_index = {lead: _index_by_date(days, base_day, as_of) for lead, days in leads.items()}
    copy_rois: dict[int, list[Fraction]] = defaultdict(list)
    gaps: dict[int, list[Fraction]] = defaultdict(list)
    lead_rois: dict[tuple[int, date, date], Fraction | None] = {}
    for lead, first, last, roi in _copy_rois(base_day, as_of, market):
        copy_rois[lead].append(roi)
        span = (lead, first, last)
        if span not in lead_rois:  # most copies copied the same days
            index = lead_index.get(lead, {})
            before = index.get(first - timedelta(days=1))
            lead_rois[span] = index[last] / before - 1 if before and last in index else None
        if lead_rois[span] is not None:
            gaps[lead].append(roi - lead_rois[span])
    outcomes = _mirror_outcomes(base_day, as_of, market)
    out = {}
    for lead in set(copy_rois) | set(outcomes):
        counts = outcomes.get(lead, {})
        total = sum(counts.values())
        missed = sum(n for (kind, _), n in counts.items() if kind in MISSED_KINDS)
        reasons = sorted(
            (
                {"kind": kind, "reason": reason, "count": n}
                for (kind, reason), n in counts.items()
                if kind in MISSED_KINDS
            ),
            key=lambda r: (-r["count"], r["kind"], r["reason"]),
        )
        out[lead] = {
            "tracked_copies": len(copy_rois[lead]),
            "copiers_median_roi": _ratio(formulas.median(copy_rois[lead])),
            "tracking_gap_median": _ratio(formulas.median(gaps[lead])),
            "mirror_outcomes": total,
            "missed": missed,
            "missed_share": _ratio(Fraction(missed, total)) if total else None,
            "missed_reasons": reasons,
        }
    return out


def _index_by_date(days: list[_LeadDay], base_day: date, as_of: date) -> dict[date, Fraction]:
    """The lead's return index on each day of the period, 1 at the end of ``base_day``."""
    window = [d for d in days if base_day < d.date <= as_of]
    before = [d for d in days if d.date <= base_day]
    base = before[-1].equity if before else ZERO
    index = dict(
        zip(
            (d.date for d in window),
            formulas.return_index(base, [d.triple for d in window]),
            strict=True,
        )
    )
    out, x, day = {}, Fraction(1), base_day
    while day <= as_of:  # a day without a snapshot (before the lead started) keeps the index
        x = out[day] = index.get(day, x)
        day += timedelta(days=1)
    return out


def _copy_rois(
    base_day: date, as_of: date, market: str = MARKET_FUTURES
) -> Iterator[tuple[int, date, date, Fraction]]:
    """(lead, first day, last day, ROI) of each copy of ``market`` with a return in the period.

    Only the rows that change the result are read: the base day, the days with a transfer
    (with the equity of the day before, by a window function) and each copy's last day. Days
    without a transfer telescope: their returns multiply to E[last] / E[before], so a quiet
    run is one step of the same formula (formulas.roi) from the equity before it to its end."""
    ranked = (
        CopySnapshot.objects.filter(date__gte=base_day, date__lte=as_of, copy__market=market)
        .annotate(
            previous=Window(Lag("equity"), partition_by=[F("copy_id")], order_by=F("date").asc()),
            from_end=Window(RowNumber(), partition_by=[F("copy_id")], order_by=F("date").desc()),
        )
        .filter(Q(transfers_in__gt=0) | Q(transfers_out__gt=0) | Q(from_end=1) | Q(date=base_day))
        .order_by("copy_id", "date")
        .values_list(
            "copy_id", "lead_id", "date", "equity", "transfers_in", "transfers_out", "previous"
        )
    )
    for _, rows in groupby(ranked, lambda r: r[0]):
        rows = list(rows)
        lead = rows[0][1]
        base = cursor = ZERO
        steps: list[formulas.Day] = []
        first = None
        for _, _, day, equity, t_in, t_out, previous in rows:
            if day == base_day:
                base = cursor = equity
                first = base_day + timedelta(days=1)
                continue
            first = first or day
            if t_in or t_out:
                before = previous if previous is not None else ZERO
                if before != cursor:  # the quiet run up to the day before
                    steps.append(formulas.Day(before))
                steps.append(formulas.Day(equity, t_in, t_out))
            else:  # the copy's last day in the period: the quiet run up to it
                steps.append(formulas.Day(equity))
            cursor = equity
        roi = formulas.roi(base, steps)
        if roi is not None and first is not None:
            yield lead, first, rows[-1][2], roi


def _mirror_outcomes(
    base_day: date, as_of: date, market: str = MARKET_FUTURES
) -> dict[int, dict[tuple[str, str], int]]:
    """Per lead: how many (lead event, copy) outcomes of each (kind, reason) in the period."""
    start, _ = day_bounds(base_day + timedelta(days=1))
    _, end = day_bounds(as_of)
    out: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for lead, kind, reason, n in (
        CopyEvent.objects.filter(
            kind__in=MIRROR_OUTCOMES,
            lead_event__created_at__gte=start,
            lead_event__created_at__lt=end,
            copy__market=market,
        )
        .order_by()
        .values("copy__lead_id", "kind", "reason")
        .annotate(n=Count("id"))
        .values_list("copy__lead_id", "kind", "reason", "n")
    ):
        out[lead][(kind, reason)] = n
    return out
