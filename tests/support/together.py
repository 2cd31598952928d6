"""Races between processes that start at the same moment (as the processes of one multi-process
run do): ``fn(tmp, i)`` in ``count`` forked processes released together, ``rounds`` times, each
round in its own new directory; returns the first traceback a process raised, or None."""

from __future__ import annotations

import multiprocessing
import time
import traceback
from pathlib import Path
from typing import Callable


def _run(fn: Callable[[Path, int], None], where: Path, i: int, start: float, out) -> None:
    while time.time() < start:  # spin: every process leaves this line at the same moment
        pass
    try:
        fn(where, i)
        out.put(None)
    except Exception:  # noqa: BLE001 - reported to the parent
        out.put(traceback.format_exc())


def first_failure(fn: Callable[[Path, int], None], tmp: Path, count: int = 3, rounds: int = 25) -> str | None:
    ctx = multiprocessing.get_context("fork")
    for n in range(rounds):
        where, out, start = tmp / f"round{n}", ctx.Queue(), time.time() + 0.1
        where.mkdir()
        procs = [ctx.Process(target=_run, args=(fn, where, i, start, out)) for i in range(count)]
        for p in procs:
            p.start()
        errors = [e for e in (out.get(timeout=60) for _ in procs) if e]
        for p in procs:
            p.join()
        if errors:
            return errors[0]
    return None
