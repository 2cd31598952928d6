"""Warm starts (`skewless run`, the default): a key with no recovery state continues from its state in
the online store. A job running one view, then two more views seeded by `backfill --to-online` and
added to it, then the rest of the events: every online read and every per-event row of the last run
equals Postgres running the views' SQL over all events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from skewless.runtime.stores import SQLiteStore
from skewless.runtime.values import same
from tests.faults.support import (_num, compare_store, compile_project, good_events, line, load_pg, make_project,
                                  per_event_rows)

pytestmark = pytest.mark.postgres


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_seeded_and_added_views_continue_exactly(tmp_path, pg_dsn):
    root = make_project(tmp_path / "p")
    events = good_events(3000, users=30, seed=17)
    cut = sorted(e["ts"] for e in events)[len(events) * 3 // 5]
    history = [e for e in events if e["ts"] <= cut]
    live = [e for e in events if e["ts"] > cut]
    data = root / "data" / "tx.jsonl"
    data.write_bytes(b"\n".join(line(e) for e in history) + b"\n")

    _cli(root, "run", "--until-end", "--no-progress", "--select", "v_range")           # a running job
    _cli(root, "backfill", "--to-online", "--select", "v_rows", "--select", "v_day",  # two new views, seeded
         "--out", str(tmp_path / "backfill"))
    with data.open("ab") as fh:
        fh.write(b"\n".join(line(e) for e in live) + b"\n")
    _cli(root, "run", "--until-end", "--no-progress", "--out", str(tmp_path / "rows"))  # all three, warm

    compiled = compile_project(root)
    store = SQLiteStore(root / "target" / "online.sqlite")
    users = sorted({e["user_id"] for e in events})
    last = {u: max(e["ts"] for e in events if e["user_id"] == u) for u in users}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        load_pg(conn, events)
        reads, problems = compare_store(conn, compiled, store, ["v_range", "v_rows", "v_day"], users, last)
        assert reads == 3 * 3 * len(users) and not problems, problems
        live_ids = {e["txn_id"] for e in live}
        for name in ("v_range", "v_rows", "v_day"):
            got, _ = per_event_rows(tmp_path / "rows", name)
            assert set(got) == live_ids, name  # the last run computes only the events it was given
            cur = conn.execute(compiled.views[name].sql)
            cols = [d.name for d in cur.description]
            expected = {r[0]: dict(zip(cols, r)) for r in cur.fetchall() if r[0] in live_ids}
            features = [c.name for c in compiled.views[name].columns if c.kind == "feature"]
            bad = [(k, c, expected[k][c], got[k][c]) for k in live_ids for c in features
                   if not same(_num(expected[k][c]), got[k][c], 1e12)]
            assert not bad, (name, bad[:5])


def test_a_warm_start_refuses_states_of_a_changed_view(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "data" / "tx.jsonl").write_bytes(b"\n".join(line(e) for e in good_events(200, 5, 3)) + b"\n")
    _cli(root, "run", "--until-end", "--no-progress", "--no-recovery", "--select", "v_day")
    view = root / "features" / "v_day.sql"
    view.write_text(view.read_text().replace("INTERVAL '1 day'", "INTERVAL '2 days'"))
    warm = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "run", "--until-end",
                           "--no-progress", "--no-recovery", "--select", "v_day"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "300"})
    assert warm.returncode == 1 and "v_day.sql:1:1" in warm.stderr and "--cold" in warm.stderr, warm.stderr
    assert "Traceback" not in warm.stderr
    _cli(root, "run", "--until-end", "--no-progress", "--no-recovery", "--cold", "--select", "v_day")


def test_a_warm_start_on_a_record_of_another_format_stops_naming_the_view(tmp_path):
    import sqlite3

    from skewless.runtime.stream import codec

    root = make_project(tmp_path / "p")
    (root / "data" / "tx.jsonl").write_bytes(b"\n".join(line(e) for e in good_events(200, 5, 3)) + b"\n")
    _cli(root, "run", "--until-end", "--no-progress", "--no-recovery", "--select", "v_day")
    conn = sqlite3.connect(root / "target" / "online.sqlite")
    for entity, state in conn.execute("SELECT entity, state FROM skewless_online").fetchall():
        record = list(codec.unpack(state))
        record[1] = 1  # a record written by state format 1
        conn.execute("UPDATE skewless_online SET state = ? WHERE entity = ?", (codec.pack(tuple(record)), entity))
    conn.commit()
    conn.close()
    warm = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "run", "--until-end",
                           "--no-progress", "--no-recovery", "--select", "v_day"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "300"})
    assert warm.returncode == 1 and "v_day.sql:1:1" in warm.stderr and "state format 1" in warm.stderr, warm.stderr
    assert "Traceback" not in warm.stderr
