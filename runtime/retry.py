"""Bounded exponential backoff for the components a job depends on (online stores, Kafka)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from . import log
from .sources.control import STOP

T = TypeVar("T")


class Unavailable(RuntimeError):
    """A component stayed unreachable (or the job was asked to stop while it was)."""


class _Backoff:
    """The bookkeeping `with_retry` and `with_retry_async` share: attempts, waits, logs, giving up."""

    def __init__(self, component: str, give_up_after: float | None, first: float, cap: float):
        self.component, self.give_up_after, self.wait, self.cap = component, give_up_after, first, cap
        self.started, self.attempt = time.monotonic(), 0

    def succeeded(self) -> None:
        if self.attempt:
            log.info("component.recovered", component=self.component, attempts=self.attempt,
                     down_s=round(time.monotonic() - self.started, 1))

    def failed(self, exc: BaseException, stopping: bool = False) -> float:
        """The seconds to wait before the next attempt; `Unavailable` when it is time to give up."""
        self.attempt += 1
        elapsed = time.monotonic() - self.started
        if stopping or (self.give_up_after is not None and elapsed >= self.give_up_after):
            raise Unavailable(f"{self.component} unavailable for {elapsed:.0f} s: {_first_line(exc)}") from exc
        wait = self.wait
        log.warning("component.unavailable", component=self.component, attempt=self.attempt,
                    retry_in_s=round(wait, 2), error=_first_line(exc))
        self.wait = min(wait * 2, self.cap)
        return wait


def with_retry(call: Callable[[], T], *, component: str, retryable: tuple[type[BaseException], ...],
               reconnect: Callable[[], None] | None = None, give_up_after: float | None = None,
               first: float = 0.1, cap: float = 5.0) -> T:
    """``call()``, retried on ``retryable`` errors with exponential backoff (``first`` doubling up to
    ``cap`` seconds), calling ``reconnect()`` before each retry. Gives up after ``give_up_after``
    seconds (None: keeps trying — the job holds its position until the component is back) or when
    the job is asked to stop; the final error names the component."""
    backoff = _Backoff(component, give_up_after, first, cap)
    while True:
        try:
            if backoff.attempt and reconnect is not None:
                reconnect()
            result = call()
            backoff.succeeded()
            return result
        except retryable as exc:
            STOP.wait(backoff.failed(exc, STOP.is_set()))


async def with_retry_async(call, *, component: str, retryable: tuple[type[BaseException], ...],
                           give_up_after: float, first: float = 0.05, cap: float = 1.0):
    """`with_retry` for a coroutine function ``call`` on an event loop (serving): waits with
    ``asyncio.sleep``, never blocks the loop; gives up after ``give_up_after`` seconds."""
    import asyncio

    backoff = _Backoff(component, give_up_after, first, cap)
    while True:
        try:
            result = await call()
            backoff.succeeded()
            return result
        except retryable as exc:
            await asyncio.sleep(backoff.failed(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
