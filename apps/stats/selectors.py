"""Reads about lead traders for the directory, the profiles, the API and the admin: written once
so that a number means the same everywhere.

- Performance stats (ROI, PnL, win rate, max drawdown, Sharpe, trades per week, holding time,
  tracking) come from ``TraderStats``, computed each night from the daily snapshots over the
  periods ending with the last snapshot day (``as_of``; apps/stats/formulas.py), per market:
  futures (the lead futures account) and spot (the lead spot account: cash + holdings at
  price). A lead with no snapshot yet has none: ``None`` (unknown), never 0.
- A lead "trades spot" when its lead spot account holds cash or has bought or sold; only such
  leads are listed with ``market="spot"`` and offer spot on the profile.
- Live figures are computed on each read, set-based (a constant number of queries whatever the
  number of leads, copies and positions; on PostgreSQL the sums are done by the database):
    copiers      = the lead's active copies of the market (a copy whose Total Stop Loss
                   triggered is still active until its last position closes)
    aum          = sum of those copies' equity (copy account balance + uPnL of its open
                   positions at the current price), rounded toward zero once
    copiers_pnl  = active copies' live PnL (equity - net investment) + stopped copies' final
                   PnL (their net realized PnL - profit share paid), as copies.selectors
                   defines a copy's PnL
    has_room     = the lead is active and copiers < max_copiers (a full trader cannot be copied)
- ``daily`` is the lead's snapshots of a period: equity, the day's PnL and the ROI of the
  return index since the period's start.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.utils import timezone

from apps.copies.models import Copy
from apps.core.exceptions import ApplicationError
from apps.core.money import ZERO, exact_context, usdt, usdt_down
from apps.market import math as pmath
from apps.positions.models import LeadEvent, Position
from apps.stats import formulas
from apps.stats.aggregate import on_postgres, sum_by
from apps.stats.models import PERIOD_DAYS, LeadSnapshot, Period, TraderStats
from apps.traders.models import LeadTrader
from apps.traders.selectors import trader_get

MARKET_FUTURES = "futures"
MARKET_SPOT = "spot"
MARKETS = ("futures", "spot")
SEARCH_MAX = 40

# list key -> (period, TraderStats field)
STAT_FIELDS = {
    "roi_7d": (Period.D7, "roi"),
    "roi_30d": (Period.D30, "roi"),
    "roi_90d": (Period.D90, "roi"),
    "roi_all": (Period.ALL, "roi"),
    "pnl_7d_usdt": (Period.D7, "pnl"),
    "pnl_30d_usdt": (Period.D30, "pnl"),
    "pnl_90d_usdt": (Period.D90, "pnl"),
    "pnl_all_usdt": (Period.ALL, "pnl"),
    "win_rate_30d": (Period.D30, "win_rate"),
    "max_drawdown_30d": (Period.D30, "max_drawdown"),
}
# the directory's ROI and PnL columns per period
ROI_KEY = {Period.D7: "roi_7d", Period.D30: "roi_30d", Period.D90: "roi_90d", Period.ALL: "roi_all"}
PNL_KEY = {
    Period.D7: "pnl_7d_usdt",
    Period.D30: "pnl_30d_usdt",
    Period.D90: "pnl_90d_usdt",
    Period.ALL: "pnl_all_usdt",
}
ORDERABLE = (
    "id",
    "nickname",
    "status",  # active before ended
    *STAT_FIELDS,
    "aum_usdt",
    "copiers",
    "max_copiers",
    "profit_share_ratio",
)


# --- input ----------------------------------------------------------------------------------
def ordering_parse(value: str | None) -> list[tuple[str, bool]]:
    """``"-roi_30d,nickname"`` -> [("roi_30d", True), ("nickname", False)]; unknown -> 400."""
    keys = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        name = part.removeprefix("-")
        if name not in ORDERABLE or name.startswith("-"):
            raise ApplicationError(
                f"Cannot order by {part!r}. Use one of: {', '.join(ORDERABLE)} "
                "(prefix with - for descending).",
                code="invalid_ordering",
                fields={"ordering": "Unknown field."},
            )
        keys.append((name, part.startswith("-")))
    return keys


def _choice(value: str | None, allowed, name: str, what: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise ApplicationError(
            f"{what} must be one of: {', '.join(allowed)}.",
            code=f"invalid_{name}",
            fields={name: f"One of {', '.join(allowed)}."},
        )
    return value


def has_room_parse(value: str | None) -> bool | None:
    choice = _choice(value, ("true", "false", "1", "0"), "has_room", "has_room")
    return None if choice is None else choice in ("true", "1")


def market_parse(value: str | None) -> str | None:
    return _choice(value, MARKETS, "market", "Market")


def status_parse(value: str | None) -> str | None:
    return _choice(value, LeadTrader.Status.values, "status", "Status")


def period_parse(value: str | None, default: str = Period.ALL) -> str:
    return _choice(value, Period.values, "period", "Period") or default


def search_parse(value: str | None) -> str | None:
    value = (value or "").strip()
    if len(value) > SEARCH_MAX:
        raise ApplicationError(
            f"Search by at most {SEARCH_MAX} characters of a nickname.",
            code="invalid_search",
            fields={"search": f"At most {SEARCH_MAX} characters."},
        )
    return value or None


# --- live figures ------------------------------------------------------------------------------
@dataclass
class Live:
    copiers: int = 0
    balance: Decimal = ZERO  # of the active copies' accounts
    invested: Decimal = ZERO  # their net investment
    upnl: Decimal = ZERO  # exact

    @property
    def aum(self) -> Decimal:
        with exact_context():
            return usdt(self.balance + self.upnl)

    @property
    def pnl(self) -> Decimal:
        with exact_context():
            return self.balance + self.upnl - self.invested


def live_figures(
    leads: list[LeadTrader], *, every_lead: bool = False, market: str = MARKET_FUTURES
) -> dict[int, Live]:
    """Copiers, balances, net investment and uPnL of the active copies of ``leads`` in
    ``market`` (``every_lead``: they are all the leads, so nothing is filtered): three
    queries, summed by the database on PostgreSQL.

    The uPnL is summed per lead sub-position over its open follower positions, which all sit
    in active copies of that lead (a stopped copy holds no open position, SPEC §11.5):
    sum(side x size x cv x (mark - entry)) = side x cv x (mark x sum(size) - sum(size x
    entry)), so two sums per lead sub-position travel, never a row per copy."""
    lead_of = {_lead_account(lead, market): lead.pk for lead in leads}
    copies = Copy.objects.filter(status=Copy.Status.ACTIVE, market=market)
    followers = Position.objects.filter(status=Position.Status.OPEN, lead_position__isnull=False)
    if not every_lead:
        copies = copies.filter(lead_id__in=list(lead_of.values()))
        followers = followers.filter(lead_position__account_id__in=list(lead_of))
    out: dict[int, Live] = {}
    sums = sum_by(copies, ["lead_id"], ["account__balance", "total_investment"], count=True)
    for (lead,), s in sums.items():
        out[lead] = Live(
            copiers=s["n"], balance=s["account__balance"], invested=s["total_investment"]
        )
    totals = _follower_totals(followers)
    if not totals:
        return out
    for lp, account, cv, mark in Position.objects.filter(pk__in=list(totals)).values_list(
        "pk", "account_id", "instrument__contract_value", "instrument__price__price"
    ):
        if mark is None or account not in lead_of:
            continue
        live = out.setdefault(lead_of[account], Live())
        for side, (size, cost) in totals[lp].items():
            with exact_context():
                live.upnl += pmath.side_sign(side) * cv * (mark * size - cost)
    return out


# Every lead's live figures cost a scan of every active copy and open follower position. They
# are kept in the shared cache with a fingerprint of what they depend on: the newest posting
# (balances, investments), fill (positions opened, closed, added to), copy event (copies
# started and stopped) and price change. A read whose fingerprint matches uses them (one cheap
# query instead of the scan); anything new recomputes them. A transaction committing out of id
# order can hide behind a newer id, so an entry is also never used after LIVE_CACHE_MAX_AGE_S.
# Reads inside a transaction neither use nor fill the cache: they may see uncommitted rows.
LIVE_CACHE_MAX_AGE_S = 10


def _fingerprint() -> tuple:
    """One query: four index lookups."""
    from apps.copies.models import CopyEvent
    from apps.ledger.models import Posting
    from apps.market.models import Price
    from apps.positions.models import Fill

    q = connection.ops.quote_name
    parts = [
        f"(SELECT MAX({q(column)}) FROM {q(model._meta.db_table)})"
        for model, column in ((Posting, "id"), (Fill, "id"), (CopyEvent, "id"),
                              (Price, "updated_at"))
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}")
        return tuple(str(v) for v in cursor.fetchone())


def every_lead_live_figures(*, leads: list[LeadTrader], market: str) -> dict[int, Live]:
    """``live_figures`` of every lead, from the cache when nothing changed since."""
    if connection.in_atomic_block:
        return live_figures(leads, every_lead=True, market=market)
    key = f"stats:live:{market}:v1"
    fingerprint = _fingerprint()
    cached = cache.get(key)
    if (
        cached is not None
        and cached["fingerprint"] == fingerprint
        and time.time() - cached["at"] <= LIVE_CACHE_MAX_AGE_S
    ):
        return cached["figures"]
    at = time.time()
    figures = live_figures(leads, every_lead=True, market=market)
    cache.set(key, {"fingerprint": fingerprint, "at": at, "figures": figures}, 60)
    return figures


def _lead_account(lead: LeadTrader, market: str) -> int:
    return lead.spot_account_id if market == "spot" else lead.futures_account_id


def _follower_totals(followers) -> dict[int, dict[str, list[Decimal]]]:
    """lead sub-position -> side -> [sum(size), sum(size x entry)] of open follower positions."""
    totals: dict[int, dict[str, list[Decimal]]] = {}
    if on_postgres():
        for lp, side, size, cost in (
            followers.order_by()
            .values("lead_position_id", "side")
            .annotate(
                size_sum=Sum("size"),
                cost_sum=Sum(
                    ExpressionWrapper(F("size") * F("entry_price"), output_field=DecimalField())
                ),
            )
            .values_list("lead_position_id", "side", "size_sum", "cost_sum")
        ):
            totals.setdefault(lp, {})[side] = [size, cost]
        return totals
    # SQLite sums decimals as floats: add them up here
    for lp, side, size, entry in followers.values_list(
        "lead_position_id", "side", "size", "entry_price"
    ):
        t = totals.setdefault(lp, {}).setdefault(side, [ZERO, ZERO])
        with exact_context():
            t[0] += size
            t[1] += size * entry
    return totals


def copiers_pnl(*, lead_id: int, live: Live | None, market: str = MARKET_FUTURES) -> Decimal:
    """Active copies' live PnL + stopped copies' final PnL, of ``market`` (two queries)."""
    stopped = Copy.objects.filter(lead_id=lead_id, market=market, status=Copy.Status.STOPPED)
    realized = sum_by(
        Position.objects.filter(account__copy__in=stopped),
        ["account__copy__lead_id"],
        ["realized_pnl", "fees", "funding"],
    ).get((lead_id,), {"realized_pnl": ZERO, "fees": ZERO, "funding": ZERO})
    paid = sum_by(stopped, ["lead_id"], ["profit_share_paid"]).get(
        (lead_id,), {"profit_share_paid": ZERO}
    )
    with exact_context():
        final = realized["realized_pnl"] - realized["fees"] + realized["funding"]
        return usdt((live.pnl if live else ZERO) + final - paid["profit_share_paid"])


# --- directory ---------------------------------------------------------------------------------
@dataclass
class TraderRow:
    """A lead trader as the directory shows it."""

    lead: LeadTrader
    copiers: int = 0
    aum: Decimal = ZERO
    stats: dict[str, Decimal | None] = field(default_factory=lambda: dict.fromkeys(STAT_FIELDS))
    as_of: date | None = None  # the last day the stats include
    live: bool = False  # copiers and aum are filled in
    market: str = MARKET_FUTURES  # of copiers, AUM and room

    @property
    def has_room(self) -> bool:
        return self.lead.is_active and self.copiers < self.lead.max_copiers

    @property
    def lead_days(self) -> int:
        """Days leading: from approval to now (or to the end of the strategy)."""
        end = self.lead.ended_at or timezone.now()
        return max(0, (end - self.lead.approved_at).days)


def _with_stats(
    leads: list[LeadTrader], *, every_lead: bool, market: str = MARKET_FUTURES
) -> list[TraderRow]:
    """Rows with their stats of ``market`` (one query); the live figures come with
    ``_with_live``."""
    names = sorted({name for _, name in STAT_FIELDS.values()})
    qs = TraderStats.objects.filter(market=market)
    if not every_lead:
        qs = qs.filter(lead_id__in=[lead.pk for lead in leads])
    stats: dict[int, dict[str, dict]] = {}
    for lead_id, period, as_of, *values in qs.values_list("lead_id", "period", "as_of", *names):
        stats.setdefault(lead_id, {})[period] = {
            "as_of": as_of,
            **dict(zip(names, values, strict=True)),
        }
    rows = []
    for lead in leads:
        mine = stats.get(lead.pk, {})
        row = TraderRow(lead=lead, market=market)
        for key, (period, name) in STAT_FIELDS.items():
            row.stats[key] = mine[period][name] if period in mine else None
        row.as_of = max((s["as_of"] for s in mine.values()), default=None)
        rows.append(row)
    return rows


def _with_live(rows: list[TraderRow], *, every_lead: bool = False) -> None:
    """Fill copiers and AUM of the rows that lack them (three queries)."""
    todo = [r for r in rows if not r.live]
    if not todo:
        return
    market = todo[0].market
    if every_lead:
        live = every_lead_live_figures(leads=[r.lead for r in todo], market=market)
    else:
        live = live_figures([r.lead for r in todo], market=market)
    for row in todo:
        figures = live.get(row.lead.pk, Live())
        row.copiers, row.aum, row.live = figures.copiers, figures.aum, True


def _with_copiers(rows: list[TraderRow], *, every_lead: bool) -> None:
    """Fill the copiers of every row: one count over the copies' (lead, market, status)
    index, much cheaper than the AUM."""
    market = rows[0].market if rows else MARKET_FUTURES
    copies = Copy.objects.filter(status=Copy.Status.ACTIVE, market=market)
    if not every_lead:
        copies = copies.filter(lead_id__in=[r.lead.pk for r in rows])
    counts = dict(
        copies.order_by().values("lead_id").annotate(n=Count("id")).values_list("lead_id", "n")
    )
    for row in rows:
        row.copiers = counts.get(row.lead.pk, 0)


class Directory(Sequence[TraderRow]):
    """The ordered, filtered rows of the directory. Rows read from it (an index, a slice such
    as a page, or iteration) carry their live figures, fetched for just those rows in one go
    when the ordering and filters did not need every lead's already."""

    def __init__(self, rows: list[TraderRow]):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        picked = self._rows[index]
        _with_live(picked if isinstance(index, slice) else [picked])
        return picked

    def __iter__(self):
        _with_live(self._rows)
        return iter(self._rows)


