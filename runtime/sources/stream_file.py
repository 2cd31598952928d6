"""Bounded file source for the stream (JSONL, CSV, Parquet), in arrival (file) order.

A Bytewax partitioned source: one partition per file; its resume state is the number of records
already emitted, so a restart from a recovery snapshot neither loses nor repeats events."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from skewless.compiler.config.sources import SourceDef

from .decode import Decoder
from .files import detect_format

BATCH = 1000


class _FilePartition(StatefulSourcePartition):
    def __init__(self, path: Path, fmt: str, decoder: Decoder, resume: int | None):
        self.decoder = decoder
        self.offset = resume or 0
        self.records = self._records(path, fmt)
        for _ in range(self.offset):
            next(self.records, None)

    def _records(self, path: Path, fmt: str):
        if fmt == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
                for row in batch.to_pylist():
                    yield self.decoder.decode_obj(row, str(row)[:1000])
        elif fmt == "csv":
            with open(path, newline="") as fh:
                for row in csv.DictReader(fh):
                    yield self.decoder.decode_obj({k: (v if v != "" else None) for k, v in row.items()}, str(row))
        else:
            with open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        yield self.decoder.decode_json(line)

    def next_batch(self):
        batch = []
        for rec in self.records:
            batch.append(rec)
            if len(batch) >= BATCH:
                break
        if not batch:
            raise StopIteration()
        self.offset += len(batch)
        return batch

    def snapshot(self) -> int:
        return self.offset


class FileEventSource(FixedPartitionedSource):
    def __init__(self, source: SourceDef, path: Path, fmt: str | None = None):
        self.source, self.path = source, path
        self.fmt = detect_format(path, fmt)

    def list_parts(self):
        return [str(self.path)]

    def build_part(self, step_id, for_part, resume_state):
        return _FilePartition(self.path, self.fmt, Decoder(self.source), resume_state)
