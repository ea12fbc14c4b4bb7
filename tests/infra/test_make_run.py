"""`make run` end to end: migrate, seed_demo, then the runner's web server, worker and beat.

Embedded defaults only (a SQLite file and the embedded broker beside it, in a temporary folder),
as on a fresh machine, with DEBUG unset (off). Slow (~30 s each): deselect locally with
``-m "not worker"``; CI runs them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.worker

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except OSError:
        return 0, "", b""


def get(url: str) -> int:
    return fetch(url)[0]


def body(url: str) -> str:
    status, _, data = fetch(url)
    assert status == 200, f"{url} answered {status}"
    return data.decode()


def prices(db: Path) -> list[tuple]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(
            "SELECT instrument_id, price, updated_at FROM market_price ORDER BY instrument_id"
        ).fetchall()


def lead_trader_id(db: Path, nickname: str) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(
            "SELECT id FROM traders_leadtrader WHERE nickname = ?", (nickname,)
        ).fetchone()[0]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """A database migrated and seeded as `make run` does, made once and copied per test."""
    folder = tmp_path_factory.mktemp("make-run-seed")
    env = run_env(folder, port=0)
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *step], cwd=BASE_DIR, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"manage.py {' '.join(step)} failed:\n{done.stdout}{done.stderr}"
        )
    return folder / "db.sqlite3"


def run_env(folder: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "PRICE_FEED": "simulated",
        "PRICE_FEED_INTERVAL_S": "1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    # the embedded defaults of a fresh machine: no broker URL (the broker file goes beside the
    # database), DEBUG unset
    for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "DB_POOL_SIZE"):
        env.pop(name, None)
    return env


class Runner:
    """``python -m apps.core.runner`` on a copy of the seeded database, with its log."""

    def __init__(self, seeded: Path, folder: Path, port: int | None = None):
        shutil.copy(seeded, folder / "db.sqlite3")
        self.db = folder / "db.sqlite3"
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apps.core.runner"], cwd=BASE_DIR,
            env=run_env(folder, self.port),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=lambda: self.log.extend(self.proc.stdout))
        self.reader.daemon = True
        self.reader.start()

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.proc.poll() is None, (
                f"the runner exited with {self.proc.returncode} while {what}"
            )
            time.sleep(0.3)
        pytest.fail(f"timed out after {timeout}s while {what}")

    def logged(self, pattern: str) -> list[re.Match]:
        return [m for line in list(self.log) if (m := re.search(pattern, line))]

    def child_pid(self, name: str) -> int:
        return int(self.logged(rf"runner \| {name} started \(pid (\d+)\)")[-1].group(1))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=40)
        self.reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def runner(seeded_db, tmp_path):
    r = Runner(seeded_db, tmp_path)
    try:
        yield r
    finally:
        if r.proc.poll() is None or r.proc.returncode:
            print("--- runner output ---\n" + "".join(r.log))
        r.kill()


def test_make_run_serves_pages_and_moves_prices(runner):
    base, db = runner.base, runner.db
    # when the runner is up
    runner.wait_for(lambda: get(f"{base}/healthz") == 200, 60, "waiting for /healthz")
    runner.wait_for(lambda: runner.logged("is up at"), 5, "waiting for the banner")

    # then the pages answer, served by gunicorn, static files included (DEBUG is off)
    assert runner.logged(r"web    \| .*Starting gunicorn")
    assert get(f"{base}/") == 200
    assert get(f"{base}/admin/login/") == 200
    status, kind, css = fetch(f"{base}/static/css/app.css")
    assert (status, kind.split(";")[0]) == (200, "text/css") and b"--primary" in css

    # and they show the seeded demo: prices, the lead traders and AlphaWhale's open position
    home = body(f"{base}/")
    assert "BTC-USDT-SWAP" in home
    assert all(name in home for name in ("AlphaWhale", "SteadyEddie", "SolSurfer"))
    alpha = lead_trader_id(db, "AlphaWhale")
    profile = body(f"{base}/traders/{alpha}/")
    assert "AlphaWhale" in profile and "BTC-USDT-SWAP" in profile and "5x" in profile

    # and a missing page is the product's 404, not Django's debug page listing every URL
    status, kind, page = fetch(f"{base}/no-such-page/")
    assert status == 404 and kind.startswith("text/html")
    assert "Page not found" in page.decode() and "URLconf" not in page.decode()
    # and /favicon.ico is an icon, and so is the SVG the pages link
    status, kind, icon = fetch(f"{base}/favicon.ico")
    assert (status, kind, icon[:4]) == (200, "image/x-icon", b"\x00\x00\x01\x00")
    status, kind, svg = fetch(f"{base}/static/favicon.svg")
    assert (status, kind.split(";")[0], svg[:4]) == (200, "image/svg+xml", b"<svg")

    # and the worker with beat moves prices (the simulated feed ticks every second), through
    # the embedded broker beside the database
    before = prices(db)
    runner.wait_for(lambda: prices(db) != before, 40, "waiting for prices")
    assert (db.parent / "db.sqlite3-broker").exists()
    assert not (BASE_DIR / "control").exists()  # kombu's filesystem transport's droppings

    # and SIGTERM stops everything cleanly
    assert runner.stop() == 0
    assert not runner.logged("did not stop|exited with code")


def test_the_runner_restarts_a_killed_child_and_the_site_answers_again(runner):
    base, db = runner.base, runner.db
    runner.wait_for(lambda: get(f"{base}/healthz") == 200, 60, "waiting for /healthz")
    # (a worker killed before it says ready would leave one "ready." line, not two)
    runner.wait_for(lambda: runner.logged(r"worker \| .*ready\."), 60, "first worker ready")

    # when the worker's whole process group (worker, pool processes, beat) is killed
    worker = runner.child_pid("worker")
    os.killpg(worker, signal.SIGKILL)

    # then the runner says why and restarts it after a backoff, and the web server stays up
    runner.wait_for(
        lambda: runner.logged(r"worker exited with code -9 \(SIGKILL\).*restart 1 in 1s"),
        10,
        "waiting for the runner to notice the worker's death",
    )
    assert get(f"{base}/healthz") == 200
    runner.wait_for(lambda: runner.child_pid("worker") != worker, 15, "waiting for a new worker")
    # and the new worker (with beat) moves prices again
    runner.wait_for(lambda: runner.logged(r"worker \| .*ready\.")[1:], 60, "new worker ready")
    before = prices(db)
    runner.wait_for(lambda: prices(db) != before, 40, "waiting for prices after the restart")

    # when the web server is killed
    web = runner.child_pid("web")
    os.killpg(web, signal.SIGKILL)

    # then it is restarted and the site answers again
    runner.wait_for(
        lambda: runner.logged(r"web exited with code -9 \(SIGKILL\).*restart 1 in 1s"),
        10,
        "waiting for the runner to notice the web server's death",
    )
    runner.wait_for(lambda: runner.logged("web answers again"), 60, "waiting for the web again")
    assert get(f"{base}/healthz") == 200 and runner.child_pid("web") != web

    # and Ctrl-C (SIGTERM) still stops everything, with exit code 0
    assert runner.stop() == 0
    assert not runner.logged("did not stop")


def test_a_child_that_cannot_start_stops_the_runner_with_an_error(seeded_db, tmp_path):
    # given the port is already taken by another program
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = Runner(seeded_db, tmp_path, port=taken.getsockname()[1])
        try:
            # when the web server fails to bind, again and again (restarted 1 s, then 2 s later)
            code = r.proc.wait(timeout=90)
            r.reader.join(timeout=5)

            # then the runner gives up after 3 failures, says so, stops the worker and exits 1
            assert code == 1
            assert len(r.logged(r"web exited with code 1")) == 3
            assert r.logged("web failed 3 times before the site came up; stopping")
            assert not r.logged("is up at")
            worker = r.child_pid("worker")
            with pytest.raises(ProcessLookupError):
                os.kill(worker, 0)
        except BaseException:
            print("--- runner output ---\n" + "".join(r.log))
            raise
        finally:
            r.kill()