def _sort_key(name: str, descending: bool):
    def key(row: TraderRow):
        if name in STAT_FIELDS:
            value = row.stats[name]
            # unknown (None) last in either direction
            return (value is None, ZERO if value is None else (-value if descending else value))
        value = {
            "id": row.lead.pk,
            "nickname": row.lead.nickname.lower(),
            "status": row.lead.status != LeadTrader.Status.ACTIVE,
            "copiers": row.copiers,
            "aum_usdt": row.aum,
            "max_copiers": row.lead.max_copiers,
            "profit_share_ratio": row.lead.profit_share_ratio,
        }[name]
        return value

    return key


def trader_directory(
    *,
    ordering: str | None = None,
    status: str | None = None,
    market: str | None = None,
    has_room: bool | None = None,
    search: str | None = None,
) -> Directory:
    """Active and ended lead traders with their stats and live figures, filtered and ordered
    (``ordering``: comma-separated keys of ORDERABLE, ``-`` for descending, ties by id;
    unknown stats last). ``market="spot"``: the leads that trade spot, with the stats of their
    lead spot account and the copiers, AUM and room of their spot copies; ``has_room``:
    whether a copy can start now.

    Two queries, then three for the live figures of the rows read (a page). Filtering by room
    or ordering by copiers first counts every lead's copiers (one query over an index);
    ordering by AUM first sums every lead's live figures (the three queries, over every copy
    and open position)."""
    keys = ordering_parse(ordering)
    qs = LeadTrader.objects.filter(
        status__in=[LeadTrader.Status.ACTIVE, LeadTrader.Status.ENDED]
    ).order_by("id")
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(nickname__icontains=search)
    if market == MARKET_SPOT:
        qs = qs.filter(_trades_spot())
    every_lead = not (status or search or market == MARKET_SPOT)
    rows = _with_stats(list(qs), every_lead=every_lead, market=market or MARKET_FUTURES)
    names = {name for name, _ in keys}
    if "aum_usdt" in names:
        _with_live(rows, every_lead=every_lead)
    elif has_room is not None or "copiers" in names:
        _with_copiers(rows, every_lead=every_lead)
    if has_room is not None:
        rows = [r for r in rows if r.has_room == has_room]
    for name, descending in reversed(keys):  # stable sorts: the last key first
        rows.sort(key=_sort_key(name, descending), reverse=descending and name not in STAT_FIELDS)
    return Directory(rows)


