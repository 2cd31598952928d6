"""SQLite online store: the embedded default."""

from __future__ import annotations

import functools
import random
import sqlite3
import threading
import time
from pathlib import Path

from .base import StoredState, read_rows

DDL = """
CREATE TABLE IF NOT EXISTS skewless_online (
    view TEXT NOT NULL,
    entity TEXT NOT NULL,
    state BLOB NOT NULL,
    tail BLOB,
    last_event_us INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (view, entity)
) WITHOUT ROWID
"""

# the keys' pending logs (stores/base.py): an entry per event the watermark has not passed yet
LOG_DDL = """
CREATE TABLE IF NOT EXISTS skewless_pending (
    view TEXT NOT NULL,
    entity TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    entry BLOB NOT NULL,
    PRIMARY KEY (view, entity, ts_us, pos)
) WITHOUT ROWID
"""


CHUNK = 250  # keys per statement: two terms each (SQLite allows 500 compound SELECT terms)


@functools.lru_cache(maxsize=64)
def _lookup_sql(n: int, full: bool) -> str:
    """Per key its record and its log entries, in one statement (one snapshot of both): rows of
    (0, view, entity, state, last_event_us, fingerprint, tail) and (1, view, entity, entry, ts_us,
    pos, NULL)."""
    record = ("SELECT 0, view, entity, state, last_event_us, fingerprint, " + ("tail" if full else "NULL")
              + " FROM skewless_online WHERE view = ? AND entity = ?")
    log = "SELECT 1, view, entity, entry, ts_us, pos, NULL FROM skewless_pending WHERE view = ? AND entity = ?"
    return " UNION ALL ".join([record, log] * n)


def _switch_to_wal(conn: sqlite3.Connection, timeout: float = 60.0) -> None:
    """``PRAGMA journal_mode=WAL``, retried: changing the journal mode needs an exclusive lock and
    SQLite answers "database is locked" at once, without its busy handler, while another process
    opens the same new file (the processes of one multi-process run start together)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)


class SQLiteStore:
    """Writes go through one connection; reads from other threads (serving's threadpool) each use
    a connection of their own, so they run in parallel under WAL instead of queueing on one."""

    local = True  # reads are local file reads (µs): serving calls them on its event loop

    def __init__(self, path: Path | str):
        self.path = str(path)
        if self.path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # timeout: several processes of one multi-process run write the same file
        self.conn = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        _switch_to_wal(self.conn)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # reads: a 64 MB page cache and the file memory-mapped (no read() copy per page)
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA mmap_size=268435456")
        self.conn.execute(DDL)
        self.conn.execute(LOG_DDL)
        if "tail" not in {r[1] for r in self.conn.execute("PRAGMA table_info(skewless_online)")}:
            self.conn.execute("ALTER TABLE skewless_online ADD COLUMN tail BLOB")  # a store from before the tail

    def _reader(self) -> sqlite3.Connection:
        if self.path == ":memory:" or threading.get_ident() == self._owner:
            return self.conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=268435456")
            with self._lock:
                self._readers.append(conn)
        return conn

    def write(self, states: list[StoredState]) -> None:
        """One transaction: the records, then the logs emptied (whole states) or their final entries
        dropped, then the new entries."""
        with self.conn:
            self.conn.executemany(
                "INSERT INTO skewless_online (view, entity, state, tail, last_event_us, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (view, entity) DO UPDATE SET state = excluded.state, "
                "tail = excluded.tail, last_event_us = excluded.last_event_us, fingerprint = excluded.fingerprint",
                [(s.view, s.entity, s.state, s.tail, s.last_event_us, s.fingerprint) for s in states
                 if s.state is not None])
            resets = [(s.view, s.entity) for s in states if not s.log_keep]
            if resets and self.conn.execute("SELECT 1 FROM skewless_pending LIMIT 1").fetchone():
                self.conn.executemany("DELETE FROM skewless_pending WHERE view = ? AND entity = ?", resets)
            drops = [(s.view, s.entity, s.log_upto) for s in states if s.log_keep and s.log_upto is not None]
            if drops:
                self.conn.executemany("DELETE FROM skewless_pending WHERE view = ? AND entity = ? AND ts_us <= ?",
                                      drops)
            entries = [(s.view, s.entity, *e) for s in states for e in s.log]
            if entries:
                self.conn.executemany(
                    "INSERT INTO skewless_pending (view, entity, ts_us, pos, entry) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (view, entity, ts_us, pos) DO UPDATE SET entry = excluded.entry", entries)

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None:
        return self.read_many([(view, entity)], full).get((view, entity))

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]:
        """The keys in statements of up to CHUNK point lookups each (``UNION ALL`` of primary-key
        searches: faster than an ``OR`` chain, which SQLite also refuses past 1,000 terms as an
        expression tree too deep); parameters only, never formatted into SQL. The tails only with
        ``full``."""
        if not keys:
            return {}
        conn, out = self._reader(), {}
        for i in range(0, len(keys), CHUNK):
            part = keys[i:i + CHUNK]
            out.update(read_rows(conn.execute(_lookup_sql(len(part), full), [p for k in part for _ in "rl" for p in k])))
        return out

    def fingerprints(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for view, fp in self.conn.execute("SELECT DISTINCT view, fingerprint FROM skewless_online"):
            out.setdefault(view, set()).add(fp)
        return out

    def close(self) -> None:
        with self._lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        self.conn.close()
