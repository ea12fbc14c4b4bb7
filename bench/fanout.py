"""Fan-out benchmark (make bench): mirror one lead open to N active copies on PostgreSQL.

For each N it times, 5 runs each, the real mirroring service (chunks as the dispatcher cuts
them, each chunk one durable transaction) and, as the floor, a raw COPY of the same rows
(positions, fills, copy events, journal entries, postings) in one transaction that is
rolled back. Prints one line per N:

    fanout n=10000 median_s=0.52 floor_s=0.31 ratio=1.68 followers_per_s=19230

Then, once, through a live Celery worker on Redis: from the lead's open call to the last
follower position committed (``fanout_live``). Needs DATABASE_URL=postgres://... and, for the
live run, CELERY_BROKER_URL=redis://... (skipped with a message otherwise).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_FANOUT_SIZES", "1000,10000").split(",")]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def setup_copies(lead, n: int, market: str = "futures") -> list[int]:
    """N followers, each with a funded copy of ``lead`` (set-based, through the ledger)."""
    from django.contrib.auth import get_user_model

    from apps.copies.models import Copy
    from apps.core.bulk import bulk_insert
    from apps.ledger.models import Account, JournalEntry
    from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
    from apps.positions.models import LeadEvent

    tag = uuid.uuid4().hex[:8]
    external = account_system(Account.Kind.EXTERNAL).pk
    lead_account = lead.spot_account_id if market == "spot" else lead.futures_account_id
    last_event = LeadEvent.objects.filter(account_id=lead_account).order_by("-id").first()
    with transaction.atomic():
        users = bulk_insert(
            get_user_model(),
            [{"email": f"bench-{tag}-{i}@example.com", "password": "!"} for i in range(n)],
        )
        accounts = bulk_insert(
            Account,
            [{"kind": "copy", "code": f"copy:bench:{tag}:{u}", "owner_id": u} for u in users],
        )
        bulk_insert(
            Account,
            [{"kind": "main", "code": f"main:{u}", "owner_id": u} for u in users],
            returning=None,
        )
        ledger_post_batch(
            [
                EntrySpec(
                    key=f"bench-fund:{a}",
                    kind=JournalEntry.Kind.DEPOSIT,
                    postings=((external, Decimal("-1000")), (a, Decimal("1000"))),
                )
                for a in accounts
            ]
        )
        return bulk_insert(
            Copy,
            [
                {
                    "follower_id": u,
                    "lead_id": lead.pk,
                    "account_id": a,
                    "market": market,
                    "total_investment": Decimal("1000"),
                    "profit_share_ratio": lead.profit_share_ratio,
                    "start_after_event_id": last_event.pk if last_event else 0,
                }
                for u, a in zip(users, accounts, strict=True)
            ],
        )


def lead_open(lead):
    from apps.positions.models import LeadEvent
    from apps.traders.services import lead_position_open

    pos = lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="100",
    )
    return LeadEvent.objects.get(position=pos, kind="open")


def mirror_all(event) -> int:
    from apps.copies.mirroring import chunks_for_event, lead_event_mirror

    return sum(lead_event_mirror(event.pk, lo=lo, hi=hi) for lo, hi in chunks_for_event(event))


def copy_floor(event, copy_rows: list[tuple[int, int]]) -> float:
    """COPY the same rows the mirror writes into the same tables (same indexes, constraints
    and triggers), chunked and committed the same way: positions, fills, copy events, one
    journal entry per chunk with a posting per follower plus the fees posting. Positions are
    written as closed and events against a spare lead event, so the floor's rows do not
    change the next run's sizing or collide with the mirror's unique keys."""
    from apps.ledger.models import Account
    from apps.ledger.services import account_system
    from apps.positions.models import LeadEvent, Position

    fees = account_system(Account.Kind.PLATFORM_FEES).pk
    spare_event = LeadEvent.objects.create(
        account_id=event.account_id, kind="open", mirrored_at=event.created_at, status="mirrored"
    ).pk
    explanation = json.dumps(
        Position.objects.filter(opened_by_event=event, lead_position__isnull=False)
        .values_list("explanation", flat=True)
        .first()
    )
    inst = event.instrument_id
    now = "2026-01-01 00:00:00+00"
    tag = uuid.uuid4().hex[:8]
    chunk = settings.SMART_SYNC["MIRROR_CHUNK_SIZE"]

    def rows(lines):
        return "".join("\t".join(line) + "\n" for line in lines)

    start = time.perf_counter()
    for k in range(0, len(copy_rows), chunk):
        part = copy_rows[k : k + chunk]
        with transaction.atomic(), connection.cursor() as cur, cur.connection.cursor() as c:
            c.execute("SELECT coalesce(max(id), 0) FROM positions_position")
            max_before = c.fetchone()[0]
            with c.copy(
                "COPY positions_position (account_id, lead_position_id, instrument_id, side, "
                "margin_mode, leverage, size, opened_size, entry_price, lead_entry_price, margin, "
                "realized_pnl, fees, funding, status, close_reason, explanation, "
                "opened_by_event_id, opened_at, handed_over) FROM STDIN"
            ) as cp:
                cp.write(
                    rows(
                        (
                            str(acc),
                            "\\N",
                            str(inst),
                            "long",
                            "cross",
                            "5",
                            "0.01",
                            "0.01",
                            "50000",
                            "50000",
                            "1",
                            "0",
                            "0.00025",
                            "0",
                            "closed",
                            "",
                            explanation,
                            str(event.pk),
                            now,
                            "f",
                        )
                        for _, acc in part
                    )
                )
            c.execute("SELECT id FROM positions_position WHERE id > %s ORDER BY id", [max_before])
            pids = [r[0] for r in c.fetchall()]
            with c.copy(
                "COPY positions_fill (position_id, lead_event_id, action, quantity, price, "
                "reference_price, fee, realized_pnl, created_at) FROM STDIN"
            ) as cp:
                cp.write(
                    rows(
                        (
                            str(p),
                            str(event.pk),
                            "open",
                            "0.01",
                            "50000",
                            "50000",
                            "0.00025",
                            "0",
                            now,
                        )
                        for p in pids
                    )
                )
            with c.copy(
                "COPY copies_copyevent (copy_id, kind, lead_event_id, position_id, reason, "
                "explanation, amount, created_at) FROM STDIN"
            ) as cp:
                cp.write(
                    rows(
                        (str(cid), "copied", str(spare_event), str(p), "", "{}", "1", now)
                        for (cid, _), p in zip(part, pids, strict=True)
                    )
                )
            c.execute(
                "INSERT INTO ledger_journalentry (idempotency_key, kind, memo, created_at) "
                "VALUES (%s, 'trading_fee', 'floor', now()) RETURNING id",
                [f"floor:{tag}:{k}"],
            )
            entry = c.fetchone()[0]
            with c.copy("COPY ledger_posting (entry_id, account_id, amount) FROM STDIN") as cp:
                cp.write(
                    rows(
                        [(str(entry), str(acc), "-0.00025") for _, acc in part]
                        + [(str(entry), str(fees), str(Decimal("0.00025") * len(part)))]
                    )
                )
    return time.perf_counter() - start


def bench_n(n: int) -> None:
    from apps.positions import outbox
    from tests.factories.trading import lead_make, set_price

    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="1000000")
    copy_ids = setup_copies(lead, n)
    from apps.copies.models import Copy

    copy_rows = list(
        Copy.objects.filter(pk__in=copy_ids).order_by("pk").values_list("pk", "account_id")
    )
    saved, outbox._listeners[:] = list(outbox._listeners), []  # mirror by hand, timed
    try:
        times, floors = [], []
        for _ in range(RUNS):
            event = lead_open(lead)
            start = time.perf_counter()
            done = mirror_all(event)
            times.append(time.perf_counter() - start)
            assert done == n, f"mirrored {done} of {n}"
            floors.append(copy_floor(event, copy_rows))
    finally:
        outbox._listeners[:] = saved
    median, floor = statistics.median(times), statistics.median(floors)
    print(
        f"fanout n={n} median_s={median:.2f} floor_s={floor:.2f} "
        f"ratio={median / floor:.2f} followers_per_s={int(n / median)}",
        flush=True,
    )


def bench_spot(n: int) -> None:
    """A lead spot buy mirrored to N spot copies: the first run opens their holdings, the
    next ones add to them at average cost (SPEC §6)."""
    from apps.copies.models import Copy
    from apps.ledger.services import deposit_credit
    from apps.positions import outbox
    from apps.positions.models import LeadEvent
    from apps.traders.services import lead_spot_buy, lead_transfer
    from tests.factories.trading import lead_make, set_price

    set_price("BTC-USDT", "50000")
    lead = lead_make(equity="0")
    deposit_credit(user=lead.user, amount=Decimal("1000000"), key=f"bench-spot:{lead.pk}")
    lead_transfer(lead=lead, market="spot", direction="in", amount="1000000")
    copy_ids = setup_copies(lead, n, market="spot")
    copy_rows = list(
        Copy.objects.filter(pk__in=copy_ids).order_by("pk").values_list("pk", "account_id")
    )
    saved, outbox._listeners[:] = list(outbox._listeners), []
    try:
        times, floors = [], []
        for _ in range(RUNS):
            lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="10000")
            event = LeadEvent.objects.filter(kind="spot_buy").latest("pk")
            start = time.perf_counter()
            done = mirror_all(event)
            times.append(time.perf_counter() - start)
            assert done == n, f"mirrored {done} of {n}"
            floors.append(copy_floor(event, copy_rows))
    finally:
        outbox._listeners[:] = saved
    median, floor = statistics.median(times), statistics.median(floors)
    print(
        f"fanout market=spot n={n} median_s={median:.2f} floor_s={floor:.2f} "
        f"ratio={median / floor:.2f} followers_per_s={int(n / median)} "
        f"(run 1 opens holdings, runs 2-{RUNS} add to them)",
        flush=True,
    )


def bench_live(n: int) -> None:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        print("fanout_live skipped: set CELERY_BROKER_URL=redis://... to measure through a worker")
        return
    from apps.positions.models import Position
    from config.celery import app as celery_app
    from tests.factories.trading import lead_make

    settings_dict = connection.settings_dict
    db_url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    lead = lead_make(equity="1000000")
    setup_copies(lead, n)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            "2",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    from tests.infra.worker import all_tasks_routed_to

    celery_app.conf.task_always_eager = False
    routing = all_tasks_routed_to(queue)
    routing.__enter__()
    try:
        time.sleep(4)  # let the worker connect
        start = time.perf_counter()
        event = lead_open(lead)
        deadline = start + 120
        while time.perf_counter() < deadline:
            if Position.objects.filter(lead_position_id=event.position_id).count() >= n:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        got = Position.objects.filter(lead_position_id=event.position_id).count()
        print(
            f"fanout_live n={n} seconds={elapsed:.2f} mirrored={got} "
            "(lead open call to last follower position committed; 1 worker, 2 processes)"
        )
    finally:
        routing.__exit__(None, None, None)
        celery_app.conf.task_always_eager = True
        worker.terminate()
        worker.wait(20)


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench/fanout.py measures on PostgreSQL: set DATABASE_URL=postgres://...")
        return 2
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        for n in SIZES:
            bench_n(n)
        bench_spot(max(SIZES))
        bench_live(max(SIZES))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
