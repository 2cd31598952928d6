"""Comparing online stores by what they answer: for every (view, key) the latest event time and the
as-of reads at times around and after it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from skewless.compiler.project.build import CompiledProject
from skewless.runtime.sources.decode import Decoder
from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stream import records
from skewless.runtime.stream.online import NO_EVENT_US, as_of_record
from skewless.runtime.stream.replay import replay_rows

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
AFTER = [timedelta(0), timedelta(microseconds=1), timedelta(minutes=10), timedelta(hours=1, microseconds=1),
         timedelta(days=1)]


def decoded_events(compiled: CompiledProject, path: Path, source: str = "transactions") -> list[dict]:
    """The file's events in arrival order, decoded as the stream decodes them (bad lines dropped)."""
    decoder = Decoder(compiled.project.sources[source])
    rows = [decoder.decode_json(line) for line in path.read_bytes().splitlines() if line.strip()]
    return [r for r in rows if isinstance(r, dict)]


def reference_store(compiled: CompiledProject, events: list[dict] | dict[str, list[dict]], path: Path,
                    views: list[str]) -> SQLiteStore:
    """The online store an uninterrupted single-process run leaves (reference driver, no Bytewax).
    ``events``: one source's events, or events by source name."""
    store = SQLiteStore(path)
    for name in views:
        view = compiled.views[name]
        replay_rows(view, events[view.root_source] if isinstance(events, dict) else events, store)
    return store


def store_answers(store, compiled: CompiledProject, table: str = "skewless_online") -> dict:
    out = {}
    rows = store.conn.execute(f"SELECT view, entity, last_event_us FROM {table}").fetchall()
    for view_name, entity, last_us in rows:
        view = compiled.views[view_name]
        rec = store.read(view_name, entity)
        _, pending, _ = records.decode(rec.state, view).load()
        last = max([*pending, *([EPOCH + timedelta(microseconds=last_us)] if last_us != NO_EVENT_US else [])])
        key = json.loads(entity)
        out[(view_name, entity)] = (last_us, [as_of_record(rec, view, key, last + d, store=store) for d in AFTER])
    return out


def diff_stores(expected: dict, got: dict) -> list[str]:
    problems = [f"missing {k}" for k in expected.keys() - got.keys()]
    problems += [f"unexpected {k}" for k in got.keys() - expected.keys()]
    for k in expected.keys() & got.keys():
        if expected[k] != got[k]:
            problems.append(f"{k}: expected {expected[k]} got {got[k]}")
    return problems


STORE_KINDS = ["sqlite", "postgres", "redis"]
_SEQ = iter(range(10 ** 9))


def fresh_store(kind: str, request) -> object:
    """An empty online store of ``kind`` (sqlite in memory; postgres / redis on the session's
    throwaway servers, under a prefix of its own so tests never see each other's states)."""
    tag = f"t{next(_SEQ)}_"
    if kind == "sqlite":
        return SQLiteStore(":memory:")
    if kind == "postgres":
        from skewless.runtime.stores.postgres_store import PostgresStore

        return PostgresStore(request.getfixturevalue("pg_dsn"), f"c{tag}")
    from skewless.runtime.stores.redis_store import RedisStore

    return RedisStore(request.getfixturevalue("redis_url"), f"c:{tag}")
