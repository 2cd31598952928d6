"""Garbage-collector settings for a running dataflow.

Every event allocates a few short-lived containers (the decoded row, its output row, aggregate
values); with CPython's default thresholds (a young-generation collection every 700 net
allocations) the collector then walks the survivors — key states, pending rows — over and over:
a quarter of the stream's time on the 10-feature benchmark. During a run the objects built
before it (the compiled project, expression closures) are frozen out of collection and the
young generation is collected every 10,000 allocations; reference cycles are still collected.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

THRESHOLDS = (10_000, 10, 10)


@contextlib.contextmanager
def tuned() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
