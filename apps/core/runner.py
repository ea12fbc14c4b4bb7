"""`make run`: the web server and one Celery worker with embedded beat, as child processes.

    python -m apps.core.runner
    (PORT, WEB_WORKERS, WEB_THREADS, WORKER_CONCURRENCY, DATABASE_URL, CELERY_BROKER_URL, DEBUG
    from the environment)

The web server is gunicorn (WEB_WORKERS processes x WEB_THREADS threads, default 2 x 4) with
whitenoise serving static files; the worker is ``celery worker -B`` on the four queues.

Invariants:
- Every child's output is printed line by line with a prefix ("web    | ", "worker | "); the
  runner's own lines start with "runner | ".
- Children run in their own process groups and get SIGTERM if the runner itself dies (Linux), so
  no worker is left behind holding the database.
- A child that exits on its own is restarted, and the other one keeps running: the site stays
  up. The runner logs the exit code and the restart ("runner | worker exited with code -9 ...;
  restart 1 in 1s"), kills what is left of the child's process group first (pool processes,
  beat: there is never a second beat), and waits 1 s, 2 s, 4 s ... at most 30 s; the wait goes
  back to 1 s once the child has stayed up for a minute.
- Before the site has answered once, a child that fails 3 times in a row is a set-up problem
  (port in use, broken settings): the runner stops everything and exits 1.
- Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL of its process group after a grace
  period), a pending restart is abandoned, and the runner exits 0.
- PostgreSQL connections are bounded: the web server holds at most WEB_WORKERS x DB_POOL_SIZE
  (a psycopg pool per process, DB_POOL_SIZE = WEB_THREADS unless set), the worker at most one per
  process (WORKER_CONCURRENCY pool processes, beat, the consumer; CONN_MAX_AGE=0). Each shows
  in pg_stat_activity as application_name smartsync-web / smartsync-worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
QUEUES = "default,mirroring,prices,settlement"
GRACE_S = 15
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
START_ATTEMPTS = 3
_print_lock = threading.Lock()


def say(prefix: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{prefix} | {line}\n")
        sys.stdout.flush()


def _parent_death_signal():
    """prctl resolved before any fork, so the child runs no loader code between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def setup() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return setup


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # exits in a row, each within STABLE_AFTER_S of its start
    restart_at: float | None = None
    pumps: list[threading.Thread] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name.strip()


def children(port: str, env: dict[str, str]) -> list[Child]:
    py = sys.executable
    threads = os.environ.get("WEB_THREADS", "4")
    web = [
        py, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", os.environ.get("WEB_WORKERS", "2"),
        "--threads", threads, "--worker-class", "gthread",
        "--timeout", "60", "--graceful-timeout", "10",
        "--access-logfile", "-", "--error-logfile", "-",
    ]  # fmt: skip
    worker = [
        py, "-m", "celery", "-A", "config", "worker", "-B",
        "-Q", QUEUES, "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
        "--without-mingle", "--without-gossip", "-l", "info",
    ]  # fmt: skip
    return [
        Child(
            "web   ",
            web,
            {
                **env,
                "DB_POOL_SIZE": os.environ.get("DB_POOL_SIZE", threads),
                "PGAPPNAME": "smartsync-web",
            },
        ),
        # prefork closes pooled connections after every task anyway: no pool in the worker
        Child("worker", worker, {**env, "DB_POOL_SIZE": "0", "PGAPPNAME": "smartsync-worker"}),
    ]


def _pump(name: str, proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        say(name, raw.rstrip("\n"))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def spawn(child: Child, setup) -> None:
    child.proc = subprocess.Popen(
        child.cmd,
        cwd=BASE_DIR,
        env=child.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
        preexec_fn=setup,
    )
    child.started_at = time.monotonic()
    child.restart_at = None
    pump = threading.Thread(target=_pump, args=(child.name, child.proc), daemon=True)
    pump.start()
    child.pumps = [t for t in child.pumps if t.is_alive()] + [pump]
    say("runner", f"{child.label} started (pid {child.proc.pid})")


def on_exit(child: Child, now: float) -> None:
    """The child exited on its own: clean up its group and schedule the restart."""
    assert child.proc is not None
    code = child.proc.returncode
    _kill_group(child.proc)  # pool processes and beat must not outlive their parent
    child.proc.wait()
    uptime = now - child.started_at
    if uptime >= STABLE_AFTER_S:
        child.failures = 0
    delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**child.failures)
    child.failures += 1
    child.restarts += 1
    why = f"code {code}"
    if code < 0:
        with contextlib.suppress(ValueError):
            why = f"code {code} ({signal.Signals(-code).name})"
    say(
        "runner",
        f"{child.label} exited with {why} after {uptime:.0f}s; "
        f"restart {child.restarts} in {delay:g}s",
    )
    child.proc = None
    child.restart_at = now + delay


def stop(kids: list[Child]) -> None:
    running = [c.proc for c in kids if c.proc is not None]
    for proc in running:
        if proc.poll() is None:
            proc.terminate()  # gunicorn and the Celery worker both shut down warmly on SIGTERM
    deadline = time.monotonic() + GRACE_S
    for child in kids:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say("runner", f"{child.label} did not stop in {GRACE_S}s; killing it")
        _kill_group(child.proc)  # the worker's pool processes share its process group
        child.proc.wait()


def main() -> int:
    port = os.environ.get("PORT", "8000")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
    }
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    setup = _parent_death_signal()
    kids = children(port, env)
    for child in kids:
        spawn(child, setup)  # from this thread only: PDEATHSIG follows the forking thread

    url = f"http://127.0.0.1:{port}/"
    up_once = False
    web_down = False
    code = 0
    while not stopping.is_set():
        now = time.monotonic()
        for child in kids:
            if child.proc is not None and child.proc.poll() is not None:
                on_exit(child, now)
                web_down = web_down or child.name.strip() == "web"
            if not up_once and child.failures >= START_ATTEMPTS:
                say(
                    "runner",
                    f"{child.label} failed {child.failures} times before the site came up; stopping",
                )
                code = 1
            elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                spawn(child, setup)
        if code:
            break
        if (not up_once or web_down) and _answers(url + "healthz"):
            if not up_once:
                say("runner", f"Smart Sync is up at {url}  (admin: {url}admin/)")
                say("runner", "Operator and demo logins: see README. Ctrl-C stops everything.")
            else:
                say("runner", f"web answers again at {url}")
            up_once, web_down = True, False
        stopping.wait(0.5 if up_once else 0.3)

    if stopping.is_set():
        say("runner", "stopping")
    stop(kids)
    for child in kids:
        for thread in child.pumps:
            thread.join(timeout=2)
    return code


if __name__ == "__main__":
    sys.exit(main())
