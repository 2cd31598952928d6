"""The throwaway Postgres cluster does not outlive a process killed without cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

pytestmark = pytest.mark.postgres

CHILD = """
import sys, time
from skewless.runtime.pg_local import throwaway_cluster
with throwaway_cluster() as dsn:
    print(dsn, flush=True)
    time.sleep(600)
"""


def test_a_killed_owner_takes_its_cluster_with_it():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    dsn = child.stdout.readline().strip()
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        root = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    assert os.path.isdir(root)
    os.kill(child.pid, signal.SIGKILL)  # no finally block runs
    child.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            psycopg.connect(dsn, connect_timeout=1).close()
        except psycopg.OperationalError:
            if not os.path.exists(root):
                break
        time.sleep(0.5)
    else:
        pytest.fail(f"the cluster {dsn} ({root}) outlived its killed owner")
