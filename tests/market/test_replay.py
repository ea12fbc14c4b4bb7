import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.market.models import Price, PriceTick
from apps.market.services import instruments_ensure

D = Decimal
SAMPLE = Path(__file__).resolve().parents[2] / "apps" / "market" / "fixtures" / "sample_prices.csv"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _instruments():
    instruments_ensure()


def test_replay_sample_file_applies_every_row(django_capture_on_commit_callbacks):
    from apps.market.hooks import price_listener

    calls = []
    with price_listener(calls.append), django_capture_on_commit_callbacks(execute=True):
        call_command("replay_prices", str(SAMPLE), "--no-sleep", stdout=io.StringIO())
    prices = dict(Price.objects.values_list("instrument__name", "price"))
    assert prices == {
        "BTC-USDT-SWAP": D("52000"),
        "BTC-USDT": D("50100.5"),
        "ETH-USDT-SWAP": D("2995.25"),
        "ETH-USDT": D("3000"),
        "SOL-USDT-SWAP": D("151.125"),
        "SOL-USDT": D("150"),
    }
    assert PriceTick.objects.filter(source="replay").count() == 11
    assert len(calls) == 11  # each row is a price change: risk checks run as it plays


def test_replay_csv_time_backfills_history_at_the_file_timestamps(tmp_path):
    call_command("replay_prices", str(SAMPLE), "--no-sleep", "--csv-time", stdout=io.StringIO())
    first = PriceTick.objects.order_by("created_at", "id").first()
    assert first.created_at.isoformat() == "2026-01-05T00:00:00+00:00"


def test_replay_sleeps_by_timestamp_over_speed(monkeypatch, tmp_path):
    waits = []
    monkeypatch.setattr("apps.market.management.commands.replay_prices.time.sleep", waits.append)
    call_command("replay_prices", str(SAMPLE), "--speed", "2", stdout=io.StringIO())
    # gaps of 1 s, 1 s and 1 s (the blank timestamp does not pace), halved by --speed 2
    assert waits == [0.5, 0.5, 0.5]


def test_replay_bad_rows_name_their_lines_and_apply_nothing(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "timestamp,instrument,price\n"
        "2026-01-05T00:00:00Z,BTC-USDT-SWAP,50000\n"
        "yesterday,BTC-USDT-SWAP,50000\n"
        "\n"
        ",DOGE-USDT,1\n"
        ",ETH-USDT,-3\n"
        ",ETH-USDT,1.123456789\n"
        ",SOL-USDT\n"
    )
    with pytest.raises(CommandError) as exc:
        call_command("replay_prices", str(csv), "--no-sleep")
    message = str(exc.value)
    assert "line 3: timestamp 'yesterday' is not ISO 8601" in message
    assert "line 5: unknown instrument 'DOGE-USDT'" in message
    assert "line 6: Price must be greater than 0" in message
    assert "line 7: Price can have at most 8 decimal places" in message
    assert "line 8: expected 3 columns, found 2" in message
    assert "line 2" not in message
    assert not Price.objects.exists() and not PriceTick.objects.exists()


def test_replay_bad_header_and_missing_file(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("time,symbol,price\n,BTC-USDT,1\n")
    with pytest.raises(CommandError, match="line 1: header must name the columns"):
        call_command("replay_prices", str(csv), "--no-sleep")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("replay_prices", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="--speed must be greater than 0"):
        call_command("replay_prices", str(SAMPLE), "--speed", "0")
    assert not PriceTick.objects.exists()
