"""SIGKILL at random points: a continuous `skewless run` follows a JSONL file that keeps growing
(200,000 events plus poison), and is killed with SIGKILL at ≥10 random moments and restarted from
its recovery directory each time; a last start drains the file. Then every per-event row (at least
once: repeats must be identical) equals the views' own SQL on Postgres, and every online read
(each user at its latest event, 1 µs and 1 h later) equals the as-of definition on Postgres.
Nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from skewless.runtime.sources.decode import Decoder
from skewless.runtime.stores import SQLiteStore

from .support import (VIEWS, compare_per_event, compare_store, compile_project, good_events, load_pg, make_project,
                      mix, per_event_rows, poison, read_jsonl)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
EVENTS = int(os.environ.get("SKEWLESS_FAULT_EVENTS", "200000"))
KILLS = int(os.environ.get("SKEWLESS_FAULT_KILLS", "10"))


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "run",
                             "--no-progress", "--out", str(root / "rows"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path, pg_dsn):
    rnd = random.Random(2026)
    root = make_project(tmp_path / "p", follow=True)
    good = good_events(EVENTS, users=500, seed=17, start=datetime(2025, 10, 1, tzinfo=timezone.utc))
    assert max(r["ts"] for r in good) < datetime(2026, 10, 1, tzinfo=timezone.utc)  # none beyond max_future
    lines = [raw for raw in mix(good, poison(good[0]["ts"], max(r["ts"] for r in good)), seed=18)]
    data = root / "data" / "tx.jsonl"
    data.write_bytes(b"")
    written = threading.Event()

    def writer():  # the file grows while the job is killed and restarted
        with open(data, "ab") as fh:
            step = max(len(lines) // 400, 1)
            for i in range(0, len(lines), step):
                fh.write(b"".join(raw + b"\n" for raw in lines[i:i + step]))
                fh.flush()
                time.sleep(0.12)
        written.set()

    threading.Thread(target=writer, daemon=True).start()
    kills, started = 0, time.monotonic()
    while kills < KILLS:
        proc = _start(root)
        time.sleep(rnd.uniform(2.0, 6.0))
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    assert written.wait(timeout=600)
    final = _start(root, "--until-end")
    out, err = final.communicate(timeout=900)
    assert final.returncode == 0, out + err
    elapsed = time.monotonic() - started

    compiled = compile_project(root)
    decoder = Decoder(compiled.project.sources["tx"])
    rows = [r for r in (decoder.decode_json(raw) for raw in lines) if isinstance(r, dict) and r["txn_id"] != "p0021"]
    skip = {"u_ovf"}
    problems, repeats, compared = [], {}, 0
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        load_pg(pg, [r for r in rows if r["user_id"] not in skip])
        for view in VIEWS:
            got, repeats[view] = per_event_rows(root / "rows", view, kills=KILLS)
            problems += compare_per_event(pg, compiled, view, got, skip_users=skip)
            compared += len(got)
        store = SQLiteStore(root / "target" / "online.sqlite")
        users = sorted({r["user_id"] for r in rows} - skip)
        last = {}
        for r in rows:
            if r["user_id"] not in skip and (r["user_id"] not in last or r["ts"] > last[r["user_id"]]):
                last[r["user_id"]] = r["ts"]
        reads, store_problems = compare_store(pg, compiled, store, list(VIEWS), users, last)
        store.close()
    problems += store_problems
    dead = [d["reason"].split(":")[0] for d in read_jsonl(root / "target" / "dead_letters.jsonl", kills=KILLS)]
    reasons = {r: dead.count(r) for r in set(dead)}
    allowed = ("column ", "invalid JSON", "invalid UTF-8", "not a JSON object", "missing timestamp", "future", "late",
               "view v_range", "view v_rows", "view v_day")
    assert all(r.startswith(allowed) for r in reasons), reasons
    assert reasons.get("late", 0) <= 1 * (kills + 1), reasons  # only the one late event (at least once)
    print(f"\nkills: {len(lines):,} events, {kills} SIGKILLs in {elapsed:.0f} s; per-event rows compared {compared:,} "
          f"(repeats after kills, identical: {repeats}); online reads compared {reads:,}; "
          f"dead letters {len(dead)} (at least once) {reasons}")
    assert not problems, "\n".join(problems)
