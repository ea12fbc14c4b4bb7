"""`make run` on PostgreSQL keeps its connections bounded under 50 concurrent requests.

The runner starts gunicorn (WEB_WORKERS=2 x WEB_THREADS=4, a psycopg pool of 4 per process) and
the worker with beat (WORKER_CONCURRENCY=2, CONN_MAX_AGE=0) against the test database, as
`make run` does. The bound, from the runner's docstring: the web server holds at most 2 x 4 = 8
connections, the worker at most 2 + 2 = 4 (pool processes, beat, the consumer). Before this,
runserver with CONN_MAX_AGE=60 kept one connection per request thread: 40 concurrent requests
gave 18 answers of 500 ("too many clients") and left 34 connections idle.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.infra.worker import database_url_for_worker

pytestmark = [pytest.mark.postgres, pytest.mark.worker]

BASE_DIR = Path(__file__).resolve().parent.parent.parent
WEB_WORKERS, WEB_THREADS, WORKER_CONCURRENCY = 2, 4, 2
WEB_BOUND = WEB_WORKERS * WEB_THREADS
WORKER_BOUND = WORKER_CONCURRENCY + 2
PATHS = ["/traders/", "/healthz", "/api/v1/prices/"]
CONCURRENT, ROUNDS = 50, 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # refused or timed out: as bad as a 5xx


class Sampler(threading.Thread):
    """Polls pg_stat_activity for the test database every 20 ms; keeps the maxima."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.done = threading.Event()
        self.max_by_app: Counter[str] = Counter()
        self.max_total = 0
        self.samples = 0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.is_set():
                rows = conn.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " GROUP BY application_name"
                ).fetchall()
                for app, n in rows:
                    self.max_by_app[app] = max(self.max_by_app[app], n)
                self.max_total = max(self.max_total, sum(n for _, n in rows))
                self.samples += 1
                time.sleep(0.02)


def burst(base: str) -> list[int]:
    """CONCURRENT requests released at the same instant, spread over PATHS."""
    start = threading.Barrier(CONCURRENT)
    statuses = [0] * CONCURRENT

    def one(i: int) -> None:
        start.wait()
        statuses[i] = status_of(base + PATHS[i % len(PATHS)])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_requests_on_postgres_get_answers_and_bounded_connections(postgres):
    from tests.factories.trading import lead_make, set_price

    # given rows the pages read (committed: the server is another process)
    set_price("BTC-USDT-SWAP", "50000")
    lead_make(nickname="PoolTester")
    url = database_url_for_worker()

    # and the runner serving the test database, as `make run` does
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="conn-test-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": f"sqlite:///{folder / 'broker.sqlite3'}",  # not CI's shared Redis
        "PRICE_FEED": "simulated",
        "PRICE_FEED_INTERVAL_S": "1",
        "PORT": str(port),
        "WEB_WORKERS": str(WEB_WORKERS),
        "WEB_THREADS": str(WEB_THREADS),
        "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
    }
    for name in ("DB_POOL_SIZE", "CONN_MAX_AGE", "CELERY_TASK_ALWAYS_EAGER", "DEBUG"):
        env.pop(name, None)
    log = open(folder / "runner.log", "w+")  # noqa: SIM115 - closed in finally
    runner = subprocess.Popen(
        [sys.executable, "-m", "apps.core.runner"], cwd=BASE_DIR, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    sampler = Sampler(url)
    base = f"http://127.0.0.1:{port}"
    failed = True
    try:
        deadline = time.monotonic() + 60
        while status_of(base + "/healthz") != 200:
            assert runner.poll() is None, "the runner exited"
            assert time.monotonic() < deadline, "the runner did not answer /healthz in 60 s"
            time.sleep(0.3)
        sampler.start()

        # when 50 requests arrive at once, three times over
        statuses = [s for _ in range(ROUNDS) for s in burst(base)]
        time.sleep(1)  # the worker and beat keep working meanwhile (price feed every second)
        sampler.done.set()
        sampler.join(timeout=10)

        # then every request got an answer, and none was a 5xx
        counts = Counter(statuses)
        print(
            f"requests={len(statuses)} statuses={dict(counts)} samples={sampler.samples} "
            f"max_connections={dict(sampler.max_by_app)} max_total={sampler.max_total}"
        )
        assert counts == {200: CONCURRENT * ROUNDS}, counts

        # and the connections stayed within the bound (the sampler did see them)
        assert sampler.samples > 10
        assert 1 <= sampler.max_by_app["smartsync-web"] <= WEB_BOUND
        assert 1 <= sampler.max_by_app["smartsync-worker"] <= WORKER_BOUND
        others = sampler.max_total - sampler.max_by_app["smartsync-web"]
        others -= sampler.max_by_app["smartsync-worker"]
        assert sampler.max_total <= WEB_BOUND + WORKER_BOUND + 1, (
            f"{sampler.max_total} connections ({others} not from the runner's children)"
        )

        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=40) == 0
        failed = False
    finally:
        sampler.done.set()
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            try:
                runner.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
        log.seek(0)
        if failed:
            print("--- runner output ---\n" + log.read()[-20000:])
        log.close()
