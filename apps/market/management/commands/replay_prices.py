"""Replay a CSV of prices through price_set (source "replay"); see apps/market/replay.py."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.market.replay import ReplayFileError, replay_parse
from apps.market.services import price_set


class Command(BaseCommand):
    help = (
        "Replay FILE.csv (columns timestamp,instrument,price) through the price service, pacing "
        "rows by their timestamps divided by --speed. The whole file is validated first: one bad "
        "row and nothing is applied."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        pace = parser.add_mutually_exclusive_group()
        pace.add_argument("--speed", type=float, default=1.0, help="time multiplier (default 1)")
        pace.add_argument("--no-sleep", action="store_true", help="apply rows without waiting")
        parser.add_argument(
            "--csv-time",
            action="store_true",
            help="record each row at its CSV timestamp (backfill history) instead of now",
        )

    def handle(self, *args, file: Path, speed: float, no_sleep: bool, csv_time: bool, **options):
        if speed <= 0:
            raise CommandError("--speed must be greater than 0")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text: {exc}") from exc
        try:
            rows = replay_parse(text)
        except ReplayFileError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc

        previous = None
        for row in rows:
            if not no_sleep and previous is not None and row.timestamp is not None:
                wait = (row.timestamp - previous).total_seconds() / speed
                if wait > 0:
                    time.sleep(wait)
            if row.timestamp is not None:
                previous = row.timestamp
            at = row.timestamp if (csv_time and row.timestamp) else timezone.now()
            price_set(instrument=row.instrument, price=row.price, source="replay", at=at)
            self.stdout.write(f"line {row.line}: {row.instrument.name} = {row.price}")
        self.stdout.write(self.style.SUCCESS(f"replayed {len(rows)} price(s) from {file}"))
