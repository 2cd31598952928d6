"""Sinks: per-event rows to Parquet (written in batches), dead letters to JSONL."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from skewless.compiler.contract import FeatureView

from ..sources.files import arrow_type

def view_schema(view: FeatureView) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c.type)) for c in view.columns])


def _as_float(v):
    return None if v is None else float(v)


def _writer_fixes(schema: pa.Schema):
    """Numeric values stored as doubles (unconstrained numeric) are converted from Decimal."""
    return [f.name for f in schema if pa.types.is_floating(f.type)]


class _ParquetPart(StatelessSinkPartition):
    def __init__(self, path: Path, schema: pa.Schema):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema, self.writer, self.rows = schema, pq.ParquetWriter(path, schema), 0
        self.floats = _writer_fixes(schema)

    def write_batch(self, items):
        if items:
            if self.floats:
                items = [{**r, **{c: _as_float(r.get(c)) for c in self.floats}} for r in items]
            self.writer.write_table(pa.Table.from_pylist(items, schema=self.schema))
            self.rows += len(items)

    def close(self):
        self.writer.close()


class ParquetSink(DynamicSink):
    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema

    def build(self, step_id, worker_index, worker_count):
        path = self.path if worker_count == 1 else self.path.with_name(f"{self.path.stem}.{worker_index}.parquet")
        return _ParquetPart(path, self.schema)


class _AppendJsonlPart(StatelessSinkPartition):
    """Appends whole batches with one O_APPEND write, so workers and processes of one run can share
    a file without interleaving lines. A process killed inside a write leaves a torn last line (its
    rows are written again after recovery: at least once); the next start seals it with a newline,
    so it stays one undecodable line instead of corrupting the next row appended."""

    def __init__(self, path: Path, encode):
        self.encode = encode
        self.fd = open_append(path)

    def write_batch(self, items):
        if items:
            write_all(self.fd, "".join(self.encode(x) + "\n" for x in items).encode())

    def close(self):
        os.close(self.fd)


def open_append(path: Path) -> int:
    """A file descriptor appending to ``path`` (created with its directory), a torn last line sealed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    seal_torn_line(fd)
    return fd


def seal_torn_line(fd: int) -> None:
    """End a file left without its last newline (a writer killed mid-write) before appending."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        write_all(fd, b"\n")


def write_all(fd: int, data: bytes) -> None:
    """os.write may write part of a buffer (a full disk, a signal): write the rest, never drop it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _dead_json(d) -> str:
    return json.dumps({"source": d.source, "reason": d.reason, "raw": d.raw})


class DeadLetterSink(DynamicSink):
    def __init__(self, path: Path):
        self.path = path

    def build(self, step_id, worker_index, worker_count):
        return _AppendJsonlPart(self.path, _dead_json)


def _jsonable(v):
    if isinstance(v, Decimal):
        return float(v)  # JSON numbers are read as doubles anyway
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "total_seconds"):
        return v.total_seconds()
    return str(v)


class RowsJsonlSink(DynamicSink):
    """Per-event rows of a continuous run, appended as JSON lines (rows replayed after a recovery
    appear again: at least once). One file per worker: ``<view>.<worker>.jsonl``."""

    def __init__(self, directory: Path, view: FeatureView):
        self.directory, self.view = directory, view

    def build(self, step_id, worker_index, worker_count):
        return _AppendJsonlPart(self.directory / f"{self.view.name}.{worker_index}.jsonl",
                                lambda row: json.dumps(row, default=_jsonable))


class _KafkaDeadPart(StatelessSinkPartition):
    """Produces dead letters; a message the broker does not acknowledge (delivery error, full local
    queue, broker down at shutdown) is appended to the ``fallback`` file instead and logged — a
    dead letter is never dropped silently."""

    def __init__(self, brokers: list[str], topic: str, add_config: dict[str, str], fallback: Path):
        from confluent_kafka import Producer

        self.topic, self.fallback = topic, fallback
        self.producer = Producer({"bootstrap.servers": ",".join(brokers), "message.timeout.ms": 60_000,
                                  "enable.idempotence": True, **add_config})  # a retry never writes a letter twice
        self.failed = 0
        self.pending: dict[int, str] = {}   # produced, not acknowledged yet
        self.seq = 0

    def _delivered(self, key: int, err) -> None:
        line = self.pending.pop(key, None)
        if err is not None and line is not None:
            self._keep([line], str(err))

    def _keep(self, lines: list[str], why: str) -> None:
        self.failed += len(lines)
        from .. import log

        log.warning("dead_letters.kafka_failed", topic=self.topic, messages=len(lines), error=why,
                    kept_in=str(self.fallback))
        fd = open_append(self.fallback)
        try:
            write_all(fd, "".join(line + "\n" for line in lines).encode())
        finally:
            os.close(fd)

    def write_batch(self, items):
        for d in items:
            line = _dead_json(d)
            self.seq += 1
            key = self.seq
            for _ in range(50):  # the local queue is full: let the producer drain, bounded
                try:
                    self.producer.produce(self.topic, value=line.encode(),
                                          on_delivery=lambda err, msg, k=key: self._delivered(k, err))
                    self.pending[key] = line
                    break
                except BufferError:
                    self.producer.poll(0.1)
            else:
                self._keep([line], "local producer queue full")
        self.producer.poll(0)

    def close(self):
        self.producer.flush(30)
        if self.pending:  # not acknowledged after 30 s: keep them locally
            self._keep(list(self.pending.values()), "not acknowledged by the broker at shutdown")
            self.pending.clear()


class KafkaDeadLetterSink(DynamicSink):
    """Dead letters as JSON messages on a Kafka topic (stream.dead_letter_topic)."""

    def __init__(self, brokers: list[str], topic: str, add_config: dict[str, str] | None = None,
                 fallback: Path | None = None):
        self.brokers, self.topic, self.add_config = brokers, topic, dict(add_config or {})
        self.fallback = fallback or Path("dead_letters.undelivered.jsonl")

    def build(self, step_id, worker_index, worker_count):
        return _KafkaDeadPart(self.brokers, self.topic, self.add_config,
                              self.fallback.with_name(f"{self.fallback.stem}.{worker_index}{self.fallback.suffix}"))
