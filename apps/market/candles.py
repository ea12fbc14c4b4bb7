"""Price history that stays small: ticks aggregated into 1-minute candles, minutes rolled up into
1-hour candles, old ticks pruned, candles served to charts (issue 9 item 7).

Invariants:
- A 1-minute candle of (instrument, minute) is the aggregate of every tick of that minute:
  open = the first tick by (created_at, id), close = the last, high = max, low = min,
  ticks = how many. Minutes and hours are UTC and half-open: [start, start + 1 min).
- An UNSEALED minute is recomputed from its ticks, so aggregating again changes nothing
  (idempotent) and a minute still open is simply recomputed on the next run.
- A tick is deleted only by the statement that proves its candle holds it: the minute is sealed
  where its ``ticks`` equals the number of ticks of the minute in that statement's snapshot
  (ticks are append-only, so an equal count is the same set). A sealed minute is never
  recomputed (its ticks are gone); a tick arriving later for it (a CSV replay at old
  timestamps, a commit that landed late) is merged into it by the statement that deletes it
  (DELETE ... RETURNING feeding the UPDATE), so it is counted exactly once. A minute without a
  candle, or whose candle is stale, keeps its ticks: no price is dropped without being in a candle.
- A 1-hour candle is the roll-up of its minutes (open = first minute's open, close = last
  minute's close, high = max, low = min, ticks = sum), recomputed in SQL in the same transaction
  as any change of one of its minutes. 1-day candles are rolled up from the hours when read.
- Ticks younger than ``settings.MARKET_TICK_RETENTION_HOURS`` (at least 25: the price board's
  24-hour change reads the tick at or before 24 h ago) are never deleted.
- PostgreSQL: one INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE aggregates a run's
  minutes, one statement merges late ticks, one seals and deletes, one rolls the touched hours
  up. A run's work is bounded by the minutes since the newest candle plus the ticks past the
  retention cutoff. SQLite (one writer: its transaction holds the write lock from BEGIN
  IMMEDIATE) does the same in Python. Nothing here moves money.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from apps.core.exceptions import ApplicationError

from .models import Candle, Instrument, PriceTick
from .selectors import instrument_get

logger = logging.getLogger(__name__)

MINUTE = Candle.Interval.MINUTE.value
HOUR = Candle.Interval.HOUR.value
# Re-aggregate this far behind the newest candle: a tick's created_at is taken before its
# transaction commits, so a busy moment can make it visible a little late.
LOOKBACK = timedelta(minutes=5)
MIN_RETENTION_HOURS = 25
INTERVALS = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000

_TICK = PriceTick._meta.db_table
_CANDLE = Candle._meta.db_table
_FIELDS = ("open", "high", "low", "close", "ticks", "first_tick_at", "last_tick_at")
_BATCH = 500


def _trunc(unit: str, col: str) -> str:
    return f"date_trunc('{unit}', {col} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _floor(at: datetime, step: timedelta) -> datetime:
    """``at`` (aware) rounded down to a UTC multiple of ``step`` (1 min, 1 h or 1 d)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at.astimezone(UTC) - epoch) // step) * step


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _jit_off() -> None:
    """Inside a transaction on PostgreSQL: no JIT for its statements. Their row estimates (an
    unnest, a GROUP BY of date_trunc) are far too high, and compiling them took longer than
    running them (0.36 s of 0.46 s for an hour roll-up in bench/candles.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")


Key = tuple[int, datetime]  # (instrument id, start)


# --- aggregation ------------------------------------------------------------------------------


def candles_aggregate(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    before: datetime | None = None,
) -> int:
    """Upsert the 1-minute candles of the ticks in [since, until) (a None bound is open) or
    older than ``before`` (no bounds and no ``before``: every tick), then roll up the hours whose
    minutes changed. Bounds are rounded down to the minute, so a minute is aggregated whole.
    Sealed minutes are left alone. Returns the number of minutes written (an unchanged candle
    is not rewritten)."""
    since, until, before = (
        _floor(b, INTERVALS["1m"]) if b else None for b in (since, until, before)
    )
    with transaction.atomic():
        if _postgres():
            _jit_off()
            touched = _aggregate_sql(since=since, until=until, before=before)
        else:
            touched = _aggregate_python(since=since, until=until, before=before)
        _hours_refresh(touched)
    return len(touched)


def _window_sql(since, until, before) -> tuple[str, dict]:
    """The WHERE of the ticks to aggregate: in [since, until), or older than ``before``."""
    parts, params = [], {}
    if since is not None or until is not None or before is None:
        window = ["TRUE"]
        if since is not None:
            window.append("created_at >= %(since)s")
            params["since"] = since
        if until is not None:
            window.append("created_at < %(until)s")
            params["until"] = until
        parts.append("(" + " AND ".join(window) + ")")
    if before is not None:
        parts.append("created_at < %(before)s")
        params["before"] = before
    return " OR ".join(parts), params


_UPSERT_CHANGED = """
    ON CONFLICT (instrument_id, "interval", start) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        ticks = EXCLUDED.ticks, first_tick_at = EXCLUDED.first_tick_at,
        last_tick_at = EXCLUDED.last_tick_at
    WHERE NOT c.sealed
      AND (c.open, c.high, c.low, c.close, c.ticks, c.first_tick_at, c.last_tick_at)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                            EXCLUDED.ticks, EXCLUDED.first_tick_at, EXCLUDED.last_tick_at)
    RETURNING c.instrument_id, c.start
