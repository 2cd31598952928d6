"""Log-and-wait (``feature_log:`` on a model): every scored request's exact feature vector — the
row of numbers the model was given — with its request id, model version, request fields, the
time it was asked at and the time its features were read as of, and the score.

Each serving worker buffers its rows and writes a Parquet file per ``rotate_rows`` rows or
``rotate_seconds`` (checked on each request) and at shutdown, under
``target/feature_log/<model>/<version>/part-<time>-<pid>-<n>.parquet`` (written whole, then
renamed: a reader never sees half a file). The log is bounded: beyond ``keep_files`` files per
model the oldest are deleted (only files named like ours). With ``kafka_topic`` each row is also
sent to Kafka as JSON (keyed by request id; NaN as null) as it is logged — a producer per worker,
flushed at shutdown. Labels arriving later join the log by
request id (``skewless training-set MODEL --from-log``); ``skewless parity --log MODEL``
recomputes the logged vectors through the batch path."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from skewless.compiler.contract import FeatureLogDef

SCHEMA = pa.schema([
    ("request_id", pa.string()), ("model", pa.string()), ("version", pa.string()),
    ("requested_at", pa.timestamp("us", tz="UTC")), ("as_of", pa.timestamp("us", tz="UTC")),
    ("score", pa.float64()), ("request", pa.string()), ("vector", pa.list_(pa.float64())),
])


def _jsonable(v):
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v) if not isinstance(v, (str, int, float, bool, type(None))) else v


class FeatureLog:
    """One model's log in one worker process."""

    def __init__(self, root: Path, model: str, config: FeatureLogDef, brokers: list[str] | None = None):
        self.dir, self.model, self.config = root / model, model, config
        self.rows: list[tuple] = []
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.seq = 0
        self.producer = None
        if config.kafka_topic:
            from confluent_kafka import Producer

            servers = config.kafka_brokers or brokers
            if not servers:
                raise ValueError(f"model {model}: feature_log.kafka_topic needs kafka_brokers (or a Kafka stream target)")
            self.producer = Producer({"bootstrap.servers": ",".join(servers), "linger.ms": 5,
                                      "enable.idempotence": True})

    def log(self, request_id: str, version: str, requested_at: datetime, as_of: datetime, score: float,
            request: dict, vector) -> None:
        fields = json.dumps({k: _jsonable(v) for k, v in request.items()}, separators=(",", ":"))
        values = [float(x) for x in vector.ravel()]
        if self.producer is not None and self.config.kafka_topic:  # a producer exists only with a topic
            self.producer.produce(self.config.kafka_topic, key=request_id, value=json.dumps({
                "request_id": request_id, "model": self.model, "version": version,
                "requested_at": requested_at.isoformat(), "as_of": as_of.isoformat(), "score": score,
                "request": json.loads(fields), "vector": [None if x != x else x for x in values]},
                separators=(",", ":")))
            self.producer.poll(0)
        with self.lock:
            self.rows.append((request_id, version, requested_at, as_of, score, fields, values))
            due = len(self.rows) >= self.config.rotate_rows or \
                time.monotonic() - self.started >= self.config.rotate_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        if self.producer is not None:
            self.producer.flush(10)
        with self.lock:
            rows, self.rows, self.started = self.rows, [], time.monotonic()
        if not rows:
            return
        by_version: dict[str, list[tuple]] = {}
        for r in rows:
            by_version.setdefault(r[1], []).append(r)
        for version, part in by_version.items():
            cols = list(zip(*part))
            table = pa.table([pa.array(cols[0], pa.string()), pa.array([self.model] * len(part), pa.string()),
                              pa.array(cols[1], pa.string()), pa.array(cols[2], SCHEMA.field("requested_at").type),
                              pa.array(cols[3], SCHEMA.field("as_of").type), pa.array(cols[4], pa.float64()),
                              pa.array(cols[5], pa.string()), pa.array(cols[6], SCHEMA.field("vector").type)],
                             schema=SCHEMA)
            where = self.dir / version
            where.mkdir(parents=True, exist_ok=True)
            self.seq += 1
            name = f"part-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{self.seq}.parquet"
            tmp = where / f".{name}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, where / name)
        self._bound()

    def _bound(self) -> None:
        files = sorted(self.dir.glob("*/part-*.parquet"), key=lambda p: p.name)
        for old in files[:max(0, len(files) - self.config.keep_files)]:
            old.unlink(missing_ok=True)


def log_files(target_dir: Path, model: str, version: str | None = None) -> list[Path]:
    base = Path(target_dir) / "feature_log" / model
    return sorted(base.glob(f"{version or '*'}/part-*.parquet"), key=lambda p: p.name)


def read_log(target_dir: Path, model: str, version: str | None = None) -> pa.Table:
    files = log_files(target_dir, model, version)
    if not files:
        return SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files])
