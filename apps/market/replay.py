"""CSV price replay: parse and validate a whole file, then apply it through price_set.

Format: a header row ``timestamp,instrument,price`` (any column order), then one row per price.
``timestamp`` is ISO 8601 (naive means UTC) or blank. Line numbers are the file's own (header = 1).

Invariant: a file with any bad row applies nothing; every error names its line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from apps.core.exceptions import ApplicationError

from .models import Instrument
from .services import price_validate

COLUMNS = ("timestamp", "instrument", "price")


@dataclass(frozen=True)
class ReplayRow:
    line: int
    timestamp: datetime | None
    instrument: Instrument
    price: Decimal


class ReplayFileError(ApplicationError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__(
            f"{len(errors)} bad row(s), nothing applied:\n" + "\n".join(errors), code="bad_csv"
        )


def _parse_timestamp(raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    value = datetime.fromisoformat(raw)  # ValueError on a bad timestamp
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay_parse(text: str) -> list[ReplayRow]:
    """Every row of ``text`` validated, or ReplayFileError listing every bad line."""
    instruments = {i.name: i for i in Instrument.objects.all()}
    reader = csv.reader(io.StringIO(text))
    errors: list[str] = []
    rows: list[ReplayRow] = []
    header = next(reader, None)
    names = [h.strip().lower() for h in header] if header else []
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ReplayFileError(
            [
                f"line 1: header must name the columns {','.join(COLUMNS)} (missing {', '.join(missing)})"
            ]
        )
    index = {c: names.index(c) for c in COLUMNS}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # blank lines are allowed
        if len(fields) != len(names):
            errors.append(f"line {line}: expected {len(names)} columns, found {len(fields)}")
            continue
        name = fields[index["instrument"]].strip().upper()
        problems = []
        timestamp = None
        try:
            timestamp = _parse_timestamp(fields[index["timestamp"]])
        except ValueError:
            problems.append(f"timestamp {fields[index['timestamp']]!r} is not ISO 8601")
        instrument = instruments.get(name)
        if instrument is None:
            problems.append(f"unknown instrument {fields[index['instrument']].strip()!r}")
        try:
            price = price_validate(fields[index["price"]].strip())
        except ApplicationError as exc:
            problems.append(exc.message.rstrip("."))
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        rows.append(ReplayRow(line=line, timestamp=timestamp, instrument=instrument, price=price))
    if errors:
        raise ReplayFileError(errors)
    return rows
