"""`skewless docs generate` checked in a real headless Chromium: the rendered DOM holds every
source, view and model of the example project (lineage nodes and edges, columns, SQL, versions),
the links resolve to pages that exist, and the screenshot is a rendered page, not a blank one."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from skewless.runtime.datagen import GenConfig, generate, write_all
from tests.runtime.test_experiments_http import cli

EXAMPLE = Path(__file__).parents[2] / "features"
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def render(chromium: str, page: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *HEADLESS, *extra, page.as_uri()], capture_output=True, text=True, timeout=120)


@pytest.mark.chromium
def test_docs_site_renders_the_project_in_chromium(tmp_path, chromium):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=3, seed=2)), root / "data")
    for args in (("replay",), ("train", "fraud"), ("docs", "generate")):
        proc = cli(root, *args)
        assert proc.returncode == 0, proc.stderr
    site = root / "target" / "docs"
    dom = render(chromium, site / "index.html", "--dump-dom").stdout
    for kind, name in [("source", "transactions"), ("source", "labels"), ("view", "user_velocity"),
                       ("view", "user_sequence"), ("view", "merchant_risk"), ("view", "card_activity"),
                       ("view", "user_merchant_mix"), ("view", "user_burst_peak"), ("view", "merchant_customer_risk"),
                       ("view", "user_merchant_risk"),
                       ("dimension", "merchants"),
                       ("model", "fraud"), ("model", "fraud_composed")]:
        assert f'id="node-{kind}-{name}"' in dom, (kind, name)
    # transactions -> its 6 views, user_velocity -> user_burst_peak, user_merchant_mix ->
    # merchant_customer_risk, merchant_risk -> user_merchant_risk (joined), merchants -> user_merchant_mix,
    # each model's views -> it, labels -> each model
    assert dom.count('class="edge"') == 6 + 1 + 1 + 1 + 1 + (4 + 1) + (8 + 1)
    champion = re.search(r"<td>(v\d{8}T\d{6}\w*)</td>", dom.split('id="models"')[1]).group(1)
    for href in set(re.findall(r'href="((?:views|models)/[^"]+)"', dom)):
        assert (site / href).exists(), href
    view = render(chromium, site / "views" / "user_velocity.html", "--dump-dom").stdout
    assert 'id="columns"' in view and "txn_count_1h" in view and "bigint" in view and "OVER" in view
    assert "duckdb" in view and "postgres" in view  # the compiled SQL per dialect
    model = render(chromium, site / "models" / "fraud.html", "--dump-dom").stdout
    assert champion in model and "champion" in model and "user_velocity__txn_count_1h" in model
    assert 'alt="importance"' in model
    shot = tmp_path / "index.png"
    proc = render(chromium, site / "index.html", f"--screenshot={shot}", "--window-size=1300,900")
    assert shot.exists(), proc.stderr[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[0] == 900 and pixels.shape[1] == 1300
    colors = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colors) > 50  # text, boxes, edges: a rendered page (a blank one has a handful of colors)


def test_the_site_reads_the_compiled_artifact_of_this_compile(tmp_path):
    """target/ is read when it holds the very compile the site is for; otherwise the artifact is
    built again (never a stale target/ shown as the project)."""
    import skewless
    from skewless.compiler.contract import build_artifacts
    from skewless.runtime.docs_site import _OnDisk, artifact_of

    root = tmp_path / "proj"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    compiled = skewless.Project(root).compiled  # compiles and writes target/
    on_disk = artifact_of(compiled)
    built = build_artifacts(compiled)
    assert isinstance(on_disk, _OnDisk)
    assert on_disk["manifest.json"]["views"] == built["manifest.json"]["views"]
    rel = built["manifest.json"]["views"]["user_velocity"]["compiled"]["duckdb"]["path"]
    assert on_disk[rel] == built[rel]
    (root / "target" / rel).write_text("-- tampered")  # what target/ holds is what is shown
    assert artifact_of(compiled)[rel] == "-- tampered"
    compiled.inputs = {**compiled.inputs, "vars": "other"}  # another compile: target/ is not its artifact
    assert not isinstance(artifact_of(compiled), _OnDisk)