"""


def _aggregate_sql(*, since, until, before) -> set[Key]:
    where, params = _window_sql(since, until, before)
    sql = f"""
        INSERT INTO {_CANDLE} AS c (instrument_id, "interval", start, open, high, low, close,
                                    ticks, first_tick_at, last_tick_at, sealed)
        SELECT t.instrument_id, %(minute)s, t.minute,
               (array_agg(t.price ORDER BY t.created_at, t.id))[1],
               max(t.price), min(t.price),
               (array_agg(t.price ORDER BY t.created_at DESC, t.id DESC))[1],
               count(*), min(t.created_at), max(t.created_at), FALSE
        FROM (SELECT id, instrument_id, price, created_at, {_trunc("minute", "created_at")} AS minute
              FROM {_TICK} WHERE {where}) AS t
        GROUP BY t.instrument_id, t.minute
        {_UPSERT_CHANGED}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "minute": MINUTE})
        return set(cursor.fetchall())


@dataclass
class _Agg:
    instrument_id: int
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    ticks: int
    first_tick_at: datetime
    last_tick_at: datetime
    ids: list[int]


def _groups(rows: Iterable, step: timedelta) -> Iterable[_Agg]:
    """Fold rows (instrument_id, id, start_or_created_at, open, high, low, close, ticks, first,
    last), sorted by (instrument_id, time, id), into one _Agg per (instrument, floor(time))."""
    keyed = itertools.groupby(rows, key=lambda r: (r[0], _floor(r[2], step)))
    for (instrument_id, start), group in keyed:
        group = list(group)
        yield _Agg(
            instrument_id=instrument_id,
            start=start,
            open=group[0][3],
            high=max(r[4] for r in group),
            low=min(r[5] for r in group),
            close=group[-1][6],
            ticks=sum(r[7] for r in group),
            first_tick_at=min(r[8] for r in group),
            last_tick_at=max(r[9] for r in group),
            ids=[r[1] for r in group],
        )


def _tick_minutes(ticks_qs) -> Iterable[_Agg]:
    rows = ticks_qs.order_by("instrument_id", "created_at", "id").values_list(
        "instrument_id", "id", "created_at", "price"
    )
    return _groups(
        ((i, pk, at, p, p, p, p, 1, at, at) for i, pk, at, p in rows.iterator(chunk_size=2000)),
        INTERVALS["1m"],
    )


def _existing(interval: str, aggs: list[_Agg]) -> dict[Key, Candle]:
    if not aggs:
        return {}
    found = Candle.objects.filter(
        interval=interval,
        instrument_id__in={a.instrument_id for a in aggs},
        start__gte=min(a.start for a in aggs),
        start__lte=max(a.start for a in aggs),
    )
    return {(c.instrument_id, c.start): c for c in found}


def _upsert_python(interval: str, aggs: list[_Agg]) -> set[Key]:
    """Write the candles that are new or differ (never a sealed one); their keys."""
    existing = _existing(interval, aggs)
    rows = []
    for agg in aggs:
        old = existing.get((agg.instrument_id, agg.start))
        if old is not None and (
            old.sealed or all(getattr(old, f) == getattr(agg, f) for f in _FIELDS)
        ):
            continue
        rows.append(
            Candle(
                instrument_id=agg.instrument_id,
                interval=interval,
                start=agg.start,
                **{f: getattr(agg, f) for f in _FIELDS},
            )
        )
    Candle.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["instrument", "interval", "start"],
        update_fields=list(_FIELDS),
    )
    return {(c.instrument_id, c.start) for c in rows}


