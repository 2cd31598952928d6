"""A throwaway PostgreSQL cluster (tests, `skewless parity --postgres local`): initdb + pg_ctl on a
free loopback port.

Postgres refuses to run as root, so when we are root the server runs as the ``postgres`` user
(via runuser). The cluster lives in a temporary directory and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("SKEWLESS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_process(name: str, cmd: list[str], ready, timeout: float):
    """Run a throwaway server ``cmd`` until the block ends; ``ready()`` returns True once it answers
    (it may raise while the server is starting). Stops it with SIGTERM, then SIGKILL."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                if ready():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer within {timeout:.0f} s")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _as_pg(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def available() -> bool:
    return (PG_BIN / "initdb").exists()


@contextlib.contextmanager
def throwaway_cluster():
    """Yields a DSN for a fresh database (user ``postgres``, trust auth, TimeZone UTC)."""
    root = Path(tempfile.mkdtemp(prefix="skewless-pg-"))
    data = root / "data"
    os.chmod(root, 0o777)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    subprocess.run(_as_pg([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                           "--no-sync", "-E", "UTF8"]), check=True, capture_output=True, env=env)
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC "
            "-c max_connections=50 -c shared_buffers=128MB")
    subprocess.run(_as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                           "start"]), check=True, capture_output=True, env=env)
    stop = _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    watchdog = _watchdog(stop, root, env)
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.time() + 20
        import psycopg

        while True:
            try:
                with psycopg.connect(dsn, connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        yield dsn
    finally:
        watchdog.kill()
        watchdog.wait()
        subprocess.run(stop, capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


_WATCH = """
import os, shutil, subprocess, sys, time, json
parent, stop, root = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    time.sleep(0.5)
subprocess.run(stop, capture_output=True)
shutil.rmtree(root, ignore_errors=True)
"""


def _watchdog(stop: list[str], root: Path, env: dict) -> subprocess.Popen:
    """A process that stops the cluster (immediate shutdown: running queries end too) and removes
    it if this process dies without cleaning up (SIGKILL, a timeout): otherwise the server and a
    busy backend outlive it (a killed 300k-row query ran on for 15 minutes)."""
    import json
    import sys

    return subprocess.Popen([sys.executable, "-c", _WATCH, str(os.getpid()), json.dumps(stop), str(root)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