# --- profile -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DailyPoint:
    date: date
    equity: Decimal
    pnl: Decimal  # the day's PnL (transfers excluded)
    roi: Decimal | None  # of the return index since the period's start
    copiers: int
    aum: Decimal


@dataclass
class TraderProfile:
    row: TraderRow
    copiers_pnl: Decimal
    period: str  # of ``daily``
    stats: dict[str, TraderStats]  # by period, of ``market``; a period without a row is unknown
    daily: list[DailyPoint]
    market: str = MARKET_FUTURES
    markets: tuple[str, ...] = (MARKET_FUTURES,)  # the markets the lead trades

    @property
    def lead(self) -> LeadTrader:
        return self.row.lead

    @property
    def tracking(self) -> TraderStats | None:
        """The 30-day stats row, whose tracking fields say how copiers followed."""
        return self.stats.get(Period.D30)


def _trades_spot():
    """The condition "this lead trades spot" on LeadTrader rows: its lead spot account holds
    cash or has bought or sold, now or ever (the end of a strategy writes a lead event on
    both accounts: that one does not count)."""
    return Q(spot_account__balance__gt=0) | Exists(
        LeadEvent.objects.filter(
            account_id=OuterRef("spot_account_id"),
            kind__in=[LeadEvent.Kind.SPOT_BUY, LeadEvent.Kind.SPOT_SELL],
        )
    )


