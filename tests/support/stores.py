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
from skewless.runtime.stream.replay import join_rows, replay_rows

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
    rows_of: dict[str, list] = {}

    def run(name: str) -> list:
        if name not in rows_of:
            view = compiled.views[name]
            if view.input.kind == "view":  # its events: the upstream's final rows, in time order per key
                inputs = sorted(run(view.input.name), key=lambda r: r[view.timestamp])
            else:
                inputs = events[view.root_source] if isinstance(events, dict) else events
                for vj in view.view_joins:  # each event with the joined view's row for it
                    inputs = join_rows(inputs, run(vj.view), vj)
                if view.joins:  # each event with its dimension rows
                    from skewless.runtime.sources.dimension import Enricher, load_indexes

                    enrich = Enricher(view, load_indexes(compiled.project, [view]))
                    inputs = [enrich(e) for e in inputs]
            rows_of[name] = replay_rows(view, inputs, store)[0]
        return rows_of[name]

    for name in views:
        run(name)
    return store


def store_answers(store, compiled: CompiledProject, table: str = "skewless_online") -> dict:
    from skewless.runtime.sources.dimension import evaluator_for

    out, evaluators = {}, {}
    rows = store.conn.execute(f"SELECT view, entity, last_event_us FROM {table}").fetchall()
    for view_name, entity, last_us in rows:
        view = compiled.views[view_name]
        rec = store.read(view_name, entity)
        _, pending, _ = records.decode(rec.state, view, rec.log).load()
        last = max([*pending, *([EPOCH + timedelta(microseconds=last_us)] if last_us != NO_EVENT_US else [])])
        key = json.loads(entity)
        if view_name not in evaluators:
            evaluators[view_name] = evaluator_for(compiled.project, view)
        out[(view_name, entity)] = (last_us, [as_of_record(rec, view, key, last + d, evaluators[view_name], store)
                                              for d in AFTER])
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
