"""docs/python-api.md runs as written: its Python blocks, top to bottom, in one namespace, on the
example project with generated events (a notebook, in effect)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from skewless.runtime.datagen import GenConfig, generate, write_all

ROOT = Path(__file__).parents[2]


def test_python_api_doc_runs(tmp_path):
    shutil.copytree(ROOT / "features", tmp_path / "features", ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=3, seed=4, late_rate=0.0)), tmp_path / "features" / "data")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python-api.md").read_text(), re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/python-api.md block {i + 1}", "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(cwd)
    assert namespace["training"].num_rows == 3000
