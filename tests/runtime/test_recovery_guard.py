"""The recovery directory's guard (runtime/stream/recovery.py) when the processes of one cluster
start together on a new directory: each writes the same manifest, none fails (CI failure: both
wrote it through one temporary file name and one found it renamed away)."""

from __future__ import annotations

import multiprocessing
import time
import traceback


def _enter(directory: str, pid: int, start: float, out) -> None:
    from pathlib import Path

    from skewless.runtime.stream.recovery import RecoveryGuard, expected

    while time.time() < start:
        pass
    try:
        with RecoveryGuard(Path(directory), pid, expected("p", {"v": "fp"}, "kafka")):
            pass
        out.put(None)
    except Exception:  # noqa: BLE001 - reported to the parent
        out.put(traceback.format_exc())


def test_processes_of_one_cluster_start_together(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for n in range(25):
        directory, out, start = str(tmp_path / f"r{n}"), ctx.Queue(), time.time() + 0.1
        procs = [ctx.Process(target=_enter, args=(directory, i, start, out)) for i in range(3)]
        for p in procs:
            p.start()
        errors = [e for e in (out.get(timeout=60) for _ in procs) if e]
        for p in procs:
            p.join()
        assert not errors, errors[0]
