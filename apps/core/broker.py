"""The embedded Celery broker: a kombu virtual transport on one SQLite file, no server needed.

    CELERY_BROKER_URL = "sqlite:////abs/path/broker.sqlite3"
    CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"

config/settings/base.py sets both when CELERY_BROKER_URL is not given (the file sits beside the
SQLite database, so another database gets another broker). `make run` uses it; production and
CI use Redis.

Invariants:
- A message is one row written by one INSERT in its own transaction: a reader sees all of it or
  nothing. (kombu's filesystem transport creates the file before writing it, so a worker could
  read an empty message and die; that cannot happen here.)
- A consumer claims a row (``claimed_by`` = its pid) inside ``BEGIN IMMEDIATE``: two consumers
  never hold the same row. A poll that finds nothing takes no write lock (WAL readers do not
  block writers).
- A row is deleted only when its message is acked, or rejected without requeue. A requeue, a
  warm shutdown (kombu restores unacked messages) and ``basic_recover`` release the claim, so the
  message is delivered again. Claims held by a process that no longer exists (this is one host)
  are released at the next sweep, and any claim older than ``visibility_timeout`` (default 1 h)
  too: with ``acks_late`` a task that a killed worker was running is delivered again, with
  ``delivery_info["redelivered"]`` set, so Celery's reject-on-worker-lost does not loop.
- Busy timeout 30 s on every statement (publishers from the web server, the worker and beat
  queue instead of failing with "database is locked"); sqlite3.OperationalError is a connection
  error to kombu, so publishing retries and the consumer reconnects instead of crashing.
- Given up: fanout (no broadcast: ``celery inspect``/``control`` do not reach the worker),
  priorities, TTL, more than one host.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty

from kombu.transport import virtual

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0,
    claimed_by INTEGER,
    claimed_at REAL
);
CREATE INDEX IF NOT EXISTS message_ready ON message (queue, claimed_by, id);
"""
BUSY_TIMEOUT_S = 30
SWEEP_EVERY_S = 5.0


def broker_path(url: str) -> Path:
    """The file of ``sqlite:///relative`` or ``sqlite:////absolute`` (SQLAlchemy's spelling)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"the embedded broker needs a sqlite:///<file> URL, not {url!r}")
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def open_database(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with the schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Channel(virtual.Channel):
    visibility_timeout = 3600.0
    from_transport_options = (*virtual.Channel.from_transport_options, "visibility_timeout")

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._lock = threading.RLock()  # acks can come from another thread than polls
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._swept_at = 0.0

    # --- plumbing --------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None or self._db_pid != os.getpid():  # never use a connection across fork
            self._db = open_database(broker_path(self.connection.client.hostname))
            self._db_pid = os.getpid()
        return self._db

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    # --- the virtual channel's storage -------------------------------------------------------
    def _put(self, queue, message, **kwargs):
        self._write(
            "INSERT INTO message (queue, payload) VALUES (?, ?)", (queue, json.dumps(message))
        )

    def _get(self, queue, timeout=None):
        with self._lock:
            db = self.db
            self._sweep(db)
            ready = (
                "SELECT id FROM message WHERE queue = ? AND claimed_by IS NULL ORDER BY id LIMIT 1"
            )
            if db.execute(ready, (queue,)).fetchone() is None:
                raise Empty()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT id, payload, deliveries FROM message"
                    " WHERE queue = ? AND claimed_by IS NULL ORDER BY id LIMIT 1",
                    (queue,),
                ).fetchone()
                if row is None:  # another consumer took it between the peek and the lock
                    raise Empty()
                db.execute(
                    "UPDATE message SET claimed_by = ?, claimed_at = ?, deliveries = deliveries + 1"
                    " WHERE id = ?",
                    (os.getpid(), time.time(), row[0]),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        row_id, payload, deliveries = row
        message = json.loads(payload)
        properties = message["properties"]
        properties["delivery_tag"] = f"sqlite:{row_id}"  # ack/reject find the row by its tag
        if deliveries:
            properties.setdefault("delivery_info", {})["redelivered"] = True
            message["redelivered"] = True
        return message

    def _sweep(self, db: sqlite3.Connection) -> None:
        """Release the claims of processes that are gone, and claims past the visibility timeout."""
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = now
        cutoff = time.time() - float(self.visibility_timeout)
        holders = db.execute(
            "SELECT claimed_by, min(claimed_at) FROM message"
            " WHERE claimed_by IS NOT NULL GROUP BY claimed_by"
        ).fetchall()
        for pid, oldest in holders:
            if not _alive(pid):
                db.execute(
                    "UPDATE message SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = ?",
                    (pid,),
                )
            elif oldest < cutoff:
                db.execute(
                    "UPDATE message SET claimed_by = NULL, claimed_at = NULL"
                    " WHERE claimed_by = ? AND claimed_at < ?",
                    (pid, cutoff),
                )

    def _release(self, delivery_tag) -> None:
        row_id = _row_id(delivery_tag)
        if row_id is not None:
            self._write(
                "UPDATE message SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", (row_id,)
            )

    def _remove(self, delivery_tag) -> None:
        row_id = _row_id(delivery_tag)
        if row_id is not None:
            self._write("DELETE FROM message WHERE id = ?", (row_id,))

    def _purge(self, queue):
        return self._write(
            "DELETE FROM message WHERE queue = ? AND claimed_by IS NULL", (queue,)
        ).rowcount

    def _size(self, queue):
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM message WHERE queue = ? AND claimed_by IS NULL", (queue,)
            ).fetchone()[0]

    # --- acknowledgements -------------------------------------------------------------------
    def basic_ack(self, delivery_tag, multiple=False):
        self._remove(delivery_tag)
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag, requeue=False):
        if not requeue:
            self._remove(delivery_tag)
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue: _restore_at_beginning

    def _restore(self, message):
        self._release(message.delivery_tag)

    def close(self):
        super().close()  # restores unacked messages first (releases their claims)
        with self._lock:
            if self._db is not None and self._db_pid == os.getpid():
                self._db.close()
            self._db = None


def _row_id(delivery_tag) -> int | None:
    if isinstance(delivery_tag, str) and delivery_tag.startswith("sqlite:"):
        return int(delivery_tag.removeprefix("sqlite:"))
    return None


class Transport(virtual.Transport):
    Channel = Channel
    can_parse_url = True
    polling_interval = 0.1
    default_port = 0
    driver_type = "sqlite"
    driver_name = "sqlite3"
    connection_errors = (*virtual.Transport.connection_errors, sqlite3.OperationalError)

    def driver_version(self):
        return sqlite3.sqlite_version