def trader_markets(*, lead: LeadTrader) -> tuple[str, ...]:
    """("futures",) or ("futures", "spot") when the lead trades spot (one query)."""
    spot = LeadTrader.objects.filter(pk=lead.pk).filter(_trades_spot()).exists()
    return (MARKET_FUTURES, MARKET_SPOT) if spot else (MARKET_FUTURES,)


def trader_profile_get(
    *, trader_id, period: str = Period.ALL, market: str | None = None
) -> TraderProfile:
    """One lead's profile in ``market`` (default futures): live figures, the stats of every
    period, and the daily series of ``period`` (ending with the stats' last day). Nine
    queries at most. Asking for spot of a lead who does not trade spot is a 400."""
    period = period_parse(period)
    market = market_parse(market) or MARKET_FUTURES
    lead = trader_get(trader_id=trader_id)
    markets = trader_markets(lead=lead)
    if market not in markets:
        raise ApplicationError(
            f"{lead.nickname} does not trade spot.",
            code="invalid_market",
            fields={"market": "This lead trader has no spot account in use."},
        )
    live = live_figures([lead], market=market).get(lead.pk)
    row = TraderRow(
        lead=lead,
        copiers=live.copiers if live else 0,
        aum=live.aum if live else ZERO,
        live=True,
        market=market,
    )
    stats = {s.period: s for s in TraderStats.objects.filter(lead=lead, market=market)}
    for key, (p, name) in STAT_FIELDS.items():
        row.stats[key] = getattr(stats[p], name) if p in stats else None
    row.as_of = max((s.as_of for s in stats.values()), default=None)
    return TraderProfile(
        row=row,
        copiers_pnl=copiers_pnl(lead_id=lead.pk, live=live, market=market),
        period=period,
        stats=stats,
        daily=daily_series(lead=lead, period=period, as_of=row.as_of, market=market),
        market=market,
        markets=markets,
    )


