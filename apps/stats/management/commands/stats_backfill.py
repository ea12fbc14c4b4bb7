"""manage.py stats_backfill --from YYYY-MM-DD [--to YYYY-MM-DD]

Takes the daily snapshots of every day from --from to --to (default: yesterday, UTC) from the
ledger, the positions, their fills and the price history, then recomputes the stats as of the
last day. The numbers are the ones the daily job writes for the same days (a snapshot depends
only on history up to its day's end); days already taken are overwritten with them.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.stats.services import snapshots_take, trader_stats_refresh


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name} must be a date like 2026-01-31, not {value!r}.") from None


class Command(BaseCommand):
    help = "Take the daily stats snapshots of past days (from the ledger and positions)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, start: str, end: str | None = None, **options):
        yesterday = timezone.now().date() - timedelta(days=1)
        first = _day(start, "--from")
        last = _day(end, "--to") if end else yesterday
        for name, day in (("--from", first), ("--to", last)):
            if day > yesterday:
                raise CommandError(
                    f"{name} {day} has not ended yet (UTC): the last day you can take is "
                    f"{yesterday}."
                )
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}.")
        day = first
        while day <= last:
            run = snapshots_take(day=day)
            self.stdout.write(f"{run.day}: {run.leads} lead traders, {run.copies} copies")
            day += timedelta(days=1)
        n = trader_stats_refresh(as_of=last)
        self.stdout.write(self.style.SUCCESS(f"stats as of {last}: {n} rows"))
