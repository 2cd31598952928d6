"""Bounded exponential backoff for the components a job depends on (online stores, Kafka)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from . import log
from .sources.control import STOP

T = TypeVar("T")


class Unavailable(RuntimeError):
    """A component stayed unreachable (or the job was asked to stop while it was)."""


def with_retry(call: Callable[[], T], *, component: str, retryable: tuple[type[BaseException], ...],
               reconnect: Callable[[], None] | None = None, give_up_after: float | None = None,
               first: float = 0.1, cap: float = 5.0) -> T:
    """``call()``, retried on ``retryable`` errors with exponential backoff (``first`` doubling up to
    ``cap`` seconds), calling ``reconnect()`` before each retry. Gives up after ``give_up_after``
    seconds (None: keeps trying — the job holds its position until the component is back) or when
    the job is asked to stop; the final error names the component."""
    started, wait, attempt = time.monotonic(), first, 0
    while True:
        try:
            if attempt and reconnect is not None:
                reconnect()
            result = call()
            if attempt:
                log.info("component.recovered", component=component, attempts=attempt,
                         down_s=round(time.monotonic() - started, 1))
            return result
        except retryable as exc:
            attempt += 1
            elapsed = time.monotonic() - started
            if STOP.is_set() or (give_up_after is not None and elapsed >= give_up_after):
                raise Unavailable(f"{component} unavailable for {elapsed:.0f} s: {_first_line(exc)}") from exc
            log.warning("component.unavailable", component=component, attempt=attempt, retry_in_s=round(wait, 2),
                        error=_first_line(exc))
            STOP.wait(wait)
            wait = min(wait * 2, cap)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
