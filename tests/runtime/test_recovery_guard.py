"""The recovery directory's guard (runtime/stream/recovery.py) when the processes of one cluster
start together on a new directory: each writes the same manifest, none fails (CI failure: both
wrote it through one temporary file name and one found it renamed away)."""

from __future__ import annotations

from skewless.runtime.stream.recovery import RecoveryGuard, expected
from tests.support.together import first_failure


def _enter(where, i: int) -> None:
    with RecoveryGuard(where / "recovery", i, expected("p", {"v": "fp"}, "kafka")):
        pass


def test_processes_of_one_cluster_start_together(tmp_path):
    failure = first_failure(_enter, tmp_path)
    assert failure is None, failure
