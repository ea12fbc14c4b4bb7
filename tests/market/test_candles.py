"""1-minute candles from price ticks, pruning of old ticks, 1 h / 1 d roll-ups, the candles API
and the admin lists of the big market tables (apps/market/candles.py, issue 9 item 7).

Every expected open/high/low/close/ticks below is read off the hand-made ticks or candles of the
test, never computed with the code's own formula. The tests run on SQLite (the Python fallback)
and on PostgreSQL (the set-based SQL) alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.market.candles import (
    candle_series,
    candles_aggregate,
    candles_refresh,
    candles_rollup,
    ticks_prune,
)
from apps.market.models import Candle, PriceTick
from tests.factories.market import instrument

D = Decimal
pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC


def at(minutes: int = 0, seconds: float = 0, **kw) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds, **kw)


def ticks(inst, *rows):
    """Hand-made ticks: (created_at, price), inserted in the order given (ids ascending)."""
    PriceTick.objects.bulk_create(
        [PriceTick(instrument=inst, price=D(p), source="simulated", created_at=t) for t, p in rows]
    )


def candle_of(inst, start):
    c = Candle.objects.get(instrument=inst, interval="1m", start=start)
    return (c.open, c.high, c.low, c.close, c.ticks)


def rows_now():
    return list(
        Candle.objects.order_by("instrument_id", "start").values_list(
            "instrument_id", "start", "open", "high", "low", "close", "ticks", "sealed"
        )
    )


@pytest.fixture
def btc():
    return instrument("BTC-USDT-SWAP")


@pytest.fixture
def eth():
    return instrument("ETH-USDT-SWAP")


# --- aggregation ------------------------------------------------------------------------------


def test_candles_aggregate_builds_minutes_from_hand_made_ticks(btc, eth):
    # given: BTC ticks in 10:00 (four) and 10:01 (two, the first exactly on the minute), and
    # two ETH ticks with the same timestamp (the earlier id opens, the later id closes)
    ticks(
        btc,
        (at(0, 5), "50000"),
        (at(0, 10), "50100"),
        (at(0, 30), "49900"),
        (at(0, 59.999999), "50050"),
        (at(1, 0), "50060"),
        (at(1, 59), "50070"),
    )
    ticks(eth, (at(0, 20), "3000"), (at(0, 20), "3001"))
    # when
    written = candles_aggregate()
    # then
    assert written == 3
    assert candle_of(btc, at(0)) == (D("50000"), D("50100"), D("49900"), D("50050"), 4)
    assert candle_of(btc, at(1)) == (D("50060"), D("50070"), D("50060"), D("50070"), 2)
    assert candle_of(eth, at(0)) == (D("3000"), D("3001"), D("3000"), D("3001"), 2)
    first = Candle.objects.get(instrument=btc, interval="1m", start=at(0))
    assert (first.first_tick_at, first.last_tick_at, first.sealed) == (
        at(0, 5),
        at(0, 59.999999),
        False,
    )


def test_candles_aggregate_twice_changes_nothing(btc):
    ticks(btc, (at(0, 1), "100"), (at(0, 2), "102"), (at(3, 0), "99"))
    assert candles_aggregate() == 2
    before = rows_now()
    # when: the same run again, and a run over a window that covers the same minutes
    assert candles_aggregate() == 0
    assert candles_aggregate(since=at(0, 30)) == 0
    # then
    assert rows_now() == before


def test_a_minute_still_open_is_recomputed_on_the_next_run(btc):
    ticks(btc, (at(0, 1), "100"), (at(0, 2), "101"))
    candles_aggregate()
    assert candle_of(btc, at(0)) == (D("100"), D("101"), D("100"), D("101"), 2)
    # when: the minute goes on after the run
    ticks(btc, (at(0, 40), "105"), (at(0, 50), "98"))
    assert candles_aggregate(since=at(0, 30)) == 1  # the window is rounded down to 10:00
    # then
    assert candle_of(btc, at(0)) == (D("100"), D("105"), D("98"), D("98"), 4)


def test_candles_aggregate_window_and_before(btc):
    ticks(btc, (at(0), "1"), (at(5), "2"), (at(10), "3"), (at(15), "4"))
    # [05:00, 10:00) plus everything before 01:00
    assert candles_aggregate(since=at(5), until=at(10), before=at(1)) == 2
    assert sorted(Candle.objects.filter(interval="1m").values_list("start", flat=True)) == [
        at(0),
        at(5),
    ]
    # only before
    Candle.objects.all().delete()
    assert candles_aggregate(before=at(6)) == 2
    assert sorted(Candle.objects.filter(interval="1m").values_list("start", flat=True)) == [
        at(0),
        at(5),
    ]


# --- pruning ----------------------------------------------------------------------------------


def test_ticks_prune_keeps_ticks_of_minutes_without_a_candle(btc):
    ticks(btc, (at(0, 1), "100"), (at(1, 1), "101"))
    # when: pruning without aggregating first
    result = ticks_prune(before=at(10))
    # then: nothing is deleted, no price is lost
    assert (result.merged, result.deleted) == (0, 0)
    assert PriceTick.objects.count() == 2


def test_ticks_prune_keeps_ticks_of_a_minute_whose_candle_is_stale(btc):
    ticks(btc, (at(0, 1), "100"), (at(0, 2), "101"), (at(1, 1), "102"))
    candles_aggregate()
    # a tick lands in 10:00 after its candle was made (a late commit, a CSV replay)
    ticks(btc, (at(0, 3), "150"))
    result = ticks_prune(before=at(10))
    # 10:01's candle holds its one tick: deleted; 10:00's candle counts 2 of 3 ticks: all kept
    assert result.deleted == 1
    assert sorted(PriceTick.objects.values_list("price", flat=True)) == [
        D("100"),
        D("101"),
        D("150"),
    ]
    assert Candle.objects.get(interval="1m", start=at(1)).sealed is True
    assert Candle.objects.get(interval="1m", start=at(0)).sealed is False
    # after the next aggregation the candle holds all three, and they go
    candles_aggregate()
    assert ticks_prune(before=at(10)).deleted == 3
    assert candle_of(btc, at(0)) == (D("100"), D("150"), D("100"), D("150"), 3)
    assert not PriceTick.objects.exists()


def test_ticks_prune_keeps_ticks_at_or_after_before(btc):
    ticks(btc, (at(0, 1), "100"), (at(1, 0), "101"), (at(1, 30), "102"))
    candles_aggregate()
    # before = 10:01:45 is rounded down to 10:01: only the 10:00 minute may go
    assert ticks_prune(before=at(1, 45)).deleted == 1
    assert sorted(PriceTick.objects.values_list("price", flat=True)) == [D("101"), D("102")]


def test_a_late_tick_of_a_sealed_minute_is_merged_once(btc):
    ticks(btc, (at(0, 10), "100"), (at(0, 20), "110"), (at(0, 30), "95"))
    candles_aggregate()
    assert ticks_prune(before=at(10)).deleted == 3
    # late ticks for the sealed 10:00: one before its first tick, one after its last
    ticks(btc, (at(0, 5), "90"), (at(0, 50), "120"))
    # aggregation never overwrites a sealed candle with the two ticks it can still see
    assert candles_aggregate() == 0
    assert candle_of(btc, at(0)) == (D("100"), D("110"), D("95"), D("95"), 3)
    # when
    result = ticks_prune(before=at(10))
    # then: open 90 (10:00:05), high 120, low 90, close 120 (10:00:50), 5 ticks
    assert (result.merged, result.deleted) == (2, 0)
    assert candle_of(btc, at(0)) == (D("90"), D("120"), D("90"), D("120"), 5)
    assert not PriceTick.objects.exists()
    # and again: nothing left to merge
    assert ticks_prune(before=at(10)).merged == 0
    assert candle_of(btc, at(0)) == (D("90"), D("120"), D("90"), D("120"), 5)


def hour_of(inst, start):
    c = Candle.objects.get(instrument=inst, interval="1h", start=start)
    return (c.open, c.high, c.low, c.close, c.ticks)


def test_hours_follow_their_minutes_through_aggregation_and_late_merges(btc):
    # given: 10:00 and 10:59 of one hour, and 11:00 of the next
    ticks(btc, (at(0, 1), "100"), (at(0, 2), "104"), (at(59, 30), "97"), (at(60, 1), "200"))
    candles_aggregate()
    # then: 10:00 opens at 100, 10:59 closes at 97; 4 ticks over two hours
    assert hour_of(btc, at(0)) == (D("100"), D("104"), D("97"), D("97"), 3)
    assert hour_of(btc, at(60)) == (D("200"), D("200"), D("200"), D("200"), 1)
    # when: the open minute 10:59 goes on, and is aggregated again
    ticks(btc, (at(59, 40), "110"))
    candles_aggregate(since=at(59))
    assert hour_of(btc, at(0)) == (D("100"), D("110"), D("97"), D("110"), 4)
    # when: the hour's ticks are pruned, then a late tick lands in the sealed 10:00
    ticks_prune(before=at(60))
    ticks(btc, (at(0, 0.5), "90"))
    assert ticks_prune(before=at(60)).merged == 1
    # then: the hour opens at the late tick (10:00:00.5) and its low is 90
    assert hour_of(btc, at(0)) == (D("90"), D("110"), D("90"), D("110"), 5)
    assert hour_of(btc, at(60)) == (D("200"), D("200"), D("200"), D("200"), 1)


def test_candles_refresh_prunes_past_the_retention_only(btc, settings):
    settings.MARKET_TICK_RETENTION_HOURS = 48
    now = at(0, hours=72)
    ticks(
        btc,
        (now - timedelta(hours=50), "100"),  # past the retention: goes once in a candle
        (now - timedelta(hours=47), "200"),  # inside: kept
        (now - timedelta(minutes=1), "300"),  # the minute before now: kept
    )
    # when
    first = candles_refresh(now=now)
    # then
    assert (first.candles, first.merged, first.deleted) == (3, 0, 1)
    assert sorted(PriceTick.objects.values_list("price", flat=True)) == [D("200"), D("300")]
    assert Candle.objects.filter(interval="1m").count() == 3
    old = Candle.objects.get(interval="1m", start=now - timedelta(hours=50))
    assert (old.open, old.close, old.ticks, old.sealed) == (D("100"), D("100"), 1, True)
    # a second run (beat redelivers, or overlaps) changes nothing
    before = rows_now()
    again = candles_refresh(now=now)
    assert (again.candles, again.merged, again.deleted) == (0, 0, 0)
    assert rows_now() == before


def test_candles_refresh_covers_old_ticks_written_after_the_newest_candle(btc, settings):
    settings.MARKET_TICK_RETENTION_HOURS = 48
    now = at(0, hours=72)
    ticks(btc, (now - timedelta(minutes=2), "300"))
    candles_refresh(now=now)
    # a CSV replay at old timestamps: far behind the newest candle, past the retention
    ticks(btc, (now - timedelta(hours=60), "10"), (now - timedelta(hours=60, seconds=-5), "11"))
    # and a tick inside the retention, behind the newest candle by less than the look-back
    ticks(btc, (now - timedelta(minutes=5), "299"))
    result = candles_refresh(now=now)
    assert (result.candles, result.deleted) == (2, 2)
    assert candle_of(btc, now - timedelta(hours=60)) == (D("10"), D("11"), D("10"), D("11"), 2)
    assert candle_of(btc, now - timedelta(minutes=5)) == (D("299"), D("299"), D("299"), D("299"), 1)


def test_retention_below_25_hours_is_raised_to_25(btc, settings):
    settings.MARKET_TICK_RETENTION_HOURS = 1
    now = at(0, hours=72)
    ticks(btc, (now - timedelta(hours=24, minutes=30), "100"), (now - timedelta(hours=26), "99"))
    assert candles_refresh(now=now).deleted == 1
    assert list(PriceTick.objects.values_list("price", flat=True)) == [D("100")]


def test_the_beat_task_runs_the_refresh(btc):
    from apps.market.tasks import candles_refresh as task

    ticks(btc, (at(0, 1), "100"))
    assert task.delay() is not None  # eager in tests
    assert candle_of(btc, at(0)) == (D("100"), D("100"), D("100"), D("100"), 1)


def test_the_refresh_is_scheduled_every_minute_on_the_prices_queue():
    from django_celery_beat.models import PeriodicTask

    from apps.market.schedules import schedules_ensure

    schedules_ensure()  # also run after migrate; again is harmless
    task = PeriodicTask.objects.get(name="Price candles: aggregate ticks, prune old ticks")
    assert (task.task, task.queue, task.enabled) == (
        "apps.market.tasks.candles_refresh",
        "prices",
        True,
    )
    assert (task.interval.every, task.interval.period) == (60, "seconds")
    assert PeriodicTask.objects.filter(task="apps.market.tasks.candles_refresh").count() == 1


# --- roll-ups ---------------------------------------------------------------------------------


def minute_candles(inst, *rows):
    """Hand-made 1-minute candles: (start, open, high, low, close, ticks)."""
    Candle.objects.bulk_create(
        [
            Candle(
                instrument=inst,
                interval="1m",
                start=s,
                open=D(o),
                high=D(h),
                low=D(lo),
                close=D(c),
                ticks=n,
                first_tick_at=s,
                last_tick_at=s,
            )
            for s, o, h, lo, c, n in rows
        ]
    )


@pytest.fixture
def two_days(btc):
    minute_candles(
        btc,
        # Monday 10:xx
        (at(0), "100", "105", "99", "104", 12),
        (at(30), "104", "110", "103", "108", 12),
        (at(59), "108", "109", "101", "102", 6),
        # Monday 11:xx
        (at(60), "102", "103", "97", "98", 12),
        (at(75), "98", "100", "96", "100", 3),
        # Tuesday 00:00 and 09:59
        (at(0, hours=14), "100", "120", "100", "119", 12),
        (at(-1, hours=24), "119", "119", "90", "91", 1),
    )
    candles_rollup()  # hand-made minutes: build their hours (the beat run does it by itself)
    return btc


def test_one_hour_candles_roll_up_the_minutes(two_days):
    rows = candle_series(instrument="BTC-USDT-SWAP", interval="1h", limit=1000)
    assert [(r["start"], r["open"], r["high"], r["low"], r["close"], r["ticks"]) for r in rows] == [
        (at(0), D("100"), D("110"), D("99"), D("102"), 30),
        (at(60), D("102"), D("103"), D("96"), D("100"), 15),
        (at(0, hours=14), D("100"), D("120"), D("100"), D("119"), 12),
        (at(0, hours=23), D("119"), D("119"), D("90"), D("91"), 1),
    ]
    # the newest three, oldest first
    rows = candle_series(instrument="BTC-USDT-SWAP", interval="1h", limit=3)
    assert [r["start"] for r in rows] == [at(60), at(0, hours=14), at(0, hours=23)]
    # rolling up again changes nothing
    before = rows_now()
    candles_rollup()
    assert rows_now() == before


def test_one_day_candles_roll_up_the_minutes(two_days):
    rows = candle_series(instrument="btc-usdt-swap", interval="1d", limit=7)
    monday, tuesday = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    assert [(r["start"], r["open"], r["high"], r["low"], r["close"], r["ticks"]) for r in rows] == [
        (monday, D("100"), D("110"), D("96"), D("100"), 45),
        (tuesday, D("100"), D("120"), D("90"), D("91"), 13),
    ]
    only_last = candle_series(instrument="BTC-USDT-SWAP", interval="1d", limit=1)
    assert [r["start"] for r in only_last] == [tuesday]


def test_one_minute_candles_are_the_newest_rows_oldest_first(two_days):
    rows = candle_series(instrument="BTC-USDT-SWAP", interval="1m", limit=3)
    assert [(r["start"], r["close"]) for r in rows] == [
        (at(75), D("100")),
        (at(0, hours=14), D("119")),
        (at(-1, hours=24), D("91")),
    ]


def test_an_instrument_without_candles_has_an_empty_series(btc):
    assert candle_series(instrument=btc, interval="1h") == []
    assert candle_series(instrument=btc, interval="1m") == []


# --- API --------------------------------------------------------------------------------------

URL = "/api/v1/prices/{}/candles/"


def test_candles_api_answers_rolled_up_candles_publicly(api_client, two_days):
    response = api_client.get(URL.format("BTC-USDT-SWAP"), {"interval": "1h", "limit": "2"})
    assert response.status_code == 200
    assert response.json() == {
        "instrument": "BTC-USDT-SWAP",
        "interval": "1h",
        "limit": 2,
        "results": [
            {
                "start": "2026-03-03T00:00:00Z",
                "open": "100.00000000",
                "high": "120.00000000",
                "low": "100.00000000",
                "close": "119.00000000",
                "ticks": 12,
            },
            {
                "start": "2026-03-03T09:00:00Z",
                "open": "119.00000000",
                "high": "119.00000000",
                "low": "90.00000000",
                "close": "91.00000000",
                "ticks": 1,
            },
        ],
    }


def test_candles_api_defaults_to_one_hour_and_200(api_client, two_days):
    body = api_client.get(URL.format("BTC-USDT-SWAP")).json()
    assert (body["interval"], body["limit"], len(body["results"])) == ("1h", 200, 4)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"interval": "5m"}, "interval"),
        ({"interval": "1H"}, "interval"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_candles_api_refuses_bad_query_in_the_error_shape(api_client, btc, query, field):
    response = api_client.get(URL.format("BTC-USDT-SWAP"), query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code", "fields"}
    assert body["code"] == "invalid" and field in body["fields"], body


def test_candles_api_unknown_instrument_is_a_404_naming_it(api_client, btc):
    response = api_client.get(URL.format("DOGE-USDT-SWAP"))
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_instrument"
    assert "DOGE-USDT-SWAP" in body["detail"] and "BTC-USDT-SWAP" in body["detail"]
    assert set(body["fields"]) == {"instrument"}


def test_candles_api_ignores_a_stale_session(client, two_days):
    client.cookies["sessionid"] = "stale"
    assert client.get(URL.format("BTC-USDT-SWAP")).status_code == 200


def test_candles_api_is_described_by_the_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    op = schema["paths"]["/api/v1/prices/{instrument}/candles/"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["instrument"]["in"] == "path"
    assert sorted(params["interval"]["schema"]["enum"]) == ["1d", "1h", "1m"]
    assert params["limit"]["schema"]["type"] == "integer"
    assert op["security"] == [{}]  # public
    for code in ("400", "404"):
        ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/Error")
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    series = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]
    assert set(series["properties"]) == {"instrument", "interval", "limit", "results"}
    assert "count" not in series["properties"]  # a bounded series, not a page
    item = series["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
    props = schema["components"]["schemas"][item]["properties"]
    assert set(props) == {"start", "open", "high", "low", "close", "ticks"}
    assert (props["open"]["type"], props["open"]["format"]) == ("string", "decimal")


# --- admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client):
    user = get_user_model().objects.create_user(
        email="root@example.com", password="x", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_tick_and_candle_lists_never_scan_or_count_the_table(admin_client_, btc):
    ticks(btc, *[(at(0, seconds=5 * n, hours=h), "100") for h in (0, 30) for n in range(12)])
    candles_aggregate()
    for url, day_link in (
        ("/admin/market/pricetick/", "created_at__day=3"),
        ("/admin/market/candle/", "start__day=3"),
    ):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client_.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        # the date hierarchy offers Monday 2 to Tuesday 3 March from MIN/MAX alone
        assert day_link in page and "March 2" in page
        sql = [q["sql"].upper() for q in queries.captured_queries]
        assert not [q for q in sql if "DISTINCT" in q], url
        counts = [q for q in sql if "COUNT(" in q and "MARKET_" in q]
        assert counts and all("LIMIT" in q for q in counts), counts
        assert len(sql) <= 12, url


def test_a_long_tick_list_says_more_than_the_cap(admin_client_, btc, monkeypatch):
    from apps.market.admin import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    ticks(btc, *[(at(0, n), "100") for n in range(7)])
    page = admin_client_.get("/admin/market/pricetick/?created_at__year=2026").content.decode()
    assert "More than 5 price ticks" in page
    few = admin_client_.get("/admin/market/pricetick/?created_at__year=2025").content.decode()
    assert "0 price ticks" in few


def test_the_day_level_of_the_date_hierarchy_filters_by_range(admin_client_, btc):
    ticks(btc, (at(0), "100"), (at(0, hours=24), "200"))
    page = admin_client_.get(
        "/admin/market/pricetick/?created_at__year=2026&created_at__month=3&created_at__day=3"
    ).content.decode()
    assert "200.00000000" in page and "100.00000000" not in page
    assert "1 price tick" in page


def test_candles_are_read_only_in_the_admin(admin_client_, btc):
    ticks(btc, (at(0), "100"))
    candles_aggregate()
    pk = Candle.objects.get(interval="1m").pk
    assert admin_client_.get("/admin/market/candle/add/").status_code == 403
    assert admin_client_.post(
        f"/admin/market/candle/{pk}/delete/", {"post": "yes"}
    ).status_code in (
        403,
        302,
    )
    assert Candle.objects.filter(pk=pk).exists()
