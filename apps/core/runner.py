"""`make run`: the web server and one Celery worker with embedded beat, as child processes.

    python -m apps.core.runner        (PORT, DATABASE_URL, CELERY_BROKER_URL from the environment)

Invariants:
- Every child's output is printed line by line with a prefix ("web    | ", "worker | ").
- Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL of its process group after a grace
  period) and the runner exits 0.
- If one child exits on its own, the runner stops the others and exits non-zero.
- Children run in their own process groups and get SIGTERM if the runner itself dies (Linux), so
  no worker is left behind holding the database.
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
QUEUES = "default,mirroring,prices,settlement"
GRACE_S = 15
_print_lock = threading.Lock()


def say(prefix: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{prefix} | {line}\n")
        sys.stdout.flush()


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def commands(port: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "web   ": [py, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [
            py, "-m", "celery", "-A", "config", "worker", "-B",
            "-Q", QUEUES, "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
            "-l", "info",
        ],
    }  # fmt: skip


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


def stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()  # the Celery worker does a warm shutdown on SIGTERM
    deadline = time.monotonic() + GRACE_S
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say("runner", f"{name.strip()} did not stop in {GRACE_S}s; killing it")
        # the worker's pool processes share its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


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

    procs: dict[str, subprocess.Popen] = {}
    for name, cmd in commands(port).items():
        procs[name] = subprocess.Popen(
            cmd,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=_child_setup,  # safe: started before any thread
        )
    pumps = [
        threading.Thread(target=_pump, args=(name, proc), daemon=True)
        for name, proc in procs.items()
    ]
    for thread in pumps:
        thread.start()

    url = f"http://127.0.0.1:{port}/"
    announced = False
    code = 0
    while not stopping.is_set():
        dead = [(name, proc) for name, proc in procs.items() if proc.poll() is not None]
        if dead:
            name, proc = dead[0]
            say("runner", f"{name.strip()} exited with code {proc.returncode}; stopping the rest")
            code = proc.returncode or 1
            break
        if not announced and _answers(url + "healthz"):
            announced = True
            say("runner", f"Smart Sync is up at {url}  (admin: {url}admin/)")
            say("runner", "Operator and demo logins: see README. Ctrl-C stops everything.")
        stopping.wait(0.5 if announced else 0.3)

    if stopping.is_set():
        say("runner", "stopping")
    stop(procs)
    for thread in pumps:
        thread.join(timeout=2)
    return code


if __name__ == "__main__":
    sys.exit(main())