@dataclass(frozen=True)
class LeadFigures:
    """A lead's copiers, AUM and copiers' PnL in one market, live (the lead console's)."""

    lead: LeadTrader
    market: str
    copiers: int
    aum: Decimal
    copiers_pnl: Decimal


def lead_figures_get(*, lead: LeadTrader, market: str = MARKET_FUTURES) -> LeadFigures:
    """Copiers now, AUM and copiers' PnL of ``lead`` in ``market`` (five queries), as the
    directory and the profile define them."""
    live = live_figures([lead], market=market).get(lead.pk)
    return LeadFigures(
        lead=lead,
        market=market,
        copiers=live.copiers if live else 0,
        aum=live.aum if live else ZERO,
        copiers_pnl=copiers_pnl(lead_id=lead.pk, live=live, market=market),
    )


def lead_roi_get(*, lead: LeadTrader, days: int, market: str = MARKET_FUTURES) -> Decimal | None:
    """The lead's own time-weighted ROI over the last ``days`` (7, 30 or 90) full UTC days
    from its stats (one query; None when unknown). The copy simulator sets its result beside
    this figure: the stats end with yesterday, the simulation at the moment it runs."""
    period = {7: Period.D7, 30: Period.D30, 90: Period.D90}.get(int(days))
    if period is None:
        return None
    return (
        TraderStats.objects.filter(lead=lead, market=market, period=period)
        .values_list("roi", flat=True)
        .first()
    )


