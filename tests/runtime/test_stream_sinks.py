"""The append-only JSON-lines sinks (per-event rows, dead letters) across a writer killed mid-write."""
from __future__ import annotations

import json
import os

from skewless.runtime.stream import sinks


def _part(path):
    return sinks._AppendJsonlPart(path, json.dumps)


def test_a_torn_last_line_is_sealed_before_the_next_append(tmp_path):
    path = tmp_path / "v.0.jsonl"
    path.write_bytes(b'{"txn_id": "a", "n": 1}\n{"txn_id": "b", "n"')  # killed inside a write
    part = _part(path)
    part.write_batch([{"txn_id": "b", "n": 2}, {"txn_id": "c", "n": 3}])
    part.close()
    lines = path.read_text().splitlines()
    assert lines[1] == '{"txn_id": "b", "n"'                     # the fragment stays on its own line
    assert [json.loads(x) for x in lines[2:]] == [{"txn_id": "b", "n": 2}, {"txn_id": "c", "n": 3}]


def test_a_whole_file_gets_no_extra_line(tmp_path):
    path = tmp_path / "v.0.jsonl"
    path.write_bytes(b'{"n": 1}\n')
    part = _part(path)
    part.write_batch([{"n": 2}])
    part.close()
    assert path.read_bytes() == b'{"n": 1}\n{"n": 2}\n'
    empty = tmp_path / "new.jsonl"
    _part(empty).close()
    assert empty.read_bytes() == b""


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(sinks.os, "write", lambda fd, data: real(fd, bytes(data[:5])))  # 5 bytes a call
    path = tmp_path / "v.0.jsonl"
    part = _part(path)
    rows = [{"txn_id": f"t{i}", "amount": i * 1.5} for i in range(40)]
    part.write_batch(rows)
    part.close()
    assert [json.loads(x) for x in path.read_text().splitlines()] == rows
