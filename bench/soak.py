"""Soak (not in CI; `make bench` runs it only when named): `make run` for SOAK_MINUTES while a
lead trader opens and closes a position every few seconds against SOAK_COPIES copies.

    SOAK_MINUTES=30 .venv/bin/python bench/soak.py          # embedded defaults, temp folder
    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... make bench BENCH=soak

Without DATABASE_URL it runs on the embedded defaults of a fresh machine (SQLite and the
embedded broker) in a temporary folder. Like `make run` it migrates, seeds the demo, and starts
``python -m apps.core.runner`` (gunicorn + worker with beat, price feed on). Then it creates a
lead and SOAK_COPIES funded copies through the services, and the lead opens and closes through
the REST API every SOAK_PERIOD_S seconds (an open, half a period, the close, half a period),
while a reader polls pages. SOAK_KILL_WORKER_S > 0 also kills the worker's process group that
often (chaos; off by default). At the end, once the outbox is drained, it checks:

- every lead event reached every eligible copy exactly once: ``lost`` counts (event, copy)
  pairs with no CopyEvent, ``duplicates`` pairs with more than one CopyEvent or more than one
  follower position opened by the same event;
- ``manage.py ledger_audit`` is clean;
- ``child_restarts`` counts the runner's "exited with code" lines (a crash it recovered from).

    soak minutes=30 child_restarts=0 mirrored=120000 lost=0 duplicates=0 ledger=ok

Exit 0 only if lost=0, duplicates=0, the ledger is clean and no request got a 5xx.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
COPIES = int(os.environ.get("SOAK_COPIES", "200"))
PERIOD_S = float(os.environ.get("SOAK_PERIOD_S", "6"))
KILL_WORKER_S = float(os.environ.get("SOAK_KILL_WORKER_S", "0"))
SETTLE_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment() -> tuple[dict[str, str], Path]:
    """`make run`'s environment: local settings, eager off, the price feed on."""
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PRICE_FEED": "simulated",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # not 1000s on stdout
        "PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{folder / 'db.sqlite3'}")
    env.pop("DEBUG", None)
    return env, folder


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def setup_lead_and_copies(tag: str):
    """A lead with 10,000 USDT and COPIES followers copying it with 1,000 USDT each."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from apps.copies.services import copy_start
    from apps.ledger.services import deposit_credit
    from apps.traders.services import lead_trader_approve, lead_transfer

    User = get_user_model()
    password = uuid.uuid4().hex
    lead_user = User.objects.create_user(email=f"soak-lead-{tag}@example.com", password=password)
    deposit_credit(user=lead_user, amount=Decimal("10000"), key=f"soak-deposit:{tag}:lead")
    lead = lead_trader_approve(
        email=lead_user.email, nickname=f"Soak{tag}", max_copiers=COPIES + 10
    )
    lead_transfer(lead=lead, market="futures", direction="in", amount="10000")
    for i in range(COPIES):
        follower = User.objects.create_user(email=f"soak-{tag}-{i}@example.com", password="!")
        deposit_credit(user=follower, amount=Decimal("1000"), key=f"soak-deposit:{tag}:{i}")
        copy_start(follower=follower, lead=lead, total_investment="1000")
    lead.refresh_from_db()
    return lead, lead_user.email, password


class Api:
    def __init__(self, base: str):
        self.base = base
        self.token = ""
        self.statuses: Counter[int] = Counter()

    def call(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict]:
        """One call. Retried (for up to a minute) only while the connection is refused, i.e.
        the request surely never reached a server: a restart of the web server takes a few
        seconds. Anything else is an answer, counted in ``statuses``."""
        body = json.dumps(data).encode() if data is not None else None
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(self.base + path, data=body, method=method)
            request.add_header("Content-Type", "application/json")
            if self.token:
                request.add_header("Authorization", f"Token {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read()
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, ConnectionRefusedError) and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                status, payload = 0, b""
            except OSError:
                status, payload = 0, b""
            self.statuses[status] += 1
            try:
                return status, json.loads(payload or b"{}")
            except ValueError:
                return status, {}


def reader(base: str, stop: threading.Event, statuses: Counter[int]) -> None:
    paths = ["/", "/traders/", "/api/v1/prices/", "/healthz"]
    i = 0
    while not stop.is_set():
        try:
            with urllib.request.urlopen(base + paths[i % len(paths)], timeout=30) as r:
                r.read()
                statuses[r.status] += 1
        except urllib.error.HTTPError as exc:
            statuses[exc.code] += 1
        except OSError:
            statuses[0] += 1
        i += 1
        stop.wait(0.5)


def check(lead, first_event_id: int) -> dict:
    """Every lead event of the soak against every eligible copy: exactly one CopyEvent, and at
    most one follower position opened per (event, copy)."""
    from django.db.models import Count, Q

    from apps.copies.models import Copy, CopyEvent
    from apps.positions.models import LeadEvent, Position

    events = list(
        LeadEvent.objects.filter(account_id=lead.futures_account_id, id__gt=first_event_id)
    )
    copies = list(Copy.objects.filter(lead=lead))
    expected = {
        (e.pk, c.pk)
        for e in events
        for c in copies
        if c.start_after_event_id < e.pk and (c.stopped_at is None or c.stopped_at > e.created_at)
    }
    per_pair = Counter(
        CopyEvent.objects.filter(lead_event_id__in=[e.pk for e in events]).values_list(
            "lead_event_id", "copy_id"
        )
    )
    account_to_copy = {c.account_id: c.pk for c in copies}
    opened = (
        Position.objects.filter(
            opened_by_event_id__in=[e.pk for e in events if e.kind == "open"],
            account_id__in=list(account_to_copy),
        )
        .values("opened_by_event_id", "account_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return {
        "events": len(events),
        "pending": sum(e.status == "pending" for e in events),
        "failed": sum(e.status == "failed" for e in events),
        "mirrored": sum(1 for pair in per_pair if pair in expected),
        "lost": len(expected - set(per_pair)),
        "duplicates": sum(n - 1 for n in per_pair.values() if n > 1)
        + sum(row["n"] - 1 for row in opened),
        "kinds": dict(
            Counter(
                CopyEvent.objects.filter(lead_event_id__in=[e.pk for e in events]).values_list(
                    "kind", flat=True
                )
            )
        ),
        "open_left": Position.objects.filter(
            Q(account_id__in=list(account_to_copy)) | Q(account_id=lead.futures_account_id),
            status="open",
        ).count(),
    }


def wait_settled(lead, first_event_id: int) -> None:
    from apps.positions.models import LeadEvent

    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        pending = LeadEvent.objects.filter(
            account_id=lead.futures_account_id, id__gt=first_event_id, status="pending"
        ).count()
        if not pending:
            return
        time.sleep(1)


def main() -> int:
    env, folder = environment()
    os.environ.update(env)  # this process reads and writes the same database as the runner
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        done = manage(env, *step)
        if done.returncode:
            print(f"manage.py {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
            return 1

    import django

    django.setup()
    from apps.positions.models import LeadEvent

    tag = uuid.uuid4().hex[:6]
    started = time.monotonic()
    lead, email, password = setup_lead_and_copies(tag)
    last = LeadEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    print(f"soak: {COPIES} copies of Soak{tag} ready in {time.monotonic() - started:.0f}s")

    log_path = folder / "runner.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    runner = subprocess.Popen(
        [sys.executable, "-m", "apps.core.runner"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{env['PORT']}"
    api = Api(base)
    pages: Counter[int] = Counter()
    stop_reader = threading.Event()
    kills = 0
    try:
        deadline = time.monotonic() + 90
        while api.call("GET", "/healthz")[0] != 200:
            if runner.poll() is not None or time.monotonic() > deadline:
                print(f"the runner did not come up; log in {log_path}")
                return 1
            time.sleep(0.5)
        api.statuses.clear()
        status, data = api.call(
            "POST", "/api/v1/auth/token/", {"email": email, "password": password}
        )
        if status != 200:
            print(f"could not get a token ({status}): {data}")
            return 1
        api.token = data["token"]
        threading.Thread(target=reader, args=(base, stop_reader, pages), daemon=True).start()

        print(f"soak: running {MINUTES:g} min, an open and a close every {PERIOD_S:g}s", flush=True)
        end = time.monotonic() + MINUTES * 60
        next_kill = time.monotonic() + KILL_WORKER_S if KILL_WORKER_S > 0 else float("inf")
        trades = 0
        while time.monotonic() < end:
            status, position = api.call(
                "POST",
                "/api/v1/lead/positions/",
                {
                    "instrument": "BTC-USDT-SWAP",
                    "side": "long" if trades % 2 == 0 else "short",
                    "margin_mode": "cross",
                    "leverage": 5,
                    "margin_usdt": "200",
                },
            )
            time.sleep(PERIOD_S / 2)
            if status == 201:
                api.call(
                    "POST", f"/api/v1/lead/positions/{position['id']}/close/", {"fraction": "1"}
                )
            else:
                print(f"soak: open answered {status}: {position}", flush=True)
            trades += 1
            if time.monotonic() >= next_kill:
                pids = re.findall(r"runner \| worker started \(pid (\d+)\)", log_path.read_text())
                os.killpg(int(pids[-1]), signal.SIGKILL)
                kills += 1
                next_kill += KILL_WORKER_S
            time.sleep(PERIOD_S / 2)
            if trades % 50 == 0:
                elapsed = (MINUTES * 60 - (end - time.monotonic())) / 60
                print(f"soak: {elapsed:.1f} min, {trades} round trips", flush=True)

        wait_settled(lead, last)
        result = check(lead, last)
        stop_reader.set()
        runner.send_signal(signal.SIGTERM)
        runner_code = runner.wait(timeout=60)
    finally:
        stop_reader.set()
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
        log.close()

    audit = manage(env, "ledger_audit")
    ledger = "ok" if audit.returncode == 0 else "drift"
    restarts = len(re.findall(r"runner \| \w+ exited with code", log_path.read_text()))
    api_5xx = sum(n for s, n in api.statuses.items() if s >= 500)
    pages_5xx = sum(n for s, n in pages.items() if s >= 500)
    print(
        f"soak minutes={MINUTES:g} child_restarts={restarts} mirrored={result['mirrored']} "
        f"lost={result['lost']} duplicates={result['duplicates']} ledger={ledger}"
    )
    print(
        f"soak detail: copies={COPIES} lead_events={result['events']} pending={result['pending']} "
        f"failed={result['failed']} copy_events={result['kinds']} open_left={result['open_left']} "
        f"worker_kills={kills} api={dict(api.statuses)} pages={dict(pages)} "
        f"runner_exit={runner_code} log={log_path}"
    )
    if ledger != "ok":
        print(audit.stdout + audit.stderr)
    ok = (
        result["lost"] == 0
        and result["duplicates"] == 0
        and ledger == "ok"
        and api_5xx == 0
        and pages_5xx == 0
        and runner_code == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
