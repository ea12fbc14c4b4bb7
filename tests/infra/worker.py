"""A real Celery worker for tests: ``run_worker(queues)`` starts one against the test database.

    from tests.infra.worker import celery_not_eager, run_worker, unique_queue

    @pytest.mark.worker
    @pytest.mark.django_db(transaction=True)
    def test_something(postgres, redis_url):
        queue = unique_queue("mirroring")
        with run_worker([queue]), celery_not_eager():
            some_task.apply_async(args=[...], queue=queue)
            ...poll the database...

Invariants:
- The worker uses config.settings.test with eager mode off, the broker in CELERY_BROKER_URL
  (Redis), and the database pytest-django created for this test session (so tests must use
  ``transaction=True``: the worker only sees committed rows).
- Queue names should be unique per test run (``unique_queue``) so that a stray worker on the same
  broker (``make run``, another checkout) never takes the test's messages.
- ``run_worker`` returns only once the worker is ready, and always stops it (SIGTERM, then SIGKILL
  of its process group). If the body raises, the worker's log is printed so pytest shows it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def unique_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def database_url_for_worker() -> str:
    """DATABASE_URL of the database this test session uses (pytest-django's test database)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("a live worker needs PostgreSQL (the SQLite test database is in memory)")
    auth = quote(s.get("USER") or "postgres", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


@contextlib.contextmanager
def celery_not_eager() -> Iterator[None]:
    """Send tasks to the broker from the test process (config.settings.test is eager by default)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = before


@contextlib.contextmanager
def run_worker(
    queues: list[str],
    *,
    concurrency: int = 1,
    pool: str = "solo",
    env: dict[str, str] | None = None,
    ready_timeout: float = 30,
) -> Iterator[subprocess.Popen]:
    """Run ``celery -A config worker -Q <queues>`` until the ``with`` block ends.

    ``pool="prefork", concurrency=N`` gives N processes (for concurrency tests). ``env`` adds or
    overrides environment variables (e.g. SMART_SYNC_* settings). The Popen has ``log_path``.
    """
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        raise RuntimeError("a live worker needs CELERY_BROKER_URL=redis://... (use redis_url)")
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DATABASE_URL": database_url_for_worker(),
        "CELERY_BROKER_URL": broker,
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finally
        prefix="celery-worker-", suffix=".log", delete=False
    )
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    cmd = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-Q", ",".join(queues), "-n", name, "-P", pool, "--concurrency", str(concurrency),
        "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=BASE_DIR,
        env=worker_env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]
    failed = True
    try:
        _wait_ready(proc, Path(log.name), ready_timeout)
        yield proc
        failed = False
    finally:
        _stop(proc)
        log.close()
        if failed:
            print(f"--- celery worker log ({log.name}) ---\n{worker_log(proc)}--- end ---")
        else:
            os.unlink(log.name)


def worker_log(proc: subprocess.Popen) -> str:
    try:
        return Path(proc.log_path).read_text(errors="replace")  # type: ignore[attr-defined]
    except OSError:
        return ""


def _wait_ready(proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with code {proc.returncode} before ready")
        time.sleep(0.2)
    raise TimeoutError(f"celery worker not ready after {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def all_tasks_routed_to(queue: str) -> Iterator[None]:
    """Route every task of ours to ``queue`` while inside (Celery caches its router, so the
    table is flushed and the router rebuilt on the way in and out)."""
    from config.celery import app

    saved = app.conf.task_routes

    def apply(routes) -> None:
        app.conf.task_routes = routes
        app.amqp.flush_routes()
        app.amqp.router = app.amqp.Router()

    apply({"apps.*": {"queue": queue}})
    try:
        yield
    finally:
        apply(saved)
