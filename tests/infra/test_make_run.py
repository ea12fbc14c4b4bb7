"""`make run` end to end: migrate, seed_demo, then the runner's web server, worker and beat.

Embedded defaults only (a SQLite file and the filesystem broker in a temporary folder), as on a
fresh machine. Slow (~30 s): deselect locally with ``-m "not worker"``; CI runs it.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
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


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def prices(db: Path) -> list[tuple]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(
            "SELECT instrument_id, price, updated_at FROM market_price ORDER BY instrument_id"
        ).fetchall()


def wait_for(condition, timeout: float, what: str, runner: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert runner.poll() is None, f"the runner exited with {runner.returncode} while {what}"
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s while {what}")


def body(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def lead_trader_id(db: Path, nickname: str) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(
            "SELECT id FROM traders_leadtrader WHERE nickname = ?", (nickname,)
        ).fetchone()[0]


def test_make_run_serves_pages_and_moves_prices():
    # given a fresh database and broker folder, migrated and seeded as `make run` does
    tmp = Path(tempfile.mkdtemp(prefix="make-run-"))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "BROKER_DIR": str(tmp / "broker"),
        "PRICE_FEED": "simulated",
        "PRICE_FEED_INTERVAL_S": "1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *step], cwd=BASE_DIR, env=env,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"manage.py {' '.join(step)} failed:\n{done.stdout}{done.stderr}"
        )

    log: list[str] = []
    runner = subprocess.Popen(
        [sys.executable, "-m", "apps.core.runner"], cwd=BASE_DIR, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    reader = threading.Thread(target=lambda: log.extend(runner.stdout), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        # when the runner is up
        wait_for(lambda: get(f"{base}/healthz") == 200, 60, "waiting for /healthz", runner)
        wait_for(lambda: any("is up at" in line for line in log), 5, "waiting for banner", runner)

        # then the pages answer
        assert get(f"{base}/") == 200
        assert get(f"{base}/admin/login/") == 200

        # and they show the seeded demo: prices, the lead traders and AlphaWhale's open position
        home = body(f"{base}/")
        assert "BTC-USDT-SWAP" in home
        assert all(name in home for name in ("AlphaWhale", "SteadyEddie", "SolSurfer"))
        alpha = lead_trader_id(tmp / "db.sqlite3", "AlphaWhale")
        profile = body(f"{base}/traders/{alpha}/")
        assert "AlphaWhale" in profile and "BTC-USDT-SWAP" in profile and "5x" in profile

        # and the worker with beat moves prices (the simulated feed ticks every second)
        before = prices(tmp / "db.sqlite3")
        wait_for(lambda: prices(tmp / "db.sqlite3") != before, 20, "waiting for prices", runner)

        # and SIGTERM stops everything cleanly
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 0
        reader.join(timeout=5)
        assert not any("did not stop" in line for line in log)
    except BaseException:
        print("--- runner output ---\n" + "".join(log))
        raise
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
