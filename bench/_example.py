"""The example project with generated events in a temporary directory (shared by the benches)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "skewless.runtime.cli"]


def example_project(tmp: str | Path, events: int, days: int) -> Path:
    root = Path(tmp) / "features"
    shutil.copytree(Path(__file__).parents[1] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
    subprocess.run([*CLI, "--project", str(root), "generate", "--events", str(events), "--days", str(days)],
                   check=True, capture_output=True)
    return root


def example_parser(events: int, days: int) -> argparse.ArgumentParser:
    """The benches' command line: --events and --days of the generated example data (defaults given)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--days", type=int, default=days)
    return parser
