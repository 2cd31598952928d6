"""`skewless run`, the continuous job, as users run it (subprocesses of the real CLI):

* Kafka (tansu broker, 2 partitions) + SIGKILL mid-stream + restart from the recovery store: the
  final online store answers exactly what an uninterrupted run's store answers;
* two processes of one Bytewax cluster on loopback sharing the Kafka partitions: same store;
* a followed JSONL file: an appended event is readable online while the job keeps running (no end
  of input, the watermark has not passed it); SIGTERM stops cleanly; the restart resumes.

The reference store comes from the reference driver (`replay_rows`, no Bytewax), whose per-event
rows and reads the oracle tests check against Postgres."""

from __future__ import annotations

import json

from tests.support.compare import table
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.kafka_local import consume_all, create_topic, produce
from skewless.runtime.pg_local import free_port
from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stream.online import read_as_of
from tests.support.stores import decoded_events, diff_stores, reference_store, store_answers

pytestmark = pytest.mark.kafka
EXAMPLE = Path(__file__).parents[2] / "features"
BAD = [b"{not json", json.dumps({"txn_id": "bad", "user_id": "u1", "amount": "lots",
                                 "ts": "2026-10-01T00:00:00Z"}).encode()]


def make_project(root: Path, events: int, topic: str, seed: int) -> Path:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=events, days=2, seed=seed)), root / "data")
    sources = next((root / "sources").glob("*.yml"))
    sources.write_text(sources.read_text().replace("topic: transactions", f"topic: {topic}"))
    return root


def skewless(project: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"}, **kw)


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, errs = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}: {out}\n{errs}"
    return out


def store_rows(path: Path) -> int:
    if not path.exists():
        return 0
    store = SQLiteStore(path)
    try:
        return store.conn.execute("SELECT count(*) FROM skewless_online").fetchone()[0]
    except Exception:  # noqa: BLE001 - table not created yet
        return 0
    finally:
        store.close()


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def expected_answers(project: Path, tmp: Path):
    compiled = build_project(load_project(project))
    events = {src: decoded_events(compiled, project / "data" / f"{src}.jsonl", src) for src in compiled.project.sources}
    ref = reference_store(compiled, events, tmp / "reference.sqlite", sorted(compiled.views))
    answers = store_answers(ref, compiled)
    ref.close()
    return compiled, answers


def got_answers(compiled, project: Path):
    store = SQLiteStore(project / "target" / "online.sqlite")
    answers = store_answers(store, compiled)
    store.close()
    return answers


def test_sigkill_mid_stream_then_restart_equals_an_uninterrupted_run(tmp_path, kafka_broker):
    project = make_project(tmp_path / "p", 8000, "tx_kill", seed=11)
    create_topic(kafka_broker, "tx_kill", partitions=2)
    lines = (project / "data" / "transactions.jsonl").read_bytes().splitlines()
    produce(kafka_broker, "tx_kill", lines[:100] + BAD + lines[100:], partitions=2)
    compiled, expected = expected_answers(project, tmp_path)
    store_path = project / "target" / "online.sqlite"

    args = ["run", "--source", "kafka", "--brokers", kafka_broker, "--snapshot-every", "0.2", "--no-progress"]
    first = skewless(project, *args)
    wait_for(lambda: store_rows(store_path) > 0 or first.poll() is not None, 120, "the first store writes")
    time.sleep(0.6)  # a few snapshots
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    killed = got_answers(compiled, project)
    assert diff_stores(expected, killed), "the job had already finished when it was killed: not mid-stream"

    out = finish(skewless(project, *args, "--until-end"))
    assert "stopped (end of input)" in out
    problems = diff_stores(expected, got_answers(compiled, project))
    assert not problems, problems[:5]
    dead = [json.loads(x) for x in (project / "target" / "dead_letters.jsonl").read_text().splitlines()]
    reasons = {d["reason"] for d in dead}
    assert any(r.startswith("invalid JSON") for r in reasons), reasons
    assert any("column 'amount'" in r for r in reasons), reasons
    assert not any(r.startswith("late") for r in reasons), reasons


