"""A throwaway Redis server (tests, benchmarks, demos): Debian's ``redis-server`` on a free loopback
port, in memory only (no RDB/AOF files), stopped afterwards."""

from __future__ import annotations

import contextlib
import shutil
from typing import Iterator

from .pg_local import free_port, local_process


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextlib.contextmanager
def local_redis(timeout: float = 20.0) -> Iterator[str]:
    """Start redis-server; yield its URL ("redis://127.0.0.1:PORT/0"); stop it afterwards."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def ready() -> bool:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())

    with local_process("redis-server", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                        "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
                                        "--loglevel", "warning"], ready, timeout):
        yield url
