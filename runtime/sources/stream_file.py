"""File source for the stream (JSONL, CSV, Parquet), in arrival (file) order.

A Bytewax partitioned source: one partition per file. Its resume state is the byte offset after
the last complete JSONL line emitted (the number of records for CSV/Parquet), so a restart from a
recovery snapshot neither loses nor repeats events. JSONL files can be followed (`tail -f`): at
the end of the file the partition waits for more lines; a partial last line waits until its
newline arrives."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from typing import BinaryIO
from pathlib import Path

import pyarrow.parquet as pq
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from skewless.compiler.contract import SourceDef

from .control import STOP
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
            raise ValueError(f"unsupported format {fmt!r}")

    def next_batch(self):
        if STOP.is_set():
            raise StopIteration()
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


class _JsonlPartition(StatefulSourcePartition):
    POLL = timedelta(milliseconds=20)

    def __init__(self, path: Path, decoder: Decoder, resume: int | None, follow: bool):
        self.path, self.decoder, self.follow = path, decoder, follow
        self.offset = resume or 0
        self.fh: BinaryIO | None = None
        self.idle = False

    def _open(self) -> bool:
        if self.fh is None:
            try:
                self.fh = open(self.path, "rb")
            except FileNotFoundError:
                if self.follow:
                    return False  # not created yet: wait for it
                raise
            self.fh.seek(self.offset)
        return True

    def next_batch(self):
        if STOP.is_set():
            raise StopIteration()
        batch = []
        if self._open():
            while len(batch) < BATCH:
                line = self.fh.readline()
                if not line.endswith(b"\n") and (self.follow or not line):
                    self.fh.seek(self.offset)  # nothing, or a line still being written
                    break
                self.offset += len(line)
                if line.strip():
                    batch.append(self.decoder.decode_json(line))
        if not batch and not self.follow:
            raise StopIteration()
        self.idle = not batch
        return batch

    def next_awake(self):
        return datetime.now(timezone.utc) + self.POLL if self.idle else None

    def snapshot(self) -> int:
        return self.offset

    def close(self):
        if self.fh is not None:
            self.fh.close()


class FileEventSource(FixedPartitionedSource):
    """``follow``: keep reading a JSONL file as it grows (continuous runs)."""

    def __init__(self, source: SourceDef, path: Path, fmt: str | None = None, follow: bool = False):
        self.source, self.path = source, path
        self.fmt = detect_format(path, fmt)
        if follow and self.fmt != "jsonl":
            raise ValueError(f"only JSONL files can be followed, {path} is {self.fmt}")
        self.follow = follow

    def list_parts(self):
        return [str(self.path)]

    def build_part(self, step_id, for_part, resume_state):
        if self.fmt == "jsonl":
            return _JsonlPartition(self.path, Decoder(self.source), resume_state, self.follow)
        return _FilePartition(self.path, self.fmt, Decoder(self.source), resume_state)