def _aggregate_python(*, since, until, before) -> set[Key]:
    window = Q()
    if since is not None:
        window &= Q(created_at__gte=since)
    if until is not None:
        window &= Q(created_at__lt=until)
    if before is not None:
        only_old = since is None and until is None
        window = Q(created_at__lt=before) if only_old else window | Q(created_at__lt=before)
    touched: set[Key] = set()
    stream = _tick_minutes(PriceTick.objects.filter(window))
    while batch := list(itertools.islice(stream, _BATCH)):
        touched |= _upsert_python(MINUTE, batch)
    return touched


# --- hours ------------------------------------------------------------------------------------


def _hours_refresh(minutes: Iterable[Key]) -> None:
    """Recompute the 1-hour candles of the hours holding these minutes (one statement)."""
    hours = sorted({(i, _floor(start, INTERVALS["1h"])) for i, start in minutes})
    if not hours:
        return
    if _postgres():
        _hours_sql(
            # one index range scan per hour (OFFSET 0 keeps the planner from flattening the
            # LATERAL into a hash join over every minute of the table)
            f"""unnest(%(ids)s::bigint[], %(hours)s::timestamptz[]) AS k(instrument_id, hour)
            CROSS JOIN LATERAL (
                SELECT * FROM {_CANDLE} m WHERE m.instrument_id = k.instrument_id
                AND m."interval" = %(minute)s
                AND m.start >= k.hour AND m.start < k.hour + INTERVAL '1 hour' OFFSET 0) AS m""",
            {"ids": [i for i, _ in hours], "hours": [h for _, h in hours]},
        )
        return
    for instrument_id, group in itertools.groupby(hours, key=lambda k: k[0]):
        wanted = {h for _, h in group}
        minutes_qs = Candle.objects.filter(
            instrument_id=instrument_id,
            interval=MINUTE,
            start__gte=min(wanted),
            start__lt=max(wanted) + INTERVALS["1h"],
        )
        aggs = [a for a in _candle_groups(minutes_qs, INTERVALS["1h"]) if a.start in wanted]
        _upsert_python(HOUR, aggs)


def candles_rollup(*, since: datetime | None = None) -> None:
    """Recompute every 1-hour candle from its minutes, from the hour of ``since`` on (None: all).
    The beat run keeps hours current by itself; this rebuilds them after minutes were written
    some other way (a test, a repair)."""
    since = _floor(since, INTERVALS["1h"]) if since else None
    with transaction.atomic():
        if _postgres():
            _jit_off()
            where = "AND m.start >= %(since)s" if since else ""
            _hours_sql(
                f"{_CANDLE} m JOIN LATERAL (SELECT m.instrument_id, "
                f"{_trunc('hour', 'm.start')} AS hour) AS k ON TRUE "
                f"""WHERE m."interval" = %(minute)s {where}""",
                {"since": since},
            )
            return
        minutes_qs = Candle.objects.filter(interval=MINUTE)
        if since:
            minutes_qs = minutes_qs.filter(start__gte=since)
        stream = _candle_groups(minutes_qs, INTERVALS["1h"])
        while batch := list(itertools.islice(stream, _BATCH)):
            _upsert_python(HOUR, batch)


