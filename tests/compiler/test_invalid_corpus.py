"""Every file in invalid/ must fail validate with its intended message at its intended place.

Each file starts with two Jinja comments: ``{# expect: <message fragment> #}`` and
``{# at: '<text>' #}``; the error must point at the first occurrence of <text> below the header
(line and column in the original file, whatever Jinja rendering did to it).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = sorted((Path(__file__).parent / "invalid").glob("*.sql"))


def expectation(path: Path) -> tuple[str, int, int]:
    lines = path.read_text().split("\n")
    expect = lines[0].removeprefix("{# expect: ").removesuffix(" #}")
    at = ast.literal_eval(lines[1].removeprefix("{# at: ").removesuffix(" #}"))
    text = "\n".join(lines[2:])
    index = text.index(at)
    line = text.count("\n", 0, index) + 3
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return expect, line, col


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_view(path, compile_views):
    expect, line, col = expectation(path)
    compiled = compile_views({path.stem: path.read_text()})
    mine = [d for d in compiled.diagnostics if d.path.endswith(f"{path.stem}.sql")]
    assert mine, f"no error for {path.name}; got {[d.format() for d in compiled.diagnostics]}"
    first = mine[0]
    assert expect in first.message, first.format()
    assert (first.line, first.col) == (line, col), first.format()
    assert first.hint, "every error carries a hint"
    assert first.format().startswith(f"{first.path}:{line}:{col}: error: ")


def test_cli_reports_every_error_at_once(tmp_path, make_project):
    root = make_project({p.stem: p.read_text() for p in CORPUS})
    env = {**os.environ, "COLUMNS": "400"}
    env.pop("SKEWLESS_TEST_UNSET_VAR", None)
    proc = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "validate"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    for path in CORPUS:
        expect, line, col = expectation(path)
        assert f"{path.stem}.sql:{line}:{col}: error: " in proc.stderr, path.name
    assert f"{len(CORPUS)} errors" in proc.stderr
