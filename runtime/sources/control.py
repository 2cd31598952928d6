"""Asking a running job to stop cleanly.

A signal handler must not raise inside the dataflow (Bytewax would abort the worker). Instead it
sets `STOP`; every source partition then ends its input, the end of input flows through the
dataflow (without finalizing groups the watermark has not passed: `stopping()`), the last epoch's
snapshots are written and the job returns. The next start resumes from those snapshots."""

from __future__ import annotations

import threading

STOP = threading.Event()


def stopping() -> bool:
    return STOP.is_set()
