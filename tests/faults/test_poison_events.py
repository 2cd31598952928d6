"""Poison events of every category through `skewless run` on a file and on Kafka: the job stays up
and exits 0, each bad record is a dead letter with its reason, and the good events' per-event
rows and online reads equal Postgres running the views' own SQL (and the as-of definition) on
those events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from skewless.runtime.kafka_local import consume_all, create_topic, produce
from skewless.runtime.sources.decode import Decoder
from skewless.runtime.stores import SQLiteStore

from .support import (DIV_VIEW, VIEWS, compare_per_event, compare_store, compile_project, good_events, load_pg, make_project, mix, per_event_rows, poison)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
EXPECTED = {"invalid JSON": 3, "not a JSON object": 1, "invalid UTF-8": 1, "missing timestamp column 'ts'": 1,
            "future": 1, "late": 1}


def _run(root: Path, *args: str, target: str = "dev", timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "--target", target,
                           "run", "--until-end", "--no-progress", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def _check(root: Path, lines: list[bytes], dead: list[dict], pg) -> dict:
    compiled = compile_project(root)
    decoder = Decoder(compiled.project.sources["tx"])
    decoded = [decoder.decode_json(raw) for raw in lines]
    rows = [r for r in decoded if isinstance(r, dict) and r["txn_id"] != "p0021"]  # p0021: the late event
    reasons = {}
    for d in dead:
        r = d["reason"]
        key = next((k for k in EXPECTED if r.startswith(k)), None)
        if key is None:
            key = "column" if r.startswith("column") else ("view overflow" if "out of range" in r else
                                                          "view division by zero" if "division by zero" in r else r)
        reasons[key] = reasons.get(key, 0) + 1
    for key, n in EXPECTED.items():
        assert reasons.get(key) == n, (key, reasons)
    assert reasons.get("column") == 10, reasons
    assert reasons.get("view division by zero") == 1, reasons       # v_div's WHERE 100 / n for n = 0
    assert reasons.get("view overflow", 0) >= 2, reasons             # SUM of two 1.7e308
    unexplained = set(reasons) - set(EXPECTED) - {"column", "view division by zero", "view overflow"}
    assert not unexplained, reasons
    out = root / "rows"
    problems = []
    load_pg(pg, [r for r in rows if r["user_id"] != "u_ovf"])     # Postgres refuses the overflowing SUM
    for view in VIEWS:
        got, _ = per_event_rows(out, view)
        problems += compare_per_event(pg, compiled, view, got, skip_users={"u_ovf"})
    store = SQLiteStore(root / "target" / "online.sqlite")
    users = sorted({r["user_id"] for r in rows} - {"u_ovf"})
    last = {u: max(r["ts"] for r in rows if r["user_id"] == u) for u in users}
    reads, store_problems = compare_store(pg, compiled, store, list(VIEWS), users, last)
    store.close()
    problems += store_problems
    load_pg(pg, [r for r in rows if r["user_id"] != "u_ovf" and r["n"] != 0])  # 100 / 0 in v_div's WHERE
    got, _ = per_event_rows(out, "v_div")
    problems += compare_per_event(pg, compiled, "v_div", got, skip_users={"u_ovf"})
    assert not problems, "\n".join(problems)
    return {"events": len(lines), "dead letters": len(dead), "by reason": reasons, "online reads compared": reads}


@pytest.fixture(scope="module")
def pg(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


def _events():
    good = good_events(3000, users=40, seed=8)
    bad = poison(good[0]["ts"], max(r["ts"] for r in good))
    return mix(good, bad, seed=9)


def test_poison_through_a_file_run(tmp_path, pg):
    root = make_project(tmp_path / "p", views={**VIEWS, "v_div": DIV_VIEW})
    lines = _events()
    (root / "data" / "tx.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    proc = _run(root, "--out", str(root / "rows"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dead = [json.loads(t) for t in (root / "target" / "dead_letters.jsonl").read_text().splitlines() if t.strip()]
    summary = _check(root, lines, dead, pg)
    print(f"\npoison (file): {summary}")


@pytest.mark.kafka
def test_poison_through_a_kafka_run(tmp_path, pg, kafka_broker):
    topic, dlq = "tx_poison", "tx_poison_dead"
    root = make_project(tmp_path / "p", topic=topic, views={**VIEWS, "v_div": DIV_VIEW}, profile_extra=(
        f"    kafka:\n      online: {{store: sqlite, path: target/online.sqlite}}\n"
        f"      stream: {{kind: kafka, brokers: ['{kafka_broker}'], dead_letter_topic: {dlq}}}\n"))
    create_topic(kafka_broker, topic, partitions=2)
    create_topic(kafka_broker, dlq, partitions=1)
    lines = _events()
    produce(kafka_broker, topic, lines, partitions=2)
    proc = _run(root, "--out", str(root / "rows"), target="kafka")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dead = [json.loads(m) for m in consume_all(kafka_broker, dlq)]
    summary = _check(root, lines, dead, pg)
    print(f"\npoison (kafka): {summary}")