def _hours_sql(source: str, params: dict) -> None:
    sql = f"""
        INSERT INTO {_CANDLE} AS c (instrument_id, "interval", start, open, high, low, close,
                                    ticks, first_tick_at, last_tick_at, sealed)
        SELECT k.instrument_id, %(hour_interval)s, k.hour,
               (array_agg(m.open ORDER BY m.start))[1], max(m.high), min(m.low),
               (array_agg(m.close ORDER BY m.start DESC))[1],
               sum(m.ticks), min(m.first_tick_at), max(m.last_tick_at), FALSE
        FROM {source}
        GROUP BY k.instrument_id, k.hour
        {_UPSERT_CHANGED}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "minute": MINUTE, "hour_interval": HOUR})


def _candle_groups(candles_qs, step: timedelta) -> Iterable[_Agg]:
    rows = candles_qs.order_by("instrument_id", "start").values_list(
        "instrument_id", "id", "start", *_FIELDS
    )
    return _groups(rows.iterator(chunk_size=2000), step)


# --- pruning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    merged: int  # late ticks folded into sealed minutes (and deleted)
    deleted: int  # ticks deleted after their minute's candle was proven to hold them


def ticks_prune(*, before: datetime) -> PruneResult:
    """Delete the ticks older than ``before`` (rounded down to the minute) that a candle holds.

    Does not aggregate: a minute without a candle, or whose candle does not count every one of
    its ticks, keeps its ticks. Late ticks of a sealed minute are merged into it (and its hour)
    and deleted."""
    before = _floor(before, INTERVALS["1m"])
    with transaction.atomic():
        if _postgres():
            _jit_off()
            merged, deleted, touched = _prune_sql(before)
        else:
            merged, deleted, touched = _prune_python(before)
        _hours_refresh(touched)
    return PruneResult(merged=merged, deleted=deleted)


def _prune_sql(before: datetime) -> tuple[int, int, set[Key]]:
    merge = f"""
        WITH late AS (
            DELETE FROM {_TICK} t USING {_CANDLE} c
            WHERE t.created_at < %(before)s
              AND c.instrument_id = t.instrument_id AND c."interval" = %(minute)s
              AND c.start = {_trunc("minute", "t.created_at")} AND c.sealed
            RETURNING t.id, t.instrument_id, t.price, t.created_at
        ), agg AS (
            SELECT instrument_id, {_trunc("minute", "created_at")} AS minute,
                   (array_agg(price ORDER BY created_at, id))[1] AS open,
                   max(price) AS high, min(price) AS low,
                   (array_agg(price ORDER BY created_at DESC, id DESC))[1] AS close,
                   count(*) AS n, min(created_at) AS first_at, max(created_at) AS last_at
            FROM late GROUP BY 1, 2
        )
        UPDATE {_CANDLE} c SET
            open = CASE WHEN agg.first_at < c.first_tick_at THEN agg.open ELSE c.open END,
            close = CASE WHEN agg.last_at >= c.last_tick_at THEN agg.close ELSE c.close END,
            high = GREATEST(c.high, agg.high), low = LEAST(c.low, agg.low),
            ticks = c.ticks + agg.n,
            first_tick_at = LEAST(c.first_tick_at, agg.first_at),
            last_tick_at = GREATEST(c.last_tick_at, agg.last_at)
        FROM agg
        WHERE c.instrument_id = agg.instrument_id AND c."interval" = %(minute)s
          AND c.start = agg.minute
        RETURNING agg.n, c.instrument_id, c.start
    """
    # All parts of one statement share one snapshot: the DELETE removes exactly the ticks that
    # the count saw, and only in minutes whose candle holds that many.
    seal = f"""
        WITH live AS (
            SELECT instrument_id, {_trunc("minute", "created_at")} AS minute, count(*) AS n
            FROM {_TICK} WHERE created_at < %(before)s GROUP BY 1, 2
        ), sealed AS (
            UPDATE {_CANDLE} c SET sealed = TRUE
            FROM live
            WHERE c.instrument_id = live.instrument_id AND c."interval" = %(minute)s
              AND c.start = live.minute AND NOT c.sealed AND c.ticks = live.n
            RETURNING c.instrument_id, c.start
        )
        DELETE FROM {_TICK} t USING sealed s
        WHERE t.created_at < %(before)s AND t.instrument_id = s.instrument_id
          AND t.created_at >= s.start AND t.created_at < s.start + INTERVAL '1 minute'
    """
    params = {"before": before, "minute": MINUTE}
    with connection.cursor() as cursor:
        cursor.execute(merge, params)
        rows = cursor.fetchall()
        cursor.execute(seal, params)
        deleted = cursor.rowcount
    return sum(n for n, _, _ in rows), deleted, {(i, start) for _, i, start in rows}


def _prune_python(before: datetime) -> tuple[int, int, set[Key]]:
    merged = deleted = 0
    touched: set[Key] = set()
    stream = _tick_minutes(PriceTick.objects.filter(created_at__lt=before))
    while batch := list(itertools.islice(stream, _BATCH)):
        existing = _existing(MINUTE, batch)
        gone: list[int] = []
        for agg in batch:
            candle = existing.get((agg.instrument_id, agg.start))
            if candle is None:
                continue
            if candle.sealed:
                if agg.first_tick_at < candle.first_tick_at:
                    candle.open, candle.first_tick_at = agg.open, agg.first_tick_at
                if agg.last_tick_at >= candle.last_tick_at:
                    candle.close, candle.last_tick_at = agg.close, agg.last_tick_at
                candle.high = max(candle.high, agg.high)
                candle.low = min(candle.low, agg.low)
                candle.ticks += agg.ticks
                candle.save(update_fields=[*_FIELDS])
                merged += agg.ticks
                touched.add((agg.instrument_id, agg.start))
            elif candle.ticks == agg.ticks:
                Candle.objects.filter(pk=candle.pk).update(sealed=True)
                deleted += agg.ticks
            else:
                continue
            gone.extend(agg.ids)
        for i in range(0, len(gone), 900):  # SQLite's bound-parameter limit
            PriceTick.objects.filter(pk__in=gone[i : i + 900]).delete()
    return merged, deleted, touched


# --- the periodic run -------------------------------------------------------------------------


def retention_hours() -> int:
    hours = int(settings.MARKET_TICK_RETENTION_HOURS)
    if hours < MIN_RETENTION_HOURS:
        logger.warning(
            "MARKET_TICK_RETENTION_HOURS=%s is below %s (the price board's 24 h change reads "
            "ticks); keeping %s hours",
            hours,
            MIN_RETENTION_HOURS,
            MIN_RETENTION_HOURS,
        )
    return max(hours, MIN_RETENTION_HOURS)


def _newest_minute_start() -> datetime | None:
    """The start of the newest 1-minute candle of any instrument: one index probe each."""
    newest = Candle.objects.filter(instrument_id=OuterRef("pk"), interval=MINUTE).order_by("-start")
    starts = Instrument.objects.annotate(newest=Subquery(newest.values("start")[:1])).values_list(
        "newest", flat=True
    )
    return max((s for s in starts if s is not None), default=None)


@dataclass(frozen=True)
class RefreshResult:
    candles: int
    merged: int
    deleted: int


def candles_refresh(*, now: datetime | None = None) -> RefreshResult:
    """The beat task's work: aggregate the minutes since the newest candle (less LOOKBACK; all
    ticks on the first run) together with every minute past the retention cutoff, in one
    statement, then prune the ticks past the cutoff that their candles now hold."""
    now = now or timezone.now()
    newest = _newest_minute_start()
    cutoff = now - timedelta(hours=retention_hours())
    since = newest - LOOKBACK if newest is not None else None
    candles = candles_aggregate(since=since, before=cutoff if since is not None else None)
    pruned = ticks_prune(before=cutoff)
    return RefreshResult(candles=candles, merged=pruned.merged, deleted=pruned.deleted)


# --- reading ----------------------------------------------------------------------------------


class CandleRow(TypedDict):
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    ticks: int


_ROW = ("start", "open", "high", "low", "close", "ticks")


def candle_limit_validate(limit: object) -> int:
    try:
        value = int(str(limit).strip())
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise ApplicationError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}.",
            fields={"limit": f"A whole number from 1 to {MAX_LIMIT}."},
        )
    return value


def candle_series(
    *, instrument: Instrument | str, interval: str, limit: int = DEFAULT_LIMIT
) -> list[CandleRow]:
    """At most ``limit`` candles of ``interval`` ("1m", "1h" or "1d"), oldest first. 1m and 1h:
    the newest ``limit`` stored candles. 1d: the days of the last ``limit`` days up to the
    newest hour, rolled up from the hours (a day without ticks has no candle). Unknown
    instrument: NotFound; bad interval or limit: ApplicationError naming the field."""
    if interval not in INTERVALS:
        raise ApplicationError(
            f"Unknown interval {interval!r}; one of {', '.join(INTERVALS)}.",
            fields={"interval": f"One of {', '.join(INTERVALS)}."},
        )
    limit = candle_limit_validate(limit)
    inst = instrument if isinstance(instrument, Instrument) else instrument_get(instrument)
    if interval in (MINUTE, HOUR):
        newest = (
            Candle.objects.filter(instrument=inst, interval=interval)
            .order_by("-start")
            .values(*_ROW)[:limit]
        )
        return [CandleRow(**row) for row in list(newest)[::-1]]
    hours = Candle.objects.filter(instrument=inst, interval=HOUR)
    newest = hours.order_by("-start").values_list("start", flat=True).first()
    if newest is None:
        return []
    step = INTERVALS["1d"]
    first = _floor(newest, step) - (limit - 1) * step
    if _postgres():
        with transaction.atomic():
            _jit_off()
            return _days_sql(inst.pk, first)
    return [
        CandleRow(start=a.start, open=a.open, high=a.high, low=a.low, close=a.close, ticks=a.ticks)
        for a in _candle_groups(hours.filter(start__gte=first), step)
    ]


def _days_sql(instrument_id: int, first: datetime) -> list[CandleRow]:
    sql = f"""
        SELECT {_trunc("day", "start")} AS day,
               (array_agg(open ORDER BY start))[1], max(high), min(low),
               (array_agg(close ORDER BY start DESC))[1], sum(ticks)
        FROM {_CANDLE}
        WHERE instrument_id = %s AND "interval" = %s AND start >= %s
        GROUP BY day ORDER BY day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [instrument_id, HOUR, first])
        return [
            CandleRow(start=d, open=o, high=h, low=lo, close=c, ticks=int(n))
            for d, o, h, lo, c, n in cursor.fetchall()
        ]
