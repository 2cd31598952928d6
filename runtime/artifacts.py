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
    for stale in ("compiled", "plan"):
        shutil.rmtree(target_dir / stale, ignore_errors=True)
    written = []
    for rel, content in sorted(artifacts.items()):
        path = target_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")
        else:
            path.write_text(content)
        written.append(path)
    return written
