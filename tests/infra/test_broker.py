"""The embedded broker (apps/core/broker.py): kombu on one SQLite file, used by `make run`.

Real processes publish and consume through kombu, as the web server, beat and the worker do.
No database or server is needed, so these run everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
TRANSPORT = "apps.core.broker:Transport"

# A child process: publish or consume through the embedded broker, one JSON line per message.
SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, signal, sys
    from kombu import Connection, Exchange, Queue
    url, role, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    queue = Queue("q", Exchange("q"), routing_key="q")
    with Connection(url, transport="apps.core.broker:Transport") as conn:
        if role == "publish":  # arg: "<prefix>:<count>:<payload bytes>"
            prefix, count, size = arg.split(":")
            producer = conn.Producer()
            for i in range(int(count)):
                blob = (f"{prefix}-{i}-" * (int(size) // 8 + 1))[: int(size)]
                producer.publish(
                    {"id": f"{prefix}-{i}", "blob": blob,
                     "sha": hashlib.sha256(blob.encode()).hexdigest()},
                    exchange=queue.exchange, routing_key="q", declare=[queue], serializer="json",
                )
        elif role == "consume":  # arg: seconds of silence before stopping
            def on_message(body, message):
                ok = hashlib.sha256(body["blob"].encode()).hexdigest() == body["sha"]
                print(json.dumps({"id": body["id"], "ok": ok}), flush=True)
                message.ack()
            with conn.Consumer(queue, callbacks=[on_message]):
                while True:
                    try:
                        conn.drain_events(timeout=float(arg))
                    except TimeoutError:  # socket.timeout: silence, everything is taken
                        break
        elif role == "die":  # take one message, never ack it, and die by SIGKILL
            def on_message(body, message):
                print(json.dumps({"id": body["id"]}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            with conn.Consumer(queue, callbacks=[on_message]):
                conn.drain_events(timeout=10)
    """
)


def child(url: str, role: str, arg: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url, role, arg],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'broker.sqlite3'}"


def rows(url: str) -> list[tuple]:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT queue, claimed_by FROM message ORDER BY id").fetchall()


def publish(conn: Connection, *bodies: dict) -> Queue:
    queue = Queue("q", Exchange("q"), routing_key="q")
    producer = conn.Producer()
    for body in bodies:
        producer.publish(
            body, exchange=queue.exchange, routing_key="q", declare=[queue], serializer="json"
        )
    return queue


def take(conn: Connection, queue: Queue, n: int) -> list:
    got = []
    with conn.Consumer(queue, callbacks=[lambda body, message: got.append((body, message))]):
        while len(got) < n:
            conn.drain_events(timeout=5)
    return got


def test_a_message_goes_through_and_its_ack_deletes_it(url):
    # given two published messages
    with Connection(url, transport=TRANSPORT) as conn:
        queue = publish(conn, {"n": 1}, {"n": 2})
        assert [q for q, _ in rows(url)] == ["q", "q"]

        # when a consumer takes both and acks only the first
        (b1, m1), (b2, m2) = take(conn, queue, 2)
        m1.ack()

        # then they came in order, and only the acked one left the file; the other is claimed
        assert (b1, b2) == ({"n": 1}, {"n": 2})
        assert rows(url) == [("q", os.getpid())]
        m2.ack()
    assert rows(url) == []


def test_an_unacked_message_comes_back_after_a_warm_close_and_a_requeue(url):
    # given a message taken and not acked when the connection closes (a worker's warm shutdown)
    with Connection(url, transport=TRANSPORT) as conn:
        queue = publish(conn, {"n": 1}, {"n": 2})
        [(body, message)] = take(conn, queue, 1)
        assert body == {"n": 1} and not message.delivery_info.get("redelivered")

    with Connection(url, transport=TRANSPORT) as conn:
        # then the next consumer gets it again, marked redelivered
        [(body, message)] = take(conn, queue, 1)
        assert body == {"n": 1} and message.delivery_info["redelivered"] is True

        # and a reject with requeue gives it back once more; without requeue it is dropped
        message.reject(requeue=True)
        [(body, message)] = take(conn, queue, 1)
        assert body == {"n": 1}
        message.reject(requeue=False)
        [(body, message)] = take(conn, queue, 1)
        assert body == {"n": 2}
        message.ack()
    assert rows(url) == []


def test_a_message_held_by_a_killed_consumer_is_delivered_again(url):
    # given a message that a consumer took and then died with (SIGKILL, no warm shutdown)
    with Connection(url, transport=TRANSPORT) as conn:
        queue = publish(conn, {"id": "m1", "blob": "", "sha": ""})
    dying = child(url, "die", "")
    out, err = dying.communicate(timeout=60)
    assert dying.returncode == -signal.SIGKILL, err
    assert json.loads(out.splitlines()[0])["id"] == "m1"
    assert rows(url) == [("q", dying.pid)]  # still claimed by the dead process

    # when another consumer polls
    with Connection(url, transport=TRANSPORT) as conn:
        [(body, message)] = take(conn, queue, 1)

        # then it gets the message again, marked redelivered (Celery's reject_on_worker_lost
        # does not requeue a redelivered task a second time)
        assert body["id"] == "m1"
        assert message.delivery_info["redelivered"] is True
        message.ack()
    assert rows(url) == []


def test_concurrent_publishers_and_consumers_lose_nothing_and_deliver_each_message_once(url):
    # given three processes publishing 150 messages of 64 KB each at once (the web server,
    # beat and the worker publish concurrently in `make run`), and two consumers taking them
    publishers = [child(url, "publish", f"p{k}:150:65536") for k in range(3)]
    consumers = [child(url, "consume", "8") for _ in range(2)]

    # when everything has been published and the consumers fall silent
    for proc in publishers:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"a publisher failed:\n{err}"
    seen: list[str] = []
    for proc in consumers:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"a consumer failed:\n{err}"
        assert "database is locked" not in err
        lines = [json.loads(line) for line in out.splitlines()]
        # then every message a consumer saw was whole (its checksum matches)
        assert all(line["ok"] for line in lines), "a message was read half-written"
        seen += [line["id"] for line in lines]

    # and each of the 450 came out exactly once, across both consumers, and none is left
    expected = {f"p{k}-{i}" for k in range(3) for i in range(150)}
    assert len(seen) == len(set(seen)), "a message was delivered twice"
    assert set(seen) == expected
    assert rows(url) == []


def settings_of(env: dict[str, str], module: str = "config.settings.local") -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'url': s.CELERY_BROKER_URL, "
        "'transport': getattr(s, 'CELERY_BROKER_TRANSPORT', None), 'debug': s.DEBUG}))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_default_broker_is_the_embedded_one_beside_the_database_and_debug_is_off(tmp_path):
    # SQLite file: the broker is a file beside it, so another database gets another broker
    s = settings_of({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert s == {
        "url": f"sqlite:///{tmp_path / 'db.sqlite3'}-broker",
        "transport": TRANSPORT,
        "debug": False,  # `make run` shows the product's error pages unless DEBUG=1
    }
    # PostgreSQL without a broker URL: one file per database name under .broker/
    s = settings_of({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/shop", "DEBUG": "1"})
    assert s == {
        "url": f"sqlite:///{BASE_DIR / '.broker' / 'shop.sqlite3'}",
        "transport": TRANSPORT,
        "debug": True,
    }
    # a Redis URL is used as given, with kombu's own transport
    s = settings_of({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/9"})
    assert (s["url"], s["transport"]) == ("redis://127.0.0.1:6379/9", None)
