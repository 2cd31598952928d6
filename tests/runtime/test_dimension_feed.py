"""Dimension changes from Kafka (`sources/dimension_feed.py`): a continuous run over Kafka events
whose dimensions start from their batch files and follow their topics.

Timeline: changes produced before the job starts (read to the topic's end before any event) →
events A → changes while it runs (a static merchant changed and one added, only for merchants A
never paid; a versioned tier closed at T and its successor from T; a bad message; a version
overlapping another) → events B (all at or after T) → a far-future event that moves the watermark
past everything. Every per-event row then equals the views' own SQL run by Postgres over all
events with the *final* tables (the changes touch no row A already joined), the refused changes
are dead letters with their reasons, and the tables' files are untouched."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from skewless.runtime.kafka_local import create_topic, produce
from skewless.runtime.sources import dimension_feed
from skewless.runtime.sources.control import STOP
from skewless.runtime.stream.jobs import RunOptions, run_stream
from tests.runtime.test_dimension_joins import (M_SCHEMA, M_TYPES, SOURCES, T_SCHEMA, T_TYPES, _project, _write,
                                               tx_events_schema)
from tests.runtime.test_stream_run import wait_for
from tests.support.compare import diff
from tests.support.events import BASE, TYPES, tx_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

T = BASE + timedelta(hours=2)
VIEWS = ["by_category", "by_tier", "merchant_mix"]


def _jsonable(row: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


@given(events=tx_events(min_size=6, max_size=40))
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
def test_dimensions_follow_their_topics(tmp_path_factory, kafka_broker, oracle_engines, events):
    pg, _ = oracle_engines
    root = tmp_path_factory.mktemp("feed") / "proj"
    suffix = uuid.uuid4().hex[:8]
    topics = {"tx": f"tx_{suffix}", "merchants": f"merchants_{suffix}", "tiers": f"tiers_{suffix}"}
    _project(root)
    (root / "sources" / "sources.yml").write_text(
        SOURCES.replace("    stream: {file: data/tx.parquet}\n", f"    stream: {{topic: {topics['tx']}}}\n")
        .replace("    batch: {path: data/merchants.parquet}\n",
                 f"    batch: {{path: data/merchants.parquet}}\n    stream: {{topic: {topics['merchants']}}}\n")
        .replace("    batch: {path: data/tiers.csv}\n",
                 f"    batch: {{path: data/tiers.csv}}\n    stream: {{topic: {topics['tiers']}}}\n"))
    rows = events.sort_by("ts").to_pylist()
    # A: before T, never merchant m2 or m4 (their rows change while the job runs); B: at or after T
    a = [dict(r, merchant_id="m1" if r["merchant_id"] == "m2" else r["merchant_id"]) for r in rows if r["ts"] < T]
    b = [dict(r, ts=max(r["ts"], T), merchant_id="m4" if i % 3 == 0 else r["merchant_id"])
         for i, r in enumerate(rows) if r["ts"] >= T] or [dict(rows[-1], txn_id="tb", ts=T, merchant_id="m4")]
    sentinel = dict(rows[0], txn_id="zz_sentinel", user_id="zz", ts=T + timedelta(days=30))
    merchants = [{"id": "m1", "category": "food", "risk": 1.0}, {"id": "m2", "category": "blocked", "risk": 5.0},
                 {"id": "m3", "category": "travel", "risk": -1.5}]
    tiers = [{"merchant_id": "m1", "tier": 1, "valid_from": BASE - timedelta(days=1), "valid_to": None},
             {"merchant_id": "m3", "tier": 2, "valid_from": BASE - timedelta(days=1), "valid_to": BASE}]
    all_events = pa.Table.from_pylist(a + b + [sentinel], schema=events.schema)
    _write(root, all_events, pa.Table.from_pylist(merchants, schema=M_SCHEMA),
           pa.Table.from_pylist(tiers, schema=T_SCHEMA))
    files_before = {p.name: p.read_bytes() for p in (root / "data").iterdir() if p.name != "tx.parquet"}
    for topic in topics.values():
        create_topic(kafka_broker, topic)
    # before the start: m3's tier from BASE on (A's events see it: the topic is read first)
    before = [{"merchant_id": "m3", "tier": 3, "valid_from": BASE, "valid_to": None}]
    produce(kafka_broker, topics["tiers"], [_jsonable(r) for r in before])

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project

    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    produce(kafka_broker, topics["tx"], [_jsonable(r) for r in a])
    rows_dir = root / "target" / "rows"
    opts = RunOptions(views=VIEWS, kind="kafka", brokers=[kafka_broker], rows_dir=rows_dir, warm=False,
                      dead_letters=root / "target" / "dead.jsonl")
    from skewless.runtime.stream.dataflow import StreamStats

    stats, failed = StreamStats(), []

    def job():
        try:
            run_stream(compiled, opts, stats)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failed.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    try:
        wait_for(lambda: stats.events >= len(a) or failed, 60, "events A")
        assert not failed, failed
        feeds = {name: dimension_feed.fed(name) for name in ("merchants", "tiers")}
        assert all(feeds.values()) and feeds["tiers"].applied == 1  # the change made before the start
        changes_m = [{"id": "m2", "category": "food", "risk": 2.0}, {"id": "m4", "category": "travel", "risk": 0.5},
                     "{not json"]
        changes_t = [{"merchant_id": "m1", "tier": 1, "valid_from": BASE - timedelta(days=1), "valid_to": T},
                     {"merchant_id": "m1", "tier": 0, "valid_from": T, "valid_to": None},
                     {"merchant_id": "m2", "tier": 2, "valid_from": T, "valid_to": None},
                     {"merchant_id": "m3", "tier": 1, "valid_from": BASE + timedelta(hours=1), "valid_to": None}]
        produce(kafka_broker, topics["merchants"], [c if isinstance(c, str) else _jsonable(c) for c in changes_m])
        produce(kafka_broker, topics["tiers"], [_jsonable(c) for c in changes_t])
        wait_for(lambda: feeds["merchants"].applied + feeds["merchants"].refused == 3
              and feeds["tiers"].applied + feeds["tiers"].refused == 5, 30, "the changes applied")
        produce(kafka_broker, topics["tx"], [_jsonable(r) for r in b + [sentinel]])
        wait_for(lambda: stats.events >= len(a) + len(b) + 1 or failed, 60, "events B")
        # Postgres over the final tables (the oracle), then wait for every view's rows but the
        # sentinel's: a key the sentinel's watermark finalizes is woken within MAX_WAIT (1 s)
        final_m = pa.Table.from_pylist([m for m in merchants if m["id"] != "m2"] + [c for c in changes_m[:2]],
                                       schema=M_SCHEMA)
        final_t = pa.Table.from_pylist(before + changes_t[:3] + tiers[1:], schema=T_SCHEMA)
        pg.execute("DROP VIEW IF EXISTS pg_temp.by_category")
        pg.register("tx", all_events, TYPES)
        pg.register("merchants", final_m, M_TYPES)
        pg.register("tiers", final_t, T_TYPES)
        expected_of = {}
        for name in VIEWS:
            expected = pg.query(compiled.views[name].sql)
            expected_of[name] = expected.filter(pa.compute.not_equal(expected["txn_id"], "zz_sentinel"))

        def rows_of(name: str) -> int:
            return sum(len(p.read_text().splitlines()) for p in rows_dir.glob(f"{name}.*.jsonl"))

        wait_for(lambda: all(rows_of(name) >= expected_of[name].num_rows for name in VIEWS) or failed, 30,
                 "every row but the sentinel's")
    finally:
        STOP.set()
        thread.join(60)
        STOP.clear()  # the process's flag: later jobs in this process must not see a stop
    assert not failed, failed
    assert dimension_feed.fed("merchants") is None  # stopped with the job

    refused = [json.loads(line) for line in (root / "target" / "dimension_dead_letters.jsonl").read_text().splitlines()]
    assert [r["reason"].split(":")[0] for r in refused] == ["dimension merchants", "dimension tiers"]
    assert "cannot decode" in refused[0]["reason"] and "overlaps" in refused[1]["reason"]
    assert {p.name: p.read_bytes() for p in (root / "data").iterdir() if p.name != "tx.parquet"} == files_before

    for name in VIEWS:
        view = compiled.views[name]
        got = [json.loads(line) for p in rows_dir.glob(f"{name}.*.jsonl") for line in p.read_text().splitlines()]
        got_t = pa.Table.from_pylist([{c.name: r.get(c.name) for c in view.columns} for r in got])
        expected = expected_of[name]
        problems = diff(expected, got_t.cast(expected.schema), "txn_id")
        assert not problems, f"{name}: {problems[:5]}"


def test_lookups_outside_a_job_follow_the_topic(tmp_path, kafka_broker):
    """What serving does when the target streams from Kafka: `start_feeds`, after which every
    evaluator (`evaluator_for`: request events, online reads) joins the topic's latest rows."""
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.sources.dimension import evaluator_for, load_indexes

    root = tmp_path / "proj"
    topic = f"merchants_{uuid.uuid4().hex[:8]}"
    _project(root)
    (root / "sources" / "sources.yml").write_text(SOURCES.replace(
        "    batch: {path: data/merchants.parquet}\n",
        f"    batch: {{path: data/merchants.parquet}}\n    stream: {{topic: {topic}}}\n"))
    _write(root, pa.Table.from_pylist([], schema=tx_events_schema()),
           pa.Table.from_pylist([{"id": "m1", "category": "food", "risk": 1.0}], schema=M_SCHEMA),
           pa.Table.from_pylist([], schema=T_SCHEMA))
    create_topic(kafka_broker, topic)
    compiled = build_project(load_project(root))
    project, view = compiled.project, compiled.views["by_category"]
    event = {"txn_id": "t", "user_id": "u", "merchant_id": "m1", "amount": 2.0, "ts": BASE}
    assert evaluator_for(project, view).enrich(event)["m__category"] == "food"
    feeds = dimension_feed.start_feeds(project, load_indexes(project, [view]), [kafka_broker])
    try:
        produce(kafka_broker, topic, [{"id": "m1", "category": "travel", "risk": 3.0}])
        wait_for(lambda: feeds[0].applied == 1, 30, "the change")
        assert evaluator_for(project, view).enrich(event)["m__category"] == "travel"
    finally:
        dimension_feed.stop_feeds(feeds)
    assert evaluator_for(project, view).enrich(event)["m__category"] == "food"  # the file's rows again


