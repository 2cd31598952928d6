"""Redis online store (redis-py): the usual inference key-value store.

Layout under a key prefix (default ``skewless:``):

* ``{prefix}s:{view}:{entity}`` → ``fingerprint NUL flag msgpack[last_event_us, state record]`` —
  one string per (view, entity key); the flag is ``N`` when the key's pending log is empty (the
  record holds its pending events), ``L`` when it may not be (absent in values written before the
  flag: read as ``L``);
* ``{prefix}t:{view}:{entity}`` → the window rows past the record's horizon (absent when none),
  read by the stream and by reads far past the key's latest event;
* ``{prefix}p:{view}:{entity}`` → the key's pending log (stores/base.py): a sorted set, score the
  event time µs, member the event's position in its peer group (4 bytes) then its entry;
* ``{prefix}fp:{view}`` → a hash: fingerprint → how many keys hold a state built from it (the
  deploy-time skew check reads these instead of scanning keys).

Writes are upserts in chunks, each one Lua script (atomic: the value, the log and the fingerprint
counts move together; a retried chunk sets the same values and counts nothing twice). A read is
one ``MGET`` of the records (and tails); the keys whose flag says they keep a log are read again by
one Lua script (record, tail and log from one moment — a record from the ``MGET`` and a log read
later could miss events the record did not hold yet). Connections are
re-established with bounded backoff (`runtime.retry`): writes wait while Redis is down, reads give
up after a few seconds (serving answers 503). Nothing outside the prefix is read or written.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import redis

from ..retry import with_retry, with_retry_async
from ..stream import codec
from .base import StoredState

COMPONENT = "online store (redis)"
RETRYABLE = (redis.ConnectionError, redis.TimeoutError)
CHUNK = 1_000

# KEYS: per state, its key, its tail's key and its log's key; ARGV: the fingerprint-hash prefix,
# then per state: view, fingerprint, value ('' leaves the record and tail as they are), tail (''
# when none), keep ('1': keep the log, else empty it first), upto ('' or the event time µs up to
# which entries go), n, then n (score, member) log entries — an entry replaces the one at its
# (time, position)
_UPSERT = """
local prefix = ARGV[1]
local a = 2
for i = 1, #KEYS / 3 do
  local key, tail_key, log_key = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local view, fp, value, tail, keep, upto, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
    ARGV[a + 5], tonumber(ARGV[a + 6])
  a = a + 7
  if value ~= '' then
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
  if keep ~= '1' then redis.call('DEL', log_key) end
  if upto ~= '' then redis.call('ZREMRANGEBYSCORE', log_key, '-inf', upto) end
  for j = 1, n do
    local score, member = ARGV[a], ARGV[a + 1]
    local pos = string.sub(member, 1, 4)
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', log_key, score, score)) do
      if m ~= member and string.sub(m, 1, 4) == pos then redis.call('ZREM', log_key, m) end
    end
    redis.call('ZADD', log_key, score, member)
    a = a + 2
  end
end
return #KEYS / 3
"""

# KEYS: per key, its key, its tail's key (or '' without the tail) and its log's key: per key
# {value, tail, {member, score, ...}} — one script, one snapshot of the three
_READ = """
local out = {}
for i = 1, #KEYS / 3 do
  local tail = false
  if KEYS[3 * i - 1] ~= '' then tail = redis.call('GET', KEYS[3 * i - 1]) end
  out[i] = {redis.call('GET', KEYS[3 * i - 2]), tail, redis.call('ZRANGE', KEYS[3 * i], 0, -1, 'WITHSCORES')}
end
return out
"""
_POS = struct.Struct(">I")  # a log member: the event's position in its peer group, then the entry
_NO_LOG, _LOG = b"\0N", b"\0L"  # a value's flag: the key's log is empty / may hold entries


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """A value's (fingerprint, flag — b"" before the flag existed —, msgpack[last_event_us, record])."""
    fp, _, rest = raw.partition(b"\0")
    if rest[:1] in (b"N", b"L"):
        return fp, rest[:1], rest[1:]
    return fp, b"", rest


