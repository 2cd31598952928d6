"""Write compiled artifacts under ``target/`` (the only I/O the compile step needs)."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write the output to; renamed over ``path`` when the
    block succeeds, deleted when it fails or is interrupted (Ctrl-C, SIGTERM): a reader sees the
    previous file or the whole new one, never a valid-looking part of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_artifacts(target_dir: Path, artifacts: dict[str, str | dict]) -> list[Path]:
    """Write the compiled artifacts; ``manifest.json`` last and atomically (the file a command loads
    must never be a part of one, nor newer than the files it names). One writer at a time (two
    commands compiling a stale project at once)."""
    import fcntl

    target_dir.mkdir(parents=True, exist_ok=True)
    with open(target_dir / ".compile.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for stale in ("compiled", "plan"):
                shutil.rmtree(target_dir / stale, ignore_errors=True)
            written = []
            for rel, content in sorted(artifacts.items(), key=lambda kv: (kv[0] == "manifest.json", kv[0])):
                path = target_dir / rel
                with atomic_output(path) as tmp:
                    if isinstance(content, dict):
                        tmp.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")
                    else:
                        tmp.write_text(content)
                written.append(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return written