def test_an_unreachable_dimension_topic_is_a_clear_error(tmp_path):
    """Not a traceback: `run` and `serve` report KafkaUnavailable / a diagnostic naming the dimension
    (tansu creates a topic on its first metadata request, so the broker here is one that is down)."""
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.sources.dimension import load_indexes
    from skewless.runtime.pg_local import free_port
    from skewless.runtime.sources.kafka import KafkaUnavailable

    root = tmp_path / "proj"
    _project(root)
    (root / "sources" / "sources.yml").write_text(SOURCES.replace(
        "    batch: {path: data/merchants.parquet}\n",
        "    batch: {path: data/merchants.parquet}\n    stream: {topic: merchant_changes}\n"))
    _write(root, pa.Table.from_pylist([], schema=tx_events_schema()),
           pa.Table.from_pylist([{"id": "m1", "category": "food", "risk": 1.0}], schema=M_SCHEMA),
           pa.Table.from_pylist([], schema=T_SCHEMA))
    compiled = build_project(load_project(root))
    down = f"127.0.0.1:{free_port()}"
    with pytest.raises(KafkaUnavailable, match=f"dimension 'merchants': cannot reach Kafka brokers {down}"):
        dimension_feed.start_feeds(compiled.project, load_indexes(compiled.project, [compiled.views["by_category"]]),
                                   [down])
    assert dimension_feed.fed("merchants") is None