def test_two_processes_of_two_workers_share_the_partitions(tmp_path, kafka_broker):
    """A Kafka target from profiles.yml, dead letters to a Kafka topic."""
    project = make_project(tmp_path / "p", 4000, "tx_cluster", seed=12)
    with open(project / "profiles.yml", "a") as fh:
        fh.write(f"    cluster:\n      stream: {{kind: kafka, brokers: ['{kafka_broker}'], dead_letter_topic: tx_dead}}\n")
    create_topic(kafka_broker, "tx_cluster", partitions=2)
    create_topic(kafka_broker, "tx_dead", partitions=1)
    produce(kafka_broker, "tx_cluster", BAD + (project / "data" / "transactions.jsonl").read_bytes().splitlines(),
            partitions=2)
    compiled, expected = expected_answers(project, tmp_path)
    addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    procs = [skewless(project, "--target", "cluster", "run", "--until-end", "--no-progress",
                      "--addresses", addresses, "--process-id", str(i), "-w", "2") for i in range(2)]
    outs = [finish(p) for p in procs]
    counted = sum(int(o.split(" events")[0].split(":")[-1].replace(",", "")) for o in outs)
    assert counted == 4000, outs  # each event entered exactly one process
    malformed = sum(int(re.search(r"([\d,]+) malformed", o).group(1)) for o in outs)
    assert malformed == len(BAD), outs
    written = [int(re.search(r"([\d,]+) states written", o).group(1).replace(",", "")) for o in outs]
    assert all(n > 0 for n in written), f"keys were not spread over both processes: {outs}"
    problems = diff_stores(expected, got_answers(compiled, project))
    assert not problems, problems[:5]
    reasons = sorted(json.loads(m)["reason"] for m in consume_all(kafka_broker, "tx_dead"))
    assert len(reasons) == 2 and reasons[0].startswith("column 'amount'") and reasons[1].startswith("invalid JSON")


def test_followed_file_is_readable_at_once_and_sigterm_resumes(tmp_path):
    project = make_project(tmp_path / "p", 3000, "unused", seed=13)
    data = project / "data" / "transactions.jsonl"
    lines = data.read_bytes().splitlines(keepends=True)
    data.write_bytes(b"".join(lines[:1500]))
    compiled, _ = expected_answers(project, tmp_path)  # compiles the project
    store_path = project / "target" / "online.sqlite"

    job = skewless(project, "run", "--no-progress", "--snapshot-every", "0.2")
    wait_for(lambda: store_rows(store_path) > 0, 120, "the first store writes")
    last = json.loads(lines[1499])
    probe = {**last, "txn_id": "probe", "user_id": "probe_user", "amount": 7.5}
    with open(data, "ab") as fh:
        fh.write(json.dumps(probe).encode() + b"\n")
    view = compiled.views["user_velocity"]
    t = compiled.project.sources["transactions"]
    from skewless.runtime.sources.decode import Decoder

    at = Decoder(t).decode_obj(probe, "")["ts"]

    def probe_visible():
        store = SQLiteStore(store_path)
        try:
            return read_as_of(store, view, ["probe_user"], at)["txn_count_1h"] == 1
        finally:
            store.close()

    wait_for(probe_visible, 60, "the appended event in the online store")  # the watermark has not passed it
    assert job.poll() is None, "the job must keep running"
    job.send_signal(signal.SIGTERM)
    out = finish(job, 60)
    assert "stopped (SIGTERM)" in out

    with open(data, "ab") as fh:
        fh.write(b"".join(lines[1500:]))
    finish(skewless(project, "run", "--no-progress", "--until-end"))
    (tmp_path / "again").mkdir()
    _, expected = expected_answers(project, tmp_path / "again")
    problems = diff_stores(expected, got_answers(compiled, project))
    assert not problems, problems[:5]


def test_views_over_ref_stream_keyed_alike_or_re_keyed(tmp_path):
    project = make_project(tmp_path / "p", 500, "unused", seed=14)
    (project / "features" / "user_lifetime.sql").write_text(
        "SELECT txn_id, user_id, ts,\n  SUM(txn_count_1h) OVER (PARTITION BY user_id ORDER BY ts) AS s\n"
        "FROM {{ ref('user_velocity') }}\n")
    (project / "features" / "by_count.sql").write_text(
        "SELECT txn_id, txn_count_1h, ts,\n  COUNT(*) OVER (PARTITION BY txn_count_1h ORDER BY ts) AS c\n"
        "FROM {{ ref('user_velocity') }}\n")
    selected = skewless(project, "replay", "-s", "by_count")
    out, errs = selected.communicate(timeout=120)
    assert selected.returncode == 0, errs
    assert "streamed 1 views" in out  # by_count re-keys user_velocity's rows (its chain runs with it)
    everything = skewless(project, "replay")
    out, errs = everything.communicate(timeout=300)
    assert everything.returncode == 0, errs
    assert "not streamed" not in errs


def test_unreachable_broker_is_a_clear_error(tmp_path):
    project = make_project(tmp_path / "p", 100, "unused", seed=15)
    proc = skewless(project, "run", "--source", "kafka", "--brokers", f"127.0.0.1:{free_port()}", "--no-progress")
    out, errs = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "kafka:1:1: error: cannot reach Kafka brokers 127.0.0.1:" in errs and "Traceback" not in errs


