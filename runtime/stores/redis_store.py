"""Redis online store (redis-py): the usual inference key-value store.

Layout under a key prefix (default ``skewless:``):

* ``{prefix}s:{view}:{entity}`` → ``fingerprint NUL msgpack[last_event_us, state record]`` — one
  string per (view, entity key), so a read of several views is one ``MGET``;
* ``{prefix}fp:{view}`` → a hash: fingerprint → how many keys hold a state built from it (the
  deploy-time skew check reads these instead of scanning keys).

Writes are upserts in chunks, each one Lua script (atomic: the value and the fingerprint counts
move together; a retried chunk sets the same values and counts nothing twice). Connections are
re-established with bounded backoff (`runtime.retry`): writes wait while Redis is down, reads give
up after a few seconds (serving answers 503). Nothing outside the prefix is read or written.
"""

from __future__ import annotations

import redis

from ..retry import with_retry
from ..stream import codec
from .base import StoredState

COMPONENT = "online store (redis)"
RETRYABLE = (redis.ConnectionError, redis.TimeoutError)
CHUNK = 1_000

# KEYS: the state keys; ARGV: the fingerprint-hash prefix, then per key: view, fingerprint, value
_UPSERT = """
local prefix = ARGV[1]
for i, key in ipairs(KEYS) do
  local view, fp, value = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  local old = redis.call('GET', key)
  redis.call('SET', key, value)
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
return #KEYS
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "skewless:", connect_timeout: float = 30.0, read_timeout: float = 5.0):
        self.url, self.prefix, self.read_timeout = url, prefix, read_timeout
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self._run(self.client.ping, connect_timeout)
        self._upsert = self.client.register_script(_UPSERT)
        self._async = None  # redis.asyncio client, created on the serving event loop

    def _run(self, fn, give_up_after: float | None):
        return with_retry(fn, component=COMPONENT, retryable=RETRYABLE, reconnect=self._reconnect,
                          give_up_after=give_up_after)

    def _reconnect(self) -> None:
        self.client.connection_pool.disconnect()

    def _key(self, view: str, entity: str) -> str:
        return f"{self.prefix}s:{view}:{entity}"

    def write(self, states: list[StoredState]) -> None:
        for start in range(0, len(states), CHUNK):
            chunk = states[start:start + CHUNK]
            keys = [self._key(s.view, s.entity) for s in chunk]
            args: list = [f"{self.prefix}fp:"]
            for s in chunk:
                args += [s.view, s.fingerprint, s.fingerprint.encode() + b"\0" + codec.pack((s.last_event_us, s.state))]
            self._run(lambda keys=keys, args=args: self._upsert(keys=keys, args=args), None)

    @staticmethod
    def _state(view: str, entity: str, raw: bytes | None) -> StoredState | None:
        if raw is None:
            return None
        fp, _, rest = raw.partition(b"\0")
        last_us, state = codec.unpack(rest)
        return StoredState(view, entity, state, last_us, fp.decode())

    def read(self, view: str, entity: str) -> StoredState | None:
        return self._state(view, entity, self._run(lambda: self.client.get(self._key(view, entity)), self.read_timeout))

    def read_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
        if not keys:
            return {}
        raws = self._run(lambda: self.client.mget([self._key(v, e) for v, e in keys]), self.read_timeout)
        return {k: self._state(*k, raw) for k, raw in zip(keys, raws) if raw is not None}

    async def aread_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
        """`read_many` on the asyncio client (serving: no thread, the event loop waits on the socket);
        retried with backoff for `read_timeout` seconds like the other reads."""
        import asyncio
        import time

        if not keys:
            return {}
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        names = [self._key(v, e) for v, e in keys]
        deadline, delay = time.monotonic() + self.read_timeout, 0.05
        while True:
            try:
                raws = await self._async.mget(names)
                break
            except RETRYABLE as exc:
                if time.monotonic() + delay > deadline:
                    from ..retry import Unavailable

                    raise Unavailable(f"{COMPONENT} unavailable: {exc}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        return {k: self._state(*k, raw) for k, raw in zip(keys, raws) if raw is not None}

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
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass
