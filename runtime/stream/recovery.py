"""Guarding a recovery directory: one process per (directory, process id), one project in it.

* A lock file per process id (``flock``, released by the kernel when the process dies, so a
  SIGKILLed job never leaves a stale lock): a second process started on the same directory is
  refused while the first runs. Two processes writing one Bytewax recovery store leave it in a
  state neither can resume from.
* ``skewless-recovery.json`` records what the snapshots were built from: the source kinds and the
  fingerprint of every view. A start with other views (changed, added or removed) or another
  project is refused: resuming window state under a different view would silently compute wrong
  values. A view *added* to the job is accepted on a warm start (its keys continue from the online
  store, seeded by ``backfill --to-online``); without one it would start without its history.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from skewless.compiler.contract import Diagnostic, SkewlessError

FORMAT = 5  # 5: snapshots in state format 3; 4: batch steps (new step ids); 3: snapshots in state format 2 of docs/state-format.md (1: pickles; 2: state format 1)
MANIFEST = "skewless-recovery.json"


def expected(project: str, views: dict[str, str], kind: str) -> dict:
    return {"format": FORMAT, "project": project, "stream": kind, "views": dict(sorted(views.items()))}


class RecoveryGuard:
    def __init__(self, directory: Path, process_id: int | None, manifest: dict, allow_added: bool = False):
        self.dir, self.pid, self.manifest, self.allow_added = directory, process_id or 0, manifest, allow_added
        self.resumed = False       # the directory held this job's snapshots: the input resumes from them
        self.added: set[str] = set()  # views new to the job (allow_added): no snapshot holds them
        self.fh = None

    def __enter__(self) -> "RecoveryGuard":
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = self.dir / f"skewless-process-{self.pid}.lock"
        self.fh = open(lock, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            self.fh = None
            raise SkewlessError(Diagnostic(
                str(self.dir), 1, 1, f"the recovery directory is in use by {holder} (process id {self.pid})",
                "stop that job first, or give this one its own --recovery-dir")) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self.fh.flush()
        self._check_manifest()
        return self

    def _check_manifest(self) -> None:
        path = self.dir / MANIFEST
        has_state = any(self.dir.glob("*.sqlite3"))
        if not path.exists():
            if has_state:
                raise SkewlessError(Diagnostic(str(self.dir), 1, 1, "the recovery directory holds snapshots of "
                                               "unknown origin (no skewless-recovery.json)",
                                               "use an empty --recovery-dir")) from None
            # the processes of one cluster start together and write the same content, each through
            # its own temporary file (one shared name: a process found it renamed away by another)
            tmp = path.with_suffix(f".{self.pid}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
            os.replace(tmp, path)
            return
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            raise SkewlessError(Diagnostic(str(path), 1, 1, "unreadable recovery manifest",
                                           "use an empty --recovery-dir")) from None
        self.resumed = True
        self.added = set(self.manifest["views"]) - set(found.get("views") or {})
        problems = _differences(found, self.manifest, self.allow_added)
        if problems:
            raise SkewlessError(Diagnostic(
                str(path), 1, 1, "the recovery state was written by another job: " + "; ".join(problems),
                "resuming it would compute wrong values: start with an empty --recovery-dir "
                "(and backfill --to-online to start warm), or run the job that wrote it")) from None
        if found != self.manifest:  # views were added (warm start): later starts check against them too
            tmp = path.with_suffix(f".{self.pid}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
            os.replace(tmp, path)

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


def _differences(found: dict, want: dict, allow_added: bool = False) -> list[str]:
    out = []
    if found.get("format") != want["format"]:
        out.append(f"format {found.get('format')} (this version writes {want['format']})")
    if found.get("project") != want["project"]:
        out.append(f"project {found.get('project')!r}, not {want['project']!r}")
    if found.get("stream") != want["stream"]:
        out.append(f"a {found.get('stream')} stream, not {want['stream']}")
    old, new = found.get("views") or {}, want["views"]
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            out.append(f"view {name} is not in this job")
        elif name not in old:
            if not allow_added:
                out.append(f"view {name} was not in it (a warm start, the default, continues it from the online store)")
        elif old[name] != new[name]:
            out.append(f"view {name} changed (fingerprint {old[name]} -> {new[name]})")
    return out
