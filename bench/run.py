"""`make bench`: run every benchmark in bench/ and print what each one measures.

Each bench/<name>.py (other than this file and files starting with "_") runs as its own process
from the project root, so one benchmark's state cannot skew the next. bench/soak.py (30 minutes)
runs only when named: `make bench BENCH=soak`. Benchmarks are measured on
PostgreSQL: without a PostgreSQL DATABASE_URL this refuses (exit 2). Exit 1 if any benchmark fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smartsync_bench make bench [BENCH="name ..."]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")
ON_REQUEST = {"soak"}  # long-running: only when named (BENCH=soak)


def discover(names: list[str]) -> list[Path]:
    found = sorted(
        path
        for path in HERE.glob("*.py")
        if path.name != "run.py" and not path.name.startswith("_")
    )
    if names:
        wanted = {name.removesuffix(".py") for name in names}
        return [path for path in found if path.stem in wanted]
    return [path for path in found if path.stem not in ON_REQUEST]


def main(argv: list[str]) -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(POSTGRES_SCHEMES):
        print(
            "make bench measures on PostgreSQL, and DATABASE_URL is "
            + (f"not PostgreSQL ({url.split('://')[0]}://...)." if url else "not set.")
            + "\nRun for example:\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/smartsync_bench make bench",
            file=sys.stderr,
        )
        return 2
    benches = discover(argv)
    if not benches:
        print("no benchmarks found in bench/" + (f" matching {argv}" if argv else ""))
        return 1 if argv else 0

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    failed = []
    for path in benches:
        print(f"\n=== bench/{path.name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(path)], cwd=ROOT, env=env)
        took = time.monotonic() - started
        print(f"=== bench/{path.name}: {'ok' if code == 0 else f'FAILED ({code})'} in {took:.1f}s")
        if code != 0:
            failed.append(path.name)
    if failed:
        print(f"\n{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