@pytest.mark.postgres
def test_run_into_the_postgres_online_store(tmp_path, kafka_broker, pg_dsn):
    """The production layout: Kafka in, Postgres online store out (batched upserts)."""
    from skewless.runtime.stores.postgres_store import PostgresStore

    project = make_project(tmp_path / "p", 3000, "tx_pg", seed=16)
    prefix = "run_pg_"
    with open(project / "profiles.yml", "a") as fh:
        fh.write(f"    pg:\n      stream: {{kind: kafka, brokers: ['{kafka_broker}']}}\n"
                 f"      online: {{store: postgres, dsn: '{pg_dsn}', table_prefix: {prefix}}}\n")
    create_topic(kafka_broker, "tx_pg", partitions=2)
    produce(kafka_broker, "tx_pg", (project / "data" / "transactions.jsonl").read_bytes().splitlines(), partitions=2)
    compiled, expected = expected_answers(project, tmp_path)
    finish(skewless(project, "--target", "pg", "run", "--until-end", "--no-progress"))
    store = PostgresStore(pg_dsn, prefix)
    try:
        problems = diff_stores(expected, store_answers(store, compiled, table=f"{prefix}online"))
    finally:
        store.close()
    assert not problems, problems[:5]


def test_progress_table_shows_counts_lag_and_watermark():
    from datetime import datetime, timezone

    from bytewax.connectors.kafka import BYTEWAX_CONSUMER_LAG_GAUGE
    from rich.console import Console

    from skewless.runtime.cli_stream import _kafka_lag, _progress_table
    from skewless.runtime.stream.dataflow import StreamStats

    before = _kafka_lag() or 0
    BYTEWAX_CONSUMER_LAG_GAUGE.labels(step_id="t", topic="progress_test", partition=0).set(42)
    assert _kafka_lag() == before + 42
    stats = StreamStats(events=1234, dead=5, late=7, written=99)
    stats.max_event["transactions"] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stats.watermark["transactions"] = datetime(2025, 12, 31, 23, 58, tzinfo=timezone.utc)
    console = Console(width=250, record=True)
    console.print(_progress_table(stats, 321.0))
    text = console.export_text()
    for part in ("1,234", "321", "99", f"{before + 42:,}", "transactions", "2026-01-01T00:00:00+00:00",
                 "2025-12-31T23:58:00+00:00"):
        assert part in text, (part, text)


@pytest.mark.postgres
def test_views_over_two_sources_run_in_one_dataflow(tmp_path, oracle_engines):
    """Each source has its own input, watermark and keyed steps; their views stay exact: the
    per-event rows of `run --out` equal each view's own SQL run by Postgres (DuckDB for
    COUNT(DISTINCT) OVER) on the same events."""
    project = make_project(tmp_path / "p", 2000, "unused", seed=17)
    (project / "features" / "label_rates.sql").write_text(
        "SELECT txn_id, user_id, ts,\n"
        "  COUNT(*) FILTER (WHERE is_fraud) OVER (PARTITION BY user_id ORDER BY ts\n"
        "    RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS frauds_1d,\n"
        "  AVG(amount) OVER (PARTITION BY user_id ORDER BY ts\n"
        "    RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS labelled_amount_1h\n"
        "FROM {{ source('labels') }}\n")
    compiled, expected = expected_answers(project, tmp_path)
    assert any(view == "label_rates" for view, _ in expected)
    finish(skewless(project, "run", "--until-end", "--no-progress", "--out", str(tmp_path / "rows")))
    problems = diff_stores(expected, got_answers(compiled, project))
    assert not problems, problems[:5]
    # per-event rows (--out) against the databases running the view's SQL
    from datetime import datetime

    from skewless.runtime.parity import compare
    from skewless.runtime.sources.files import read_batch_source
    from skewless.runtime.stream.sinks import view_schema

    from skewless.runtime.batch_jobs import register_sources
    from skewless.runtime.parity import oracle_for, register_original_views

    pg, duck = oracle_engines
    for name in compiled.project.sources:
        src = compiled.project.sources[name]
        for engine in (pg, duck):
            engine.register(name, read_batch_source(src, project), src.column_types())
    for engine in (pg, duck):
        register_sources(engine, compiled, set(compiled.project.dimensions))
    for name, view in compiled.views.items():
        oracle = oracle_for(compiled, name, pg, duck)  # DuckDB for COUNT(DISTINCT) OVER, up a ref() chain too
        register_original_views(oracle, compiled, name)
        expected = oracle.query(compiled.views[name].sql)
        rows = [json.loads(x) for f in (tmp_path / "rows").glob(f"{name}.*.jsonl") for x in f.read_text().splitlines()]
        for row in rows:
            for c in view.columns:
                if c.type == "timestamptz" and row[c.name] is not None:
                    row[c.name] = datetime.fromisoformat(row[c.name])
        got = table(rows, view_schema(view))
        assert got.num_rows == expected.num_rows > 0, name
        problems = compare(expected, got, [c.name for c in view.columns if c.kind == "passthrough"])
        assert not problems, f"{name}: {problems[:5]}"
    duck.execute('DROP VIEW IF EXISTS "user_velocity"')  # the ref() target registered above, on the shared oracle
