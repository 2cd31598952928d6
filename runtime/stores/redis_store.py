"""Redis online store (redis-py): the usual inference key-value store.

Layout under a key prefix (default ``skewless:``):

* ``{prefix}s:{view}:{entity}`` → ``fingerprint NUL msgpack[last_event_us, state record]`` — one
  string per (view, entity key), so a read of several views is one ``MGET``;
* ``{prefix}t:{view}:{entity}`` → the window rows past the record's horizon (absent when none),
  read by the stream and by reads far past the key's latest event;
* ``{prefix}fp:{view}`` → a hash: fingerprint → how many keys hold a state built from it (the
  deploy-time skew check reads these instead of scanning keys).

Writes are upserts in chunks, each one Lua script (atomic: the value and the fingerprint counts
move together; a retried chunk sets the same values and counts nothing twice). Connections are
re-established with bounded backoff (`runtime.retry`): writes wait while Redis is down, reads give
up after a few seconds (serving answers 503). Nothing outside the prefix is read or written.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

from ..retry import with_retry, with_retry_async
from ..stream import codec
from .base import StoredState

COMPONENT = "online store (redis)"
RETRYABLE = (redis.ConnectionError, redis.TimeoutError)
CHUNK = 1_000

# KEYS: per state, its key and its tail's key; ARGV: the fingerprint-hash prefix, then per state:
# view, fingerprint, value, tail ('' when none)
_UPSERT = """
local prefix = ARGV[1]
for i = 1, #KEYS / 2 do
  local key, tail_key = KEYS[2 * i - 1], KEYS[2 * i]
  local view, fp, value, tail = ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i], ARGV[4 * i + 1]
  local old = redis.call('GET', key)
  redis.call('SET', key, value)
  if tail == '' then redis.call('DEL', tail_key) else redis.call('SET', tail_key, tail) end
  local old_fp = old and string.sub(old, 1, string.find(old, '\\0', 1, true) - 1)
  if old_fp ~= fp then
    redis.call('HINCRBY', prefix .. view, fp, 1)
    if old_fp then
      if redis.call('HINCRBY', prefix .. view, old_fp, -1) <= 0 then
        redis.call('HDEL', prefix .. view, old_fp)
      end
    end
  end
end
return #KEYS / 2
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "skewless:", connect_timeout: float = 30.0, read_timeout: float = 5.0):
        self.url, self.prefix, self.read_timeout = url, prefix, read_timeout
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self._run(self.client.ping, connect_timeout)
        self._upsert = self.client.register_script(_UPSERT)
        self._async: Any = None  # redis.asyncio client, created on the serving event loop
        self._local = threading.local()

    def _run(self, fn, give_up_after: float | None):
        return with_retry(fn, component=COMPONENT, retryable=RETRYABLE, reconnect=self._reconnect,
                          give_up_after=give_up_after)

    def _reconnect(self) -> None:
        self.client.connection_pool.disconnect()

    def _key(self, view: str, entity: str, kind: str = "s") -> str:
        return f"{self.prefix}{kind}:{view}:{entity}"

    def write(self, states: list[StoredState]) -> None:
        for start in range(0, len(states), CHUNK):
            chunk = states[start:start + CHUNK]
            keys = [k for s in chunk for k in (self._key(s.view, s.entity), self._key(s.view, s.entity, "t"))]
            args: list = [f"{self.prefix}fp:"]
            for s in chunk:
                args += [s.view, s.fingerprint, s.fingerprint.encode() + b"\0" + codec.pack((s.last_event_us, s.state)),
                         s.tail or b""]
            self._run(lambda keys=keys, args=args: self._upsert(keys=keys, args=args), None)

    def _mget(self, names: list[str]) -> list:
        """MGET on a connection this thread keeps (redis-py's connection API: ~50 µs less per read
        than going through the pool and the command wrappers); a failed connection is dropped."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.client.connection_pool.make_connection()
        try:
            conn.send_command("MGET", *names)
            return conn.read_response()
        except BaseException:
            conn.disconnect()
            self._local.conn = None
            raise

    @staticmethod
    def _state(view: str, entity: str, raw: bytes | None, tail: bytes | None = None) -> StoredState | None:
        if raw is None:
            return None
        fp, _, rest = raw.partition(b"\0")
        last_us, state = codec.unpack(rest)
        return StoredState(view, entity, state, last_us, fp.decode(), tail)

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None:
        return self.read_many([(view, entity)], full).get((view, entity))

    def _names(self, keys: list[tuple[str, str]], full: bool) -> list[str]:
        names = [self._key(v, e) for v, e in keys]
        return names + [self._key(v, e, "t") for v, e in keys] if full else names

    def _states(self, keys: list[tuple[str, str]], raws: list, full: bool) -> dict[tuple[str, str], StoredState]:
        tails = raws[len(keys):] if full else [None] * len(keys)
        out: dict[tuple[str, str], StoredState] = {}
        for k, raw, tail in zip(keys, raws, tails):
            state = None if raw is None else self._state(*k, raw, tail)
            if state is not None:
                out[k] = state
        return out

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]:
        if not keys:
            return {}
        names = self._names(keys, full)
        return self._states(keys, self._run(lambda: self._mget(names), self.read_timeout), full)

    async def aread_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
        """`read_many` on the asyncio client (serving: no thread, the event loop waits on the socket),
        retried like the other reads."""
        if not keys:
            return {}
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        names = self._names(keys, False)
        raws = await with_retry_async(lambda: self._async.mget(names), component=COMPONENT, retryable=RETRYABLE,
                                      give_up_after=self.read_timeout)
        return self._states(keys, raws, False)

    def fingerprints(self) -> dict[str, set[str]]:
        def scan():
            out: dict[str, set[str]] = {}
            for key in self.client.scan_iter(match=f"{self.prefix}fp:*", count=1000):
                view = key.decode()[len(self.prefix) + 3:]
                fps = {fp.decode() for fp, n in self.client.hgetall(key).items() if int(n) > 0}
                if fps:
                    out[view] = fps
            return out
        return self._run(scan, self.read_timeout)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.disconnect()
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass
