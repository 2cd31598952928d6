"""A recovery directory belongs to one running job and one set of views: a second process on it is
refused while the first runs (and after a SIGKILL the lock is gone with the process); a restart
with a changed view is refused with the view named; the unchanged job resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skewless.runtime.datagen import GenConfig, generate, write_all

pytestmark = pytest.mark.faults
EXAMPLE = Path(__file__).parents[2] / "features"


def _cli(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args]


def _start(project: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(_cli(project, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_one_job_per_recovery_directory_and_view_changes_are_refused(tmp_path):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=2000, days=1, seed=3)), root / "data")
    rec = root / "target" / "recovery"
    first = _start(root, "run", "--no-progress", "--select", "user_velocity")
    try:
        _wait_for(rec / "skewless-recovery.json")
        time.sleep(1.0)
        second = subprocess.run(_cli(root, "run", "--no-progress", "--select", "user_velocity"),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "the recovery directory is in use by pid" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: the kernel releases the lock
        first.wait(timeout=30)

    # a changed view cannot resume the old view's state
    view = root / "features" / "user_velocity.sql"
    original = view.read_text()
    view.write_text(original.replace("trailing('1 hour')", "trailing('2 hours')", 1))
    changed = subprocess.run(_cli(root, "run", "--no-progress", "--until-end", "--select", "user_velocity"),
                             capture_output=True, text=True, timeout=120)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "view user_velocity changed (fingerprint" in changed.stderr
    # another selection of views is another job (on a cold start: a warm one continues added views
    # from the online store)
    other = subprocess.run(_cli(root, "run", "--no-progress", "--until-end", "--cold"), capture_output=True, text=True,
                           timeout=120)
    assert other.returncode == 1 and "was not in it" in other.stderr, other.stderr

    # the job that wrote the state resumes after its SIGKILL
    view.write_text(original)
    again = subprocess.run(_cli(root, "run", "--no-progress", "--until-end", "--select", "user_velocity"),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
