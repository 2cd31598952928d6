"""The experiment store: a feedback joins its decision at most once whoever applies it (processes
racing on the same feedback), within the window; missing feedback becomes reward 0 once; Kafka
offsets commit with the feedback they carried."""

from __future__ import annotations

import random

import pytest

from skewless.runtime.experiments.store import (APPLIED, DUPLICATE, EXPIRED, UNKNOWN, Decision, DuplicateRequest,
                                                ExperimentStore, Feedback)
from tests.support.together import first_failure

DAY = 86_400 * 1_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def where(request, tmp_path):
    """The store's location: a SQLite file, or a fresh Postgres database (registry_dsn)."""
    if request.param == "sqlite":
        return tmp_path / "e.sqlite"
    from tests.support.postgres import fresh_database

    return fresh_database(request.getfixturevalue("pg_dsn"))


def store_with(path, n: int, window_us: int = DAY, t0: int = 1_000 * DAY) -> ExperimentStore:
    store = ExperimentStore(path)
    store.register("m@1", "m", "ab", "binary", window_us, {"definition": {}, "versions": {}}, ["a", "b"])
    store.log([Decision(f"r{i}", "m@1", "ab"[i % 2], "m", "v1", 0.5, 0.1, {}, f"k{i}", t0 + i) for i in range(n)])
    return store


def test_feedback_joins_once_within_the_window(where):
    store = store_with(where, 4)
    t0 = 1_000 * DAY
    got = store.feedback([Feedback("r0", 1.0, t0 + 10), Feedback("r0", 0.0, t0 + 11), Feedback("zz", 1.0, t0),
                          Feedback("r1", 1.0, t0 + 1 + DAY + 1), Feedback("r2", 0.0, t0 + 2 + DAY)])
    assert got == [APPLIED, DUPLICATE, UNKNOWN, EXPIRED, APPLIED]
    assert store.stats("m@1")["a"].n == 2 and store.stats("m@1")["a"].total == 1.0
    assert store.decision("r0")["reward"] == 1.0 and store.decision("r1")["reward"] is None
    with pytest.raises(DuplicateRequest):
        store.log([Decision("r3", "m@1", "a", "m", "v1", 0.5, 0.1, {}, "k", t0)])


def test_missing_feedback_counts_as_zero_once(where):
    store = store_with(where, 6)
    t0 = 1_000 * DAY
    store.feedback([Feedback("r0", 1.0, t0 + 5)])
    assert store.expire("m@1", DAY, at_us=t0 + DAY + 3) == 2  # r1, r2 (decided before t0 + 3; r0 had feedback)
    assert store.expire("m@1", DAY, at_us=t0 + DAY + 3) == 0
    assert store.decision("r1")["outcome"] == "missing" and store.decision("r1")["reward"] == 0
    stats = store.stats("m@1")
    assert (stats["a"].n, stats["a"].total, stats["b"].n) == (2, 1.0, 1)  # r0 (1), r2 (0); r1 (0)
    assert store.feedback([Feedback("r1", 1.0, t0 + DAY)]) == [DUPLICATE]


def _apply_all(where, i):
    dsn = where.parent / "dsn"  # a Postgres round: the DSN of the database every process shares
    store = ExperimentStore(dsn.read_text() if dsn.exists() else where.parent / "shared.sqlite")
    items = [Feedback(f"r{j}", float(j % 3 == 0), 1_000 * 86_400 * 1_000_000 + 100) for j in range(120)]
    random.Random(i).shuffle(items)
    for k in range(0, len(items), 7):
        store.feedback(items[k:k + 7])


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_racing_processes_apply_each_feedback_once(tmp_path, db, request):
    for rnd in range(3):
        shared = tmp_path / f"r{rnd}" / "shared.sqlite"
        shared.parent.mkdir()
        if db == "postgres":  # every process of the round opens the same fresh database
            from tests.support.postgres import fresh_database

            shared = fresh_database(request.getfixturevalue("pg_dsn"))
            (tmp_path / f"r{rnd}" / "dsn").write_text(shared)
        store_with(shared, 120).close()
        assert first_failure(_apply_all, tmp_path / f"r{rnd}", count=4, rounds=1) is None
        stats = ExperimentStore(shared).stats("m@1")
        want = {arm: [float(j % 3 == 0) for j in range(120) if "ab"[j % 2] == arm] for arm in "ab"}
        for arm in "ab":
            assert stats[arm].n == len(want[arm]) and stats[arm].total == sum(want[arm])


def test_offsets_commit_with_the_feedback(where):
    store = store_with(where, 2)
    store.feedback([Feedback("r0", 1.0, 1_000 * DAY)], {("t", 0): 5})
    assert store.offsets("t") == {0: 5}
    store.feedback([], {("t", 0): 9, ("t", 1): 2})
    assert store.offsets("t") == {0: 9, 1: 2}


def test_another_schema_version_is_refused(where):
    store = store_with(where, 1)
    store.db.execute("UPDATE skewless_experiments_schema SET version = 99")
    store.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        ExperimentStore(where)