def daily_series(
    *, lead: LeadTrader, period: str, as_of: date | None, market: str = MARKET_FUTURES
) -> list[DailyPoint]:
    """The lead's snapshot days of ``market`` in the period ending with ``as_of`` (one
    query)."""
    if as_of is None:
        return []
    n = PERIOD_DAYS[Period(period)]
    qs = LeadSnapshot.objects.filter(lead=lead, market=market, date__lte=as_of)
    if n is not None:
        qs = qs.filter(date__gte=as_of - timedelta(days=n))
    snaps = list(
        qs.order_by("date").values_list(
            "date", "equity", "transfers_in", "transfers_out", "copiers", "aum"
        )
    )
    base = ZERO
    if n is not None and snaps and snaps[0][0] == as_of - timedelta(days=n):
        base = snaps.pop(0)[1]
    triples = [formulas.Day(e, i, o) for _, e, i, o, _, _ in snaps]
    pnls = formulas.daily_pnls(base, triples)
    index = formulas.return_index(base, triples)
    returns = formulas.daily_returns(base, triples)
    out, seen = [], False
    for (day, equity, _, _, copiers, aum), p, x, r in zip(snaps, pnls, index, returns, strict=True):
        seen = seen or r is not None
        out.append(
            DailyPoint(
                date=day,
                equity=equity,
                pnl=p,
                roi=usdt_down(x - 1) if seen else None,
                copiers=copiers,
                aum=aum,
            )
        )
    return out


