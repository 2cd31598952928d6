"""Running the app under uvicorn with limits uvicorn lacks by default: a connection must deliver
its request headers within ``HEADER_TIMEOUT`` seconds (slowloris), idle keep-alive connections
close after ``KEEP_ALIVE`` seconds, and a request head is at most 16 KB."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 5.0
KEEP_ALIVE = 5
MAX_HEAD = 16 * 1024


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a deadline on each request's head (armed on connect and after each response)."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_head():
            self._disarm()  # the head arrived: the app's body timeouts take over

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def run(app, host: str, port: int, workers: int = 1, settings: str | None = None) -> None:
    """Serve ``app`` in this process, or (``workers`` > 1) in that many worker processes sharing
    the socket, each building its own app from ``settings`` (see `service.worker_app`)."""
    import os

    import uvicorn

    limits = dict(log_level="warning", http=GuardedH11Protocol, timeout_keep_alive=KEEP_ALIVE,
                  h11_max_incomplete_event_size=MAX_HEAD, server_header=False)
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, **limits)
        return
    from .service import ENV

    os.environ[ENV] = settings or ""
    uvicorn.run("skewless.runtime.serving.service:worker_app", factory=True, workers=workers, host=host, port=port,
                **limits)