class RedisStore:
    def __init__(self, url: str, prefix: str = "skewless:", connect_timeout: float = 30.0, read_timeout: float = 5.0):
        self.url, self.prefix, self.read_timeout = url, prefix, read_timeout
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        self._run(self.client.ping, connect_timeout)
        self._upsert = self.client.register_script(_UPSERT)
        self._read = self.client.register_script(_READ)
        self._local = threading.local()
        self._async: Any = None  # redis.asyncio client, created on the serving event loop
        self._aread: Any = None

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
            keys = [self._key(s.view, s.entity, kind) for s in chunk for kind in "stp"]
            args: list = [f"{self.prefix}fp:"]
            for s in chunk:
                value = b"" if s.state is None else s.fingerprint.encode() + \
                    (_LOG if s.logging or s.log else _NO_LOG) + codec.pack((s.last_event_us, s.state))
                args += [s.view, s.fingerprint, value, s.tail or b"", "1" if s.log_keep else "0",
                         "" if s.log_upto is None else str(s.log_upto), len(s.log)]
                for ts_us, pos, entry in s.log:
                    args += [ts_us, _POS.pack(pos) + entry]
            self._run(lambda keys=keys, args=args: self._upsert(keys=keys, args=args), None)

    @staticmethod
    def _state(view: str, entity: str, raw: bytes | None, tail: bytes | None = None,
               log: list | None = None) -> StoredState | None:
        if raw is None:
            return None
        fp, _, body = _split(raw)
        last_us, state = codec.unpack(body)
        if not log:  # [member, score, ...]
            return StoredState(view, entity, state, last_us, fp.decode(), tail)
        entries = sorted((int(float(log[i + 1])), _POS.unpack_from(log[i])[0], log[i][_POS.size:])
                         for i in range(0, len(log), 2))
        return StoredState(view, entity, state, last_us, fp.decode(), tail, tuple(entries))

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None:
        return self.read_many([(view, entity)], full).get((view, entity))

    def _names(self, keys: list[tuple[str, str]], full: bool) -> list[str]:
        return [n for v, e in keys for n in (self._key(v, e), self._key(v, e, "t") if full else "", self._key(v, e, "p"))]

    def _mget_names(self, keys: list[tuple[str, str]], full: bool) -> list[str]:
        names = [self._key(v, e) for v, e in keys]
        return names + [self._key(v, e, "t") for v, e in keys] if full else names

    @staticmethod
    def _logged(keys: list[tuple[str, str]], raws: list) -> list[int]:
        """Positions of the keys whose value may have a pending log (read again with it)."""
        return [i for i, raw in enumerate(raws[:len(keys)]) if raw is not None and _split(raw)[1] != _NO_LOG[1:]]

    def _states(self, keys: list[tuple[str, str]], raws: list, full: bool, logged: list[int],
                scripted: list) -> dict[tuple[str, str], StoredState]:
        """The states from an MGET's ``raws`` (records, then tails when ``full``), the keys at
        ``logged`` replaced by the read script's answers ``scripted`` ([value, tail, log] each)."""
        n = len(keys)
        rows = [[raws[i], raws[n + i] if full else None, None] for i in range(n)]
        for i, row in zip(logged, scripted):
            rows[i] = row
        out: dict[tuple[str, str], StoredState] = {}
        for k, (raw, tail, log) in zip(keys, rows):
            state = self._state(*k, raw or None, tail or None, log)
            if state is not None:
                out[k] = state
        return out

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]:
        """The records (and tails) by one MGET; those with a pending log again, with it, by the read
        script (one snapshot of record and log)."""
        if not keys:
            return {}
        names = self._mget_names(keys, full)
        raws = self._run(lambda: self._command("MGET", *names), self.read_timeout)
        logged = self._logged(keys, raws)
        scripted: list = []
        if logged:
            names = self._names([keys[i] for i in logged], full)
            scripted = self._run(lambda: self._evalsha(names), self.read_timeout)
        return self._states(keys, raws, full, logged, scripted)

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.client.connection_pool.make_connection()
        return conn

    def _command(self, *args) -> Any:
        """One command on the connection this thread keeps (redis-py's connection API: ~0.4 ms less
        per read than the pool); a failed connection is dropped."""
        conn = self._connection()
        try:
            conn.send_command(*args)
            return conn.read_response()
        except BaseException:
            conn.disconnect()
            self._local.conn = None
            raise

    def _evalsha(self, names: list[str]) -> list:
        """The read script on the connection this thread keeps; loaded again after a NOSCRIPT (a
        restarted Redis); a failed connection is dropped."""
        conn = self._connection()
        try:
            conn.send_command("EVALSHA", self._read.sha, len(names), *names)
            try:
                return conn.read_response()
            except redis.exceptions.NoScriptError:
                conn.send_command("EVAL", _READ, len(names), *names)
                return conn.read_response()
        except BaseException:
            conn.disconnect()
            self._local.conn = None
            raise

    async def aread_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
        """`read_many` on the asyncio client (serving: no thread, the event loop waits on the socket),
        retried like the other reads."""
        if not keys:
            return {}
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            self._aread = self._async.register_script(_READ)
        names = self._mget_names(keys, False)
        raws = await with_retry_async(lambda: self._async.mget(names), component=COMPONENT, retryable=RETRYABLE,
                                      give_up_after=self.read_timeout)
        logged = self._logged(keys, raws)
        scripted: list = []
        if logged:
            names = self._names([keys[i] for i in logged], False)
            scripted = await with_retry_async(lambda: self._aread(keys=names), component=COMPONENT,
                                              retryable=RETRYABLE, give_up_after=self.read_timeout)
        return self._states(keys, raws, False, logged, scripted)

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
