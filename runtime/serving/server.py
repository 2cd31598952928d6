"""Running the app under uvicorn (uvloop + httptools) with limits uvicorn lacks by default: a
connection must deliver each request head within ``HEADER_TIMEOUT`` seconds (slowloris) and in at
most ``MAX_HEAD`` bytes (the connection is closed otherwise); idle keep-alive connections close
after ``KEEP_ALIVE`` seconds."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 5.0
KEEP_ALIVE = 5
MAX_HEAD = 16 * 1024


class CoalescingTransport:
    """A transport whose writes made in one step of the event loop leave in one ``send``: uvicorn
    writes a response's head and its body separately, two TCP segments on a keep-alive connection
    (each a trip through the kernel's network stack: ~10% of a small request's CPU). Closing sends
    what is buffered first; everything else is the wrapped transport's."""

    __slots__ = ("_inner", "_loop", "_buffer")

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._inner, self._loop = inner, loop
        self._buffer: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._buffer:
            self._loop.call_soon(self._flush)
        self._buffer.append(data)

    def _flush(self) -> None:
        if self._buffer:
            data, self._buffer = b"".join(self._buffer), []
            if not self._inner.is_closing():
                self._inner.write(data)

    def close(self) -> None:
        self._flush()
        self._inner.close()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a deadline and a size limit on each request's head (armed on connect
    and after each response, released when the head is complete), writing through a
    `CoalescingTransport`."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes: int | None = 0      # None: the head is complete, the body is the app's business

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def data_received(self, data: bytes) -> None:
        waiting = self._head_bytes is not None
        super().data_received(data)
        if waiting and self._head_bytes is not None:  # still no complete head after these bytes
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._disarm()
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_bytes = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._head_bytes is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def run(app, host: str, port: int, workers: int = 1, settings: str | None = None) -> None:
    """Serve ``app`` in this process, or (``workers`` > 1) in that many worker processes sharing
    the socket, each building its own app from ``settings`` (see `service.worker_app`)."""
    import os

    import uvicorn

    limits: dict[str, Any] = dict(log_level="warning", http=GuardedHttpToolsProtocol, loop="uvloop", timeout_keep_alive=KEEP_ALIVE,
                  server_header=False, access_log=False,
                  proxy_headers=False)  # no client addresses are used: X-Forwarded-* need not be parsed
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, **limits)
        return
    from .service import ENV

    os.environ[ENV] = settings or ""
    uvicorn.run("skewless.runtime.serving.service:worker_app", factory=True, workers=workers, host=host, port=port,
                **limits)
