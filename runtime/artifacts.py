"""Write compiled artifacts under ``target/`` (the only I/O the compile step needs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


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
