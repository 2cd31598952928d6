"""Outages of ~30 s while a continuous job runs: the Postgres online store and the Kafka broker are
cut off (a loopback proxy drops every connection and refuses new ones) and come back. The job stays
up, says which component is down (structured log), holds its position and resumes; afterwards every
per-event row and online read equals Postgres on the same events: nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from skewless.runtime.stores.postgres_store import PostgresStore

from .support import (VIEWS, Proxy, compare_per_event, compare_store, compile_project, good_events, line, load_pg,
                      make_project, per_event_rows)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
OUTAGE = float(os.environ.get("SKEWLESS_FAULT_OUTAGE_S", "30"))


def _cli(root: Path, target: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "--target", target, "run",
            "--no-progress", "--out", str(root / "rows"), *args]


def _verify(root: Path, rows: list[dict], store, pg) -> dict:
    compiled = compile_project(root)
    problems, compared = [], 0
    load_pg(pg, rows)
    for view in VIEWS:
        got, _ = per_event_rows(root / "rows", view)
        problems += compare_per_event(pg, compiled, view, got)
        compared += len(got)
    users = sorted({r["user_id"] for r in rows})
    last = {u: max(r["ts"] for r in rows if r["user_id"] == u) for u in users}
    reads, store_problems = compare_store(pg, compiled, store, list(VIEWS), users, last)
    assert not problems + store_problems, "\n".join(problems + store_problems)
    return {"per-event rows compared": compared, "online reads compared": reads}


def _outage(proxy: Proxy, job: subprocess.Popen, seconds: float) -> None:
    proxy.cut()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert job.poll() is None, "the job died during the outage: " + "".join(job.communicate())
        time.sleep(0.5)
    proxy.restore()


def _run_through_outage(root: Path, proxy: Proxy, target: str, feed, warmup: float, fed_within: float) -> tuple[float, str]:
    """Start `run` on ``target``, feed it (``feed(done)`` in a thread), cut ``proxy`` for OUTAGE
    seconds once ``warmup`` has passed, stop the job with SIGTERM once fed (it must exit 0) and
    drain the rest with ``--until-end``. Returns (seconds down, the job's log)."""
    done = threading.Event()
    with open(root / "job.log", "w") as log:
        job = subprocess.Popen(_cli(root, target), stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "COLUMNS": "200"})
        threading.Thread(target=feed, args=(done,), daemon=True).start()
        time.sleep(warmup)
        started = time.monotonic()
        _outage(proxy, job, OUTAGE)
        down = time.monotonic() - started
        assert done.wait(timeout=fed_within)
        time.sleep(3)
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=120) == 0, (root / "job.log").read_text()[-3000:]
    final = subprocess.run(_cli(root, target, "--until-end"), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    return down, (root / "job.log").read_text()


def test_postgres_online_store_outage(tmp_path, pg_dsn):
    host_port = pg_dsn.split("@")[-1].split("/")[0]
    proxy = Proxy(int(host_port.rsplit(":", 1)[1]))
    proxied = pg_dsn.replace(host_port, f"127.0.0.1:{proxy.port}")
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS outage_online")  # the suite's own store table
    root = make_project(tmp_path / "p", follow=True, profile_extra=(
        "    pg:\n      online: {store: postgres, dsn: '" + proxied + "', table_prefix: outage_}\n"
        "      stream: {kind: file, follow: true}\n"))
    good = good_events(12_000, users=60, seed=31, start=datetime(2026, 6, 1, tzinfo=timezone.utc))
    data = root / "data" / "tx.jsonl"
    data.write_bytes(b"")

    def writer(done):
        with open(data, "ab") as fh:
            for i in range(0, len(good), 100):
                fh.write(b"".join(line(r) + b"\n" for r in good[i:i + 100]))
                fh.flush()
                time.sleep(0.05 * (OUTAGE / 30) + 0.02)
        done.set()

    down, text = _run_through_outage(root, proxy, "pg", writer, warmup=5, fed_within=300)
    assert "component.unavailable" in text and "online store (postgres)" in text, text[-2000:]
    assert "component.recovered" in text, text[-2000:]
    store = PostgresStore(pg_dsn, "outage_")
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        summary = _verify(root, good, store, pg)
    store.close()
    proxy.close()
    print(f"\noutage postgres store: {down:.0f} s down; {len(good):,} events; {summary}; "
          f"{text.count('component.unavailable')} retry warnings")


@pytest.mark.kafka
def test_kafka_broker_outage(tmp_path, pg_dsn):
    from skewless.runtime.kafka_local import consume_all, create_topic, local_broker
    from skewless.runtime.pg_local import free_port

    broker_port = free_port()
    proxy = Proxy(broker_port)
    topic = "tx_outage"
    with local_broker(port=broker_port, advertised_port=proxy.port):
        address = f"127.0.0.1:{proxy.port}"
        create_topic(address, topic, partitions=2)
        root = make_project(tmp_path / "p", topic=topic, profile_extra=(
            "    kafka:\n      online: {store: sqlite, path: target/online.sqlite}\n"
            f"      stream: {{kind: kafka, brokers: ['{address}']}}\n"))
        good = good_events(12_000, users=60, seed=32, start=datetime(2026, 6, 1, tzinfo=timezone.utc))

        def producer(done):
            from confluent_kafka import Producer

            # idempotent, as docs/stream.md asks of producers: the cut must not duplicate a batch
            p = Producer({"bootstrap.servers": address, "linger.ms": 5, "message.timeout.ms": 300_000, "log_level": 4,
                          "enable.idempotence": True})
            for i, r in enumerate(good):
                while True:
                    try:
                        p.produce(topic, value=line(r), partition=i % 2)
                        break
                    except BufferError:
                        p.poll(0.1)
                if i % 100 == 99:
                    p.poll(0)
                    time.sleep(0.05 * (OUTAGE / 30) + 0.02)
            assert p.flush(300) == 0
            done.set()

        down, text = _run_through_outage(root, proxy, "kafka", producer, warmup=8, fed_within=400)
        # the quiet partitions were not taken for idle ones: the watermark held, nothing was late
        assert "component.unavailable" in text and "kafka tx_outage" in text, text[-2000:]
        assert ", 0 late," in text, text[-2000:]
        # an idempotent producer: a batch whose acknowledgement the cut lost is not written twice
        # (a non-idempotent one did that: 50 more events than produced, most of them late)
        values = consume_all(address, topic)
        assert len(values) == len(set(values)) == len(good), (len(values), len(set(values)))
    from skewless.runtime.stores import SQLiteStore

    dead = root / "target" / "dead_letters.jsonl"
    dead_reasons = [json.loads(t)["reason"] for t in dead.read_text().splitlines()] if dead.exists() else []
    store = SQLiteStore(root / "target" / "online.sqlite")
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        summary = _verify(root, good, store, pg)
    store.close()
    proxy.close()
    print(f"\noutage kafka broker: {down:.0f} s down; {len(good):,} events; {summary}; dead letters {len(dead_reasons)} "
          f"{sorted(set(r[:60] for r in dead_reasons))[:5]}")