# --- positions on the profile -------------------------------------------------------------------
@dataclass(frozen=True)
class PositionRow:
    """A lead sub-position (spot: holding) as the profile shows it. Open: ``upnl`` and
    ``value`` at the current price. ``net_pnl`` = realized - fees + funding (final once
    closed); ``held`` = closed - opened."""

    position: Position
    upnl: Decimal
    value: Decimal | None
    net_pnl: Decimal
    held: timedelta | None


def trader_account_id(*, lead: LeadTrader, market: str) -> int:
    return _lead_account(lead, market)


def trader_positions(*, lead: LeadTrader, market: str, status: str):
    """The lead's sub-positions (spot: holdings) of ``market`` with ``status``, newest first,
    instrument and price joined (a queryset: the page slices it)."""
    from apps.positions.selectors import position_list

    return position_list(account_id=_lead_account(lead, market), status=status)


def position_rows(positions) -> list[PositionRow]:
    """Rows for positions read by ``trader_positions`` (no query here)."""
    from apps.positions.selectors import position_upnl, position_value

    rows = []
    for p in positions:
        with exact_context():
            net = formulas.net_pnl(p.realized_pnl, p.fees, p.funding)
        rows.append(
            PositionRow(
                position=p,
                upnl=position_upnl(p),
                value=position_value(p),
                net_pnl=net,
                held=(p.closed_at - p.opened_at) if p.closed_at else None,
            )
        )
    return rows


def trader_main_instrument(*, lead: LeadTrader, market: str) -> str | None:
    """The instrument the lead trades most in ``market`` (most sub-positions, ties by name;
    one query), or None before its first trade."""
    row = (
        Position.objects.filter(account_id=_lead_account(lead, market))
        .order_by()
        .values("instrument__name")
        .annotate(n=Count("id"))
        .order_by("-n", "instrument__name")
        .first()
    )
    return row["instrument__name"] if row else None


# --- the copy simulator ----------------------------------------------------------------------
def trader_simulate(
    *, trader_id, investment, days=30, stop_loss=None, stop_loss_action: str | None = None
):
    """What copying the lead ``trader_id`` with ``investment`` USDT over the last ``days``
    days would have returned (apps.stats.simulator: a replay of its recorded futures events,
    cached), beside the lead's own ROI over as many full days. Input errors are
    ``ApplicationError``s naming the API's fields; an unknown trader is ``NotFound``."""
    from apps.stats.simulator import simulate

    lead = trader_get(trader_id=trader_id)
    if investment is None or not str(investment).strip():
        raise ApplicationError(
            "Name a Total Investment to replay, in USDT (investment_usdt, e.g. 1000).",
            code="required",
            fields={"investment_usdt": "Required: at least the minimum investment."},
        )
    return simulate(
        lead=lead,
        days=days,
        investment=investment,
        stop_loss=stop_loss,
        stop_loss_action=stop_loss_action or Copy.StopLossAction.CLOSE_ALL,
        lead_roi=lambda *, lead, days: lead_roi_get(lead=lead, days=days),
    )
