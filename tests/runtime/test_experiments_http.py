"""Experiments over real HTTP (`skewless serve`, uvicorn, two worker processes sharing the
experiment store): shadow never returns the shadow's score, A/B is sticky by entity key across
workers and restarts, the bandit's posteriors equal the closed form of the feedback sent and
survive a restart, delayed feedback joins decisions made before it; feedback from Kafka counts
once; the CLI report agrees."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.pg_local import free_port
from skewless.runtime.serving.scorer import Scorer
from skewless.runtime.stores import open_store
from skewless.runtime.training.trainer import model_artifact

EXAMPLE = Path(__file__).parents[2] / "features"


def cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The example project with a second model (fraud_small: other params) trained beside fraud."""
    root = tmp_path_factory.mktemp("exp") / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=6000, days=4, seed=21)), root / "data")
    text = (root / "models" / "fraud.yml").read_text()
    first = "  - name: " + text.split("models:\n", 1)[1].split("  - name: ")[1]  # the fraud model's block
    small = first.replace("name: fraud\n", "name: fraud_small\n") \
        .replace("num_leaves: 31", "num_leaves: 4").replace("learning_rate: 0.05", "learning_rate: 0.2")
    end = "    early_stopping_rounds: 40\n"  # the end of the fraud model's block: its experiment goes there
    (root / "models" / "base.txt").write_text(text.replace(end, end + "@@EXPERIMENT@@\n", 1).rstrip("\n") + "\n"
                                              + small)
    set_experiment(root, None)
    for args in (("replay",), ("train", "fraud"), ("train", "fraud_small")):
        proc = cli(root, *args)
        assert proc.returncode == 0, proc.stderr
    return root


def set_experiment(root: Path, block: str | None) -> None:
    """The fraud model's experiment: ``block`` (YAML under ``experiment:``) or none."""
    body = "" if block is None else "    experiment:\n" + "".join(f"      {line}\n" for line in block.splitlines())
    (root / "models" / "fraud.yml").write_text((root / "models" / "base.txt").read_text()
                                               .replace("@@EXPERIMENT@@\n", body).replace("\n\n", "\n"))


ARMS = "arms:\n  - {name: control}\n  - {name: small, model: fraud_small}"


class Client:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.base + path, data, {"content-type": "application/json"}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@contextmanager
def serving(root: Path, workers: int = 2):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "serve", "--port",
                             str(port), "--workers", str(workers), "--insecure"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    client = Client(port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "serve never answered"
            time.sleep(0.3)
        yield client
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def request(i: int, user: int | None = None) -> dict:
    return {"txn_id": f"t{i}", "user_id": f"u{(i if user is None else user) % 40:06d}", "merchant_id": "m00001",
            "card_id": "c000001_0", "amount": 10.0 + i % 97, "country": "US"}


def scorer(root: Path, model: str) -> Scorer:
    compiled = build_project(load_project(root))
    return Scorer(compiled, model_artifact(compiled.project.target_dir, model), open_store(
        compiled.project.target.online, root), check_skew=False)


def decisions(root: Path, experiment: str) -> dict[str, dict]:
    con = sqlite3.connect(root / "target" / "experiments.sqlite")
    cur = con.execute("SELECT * FROM skewless_decisions WHERE experiment = ?", (experiment,))
    names = [c[0] for c in cur.description]
    out = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    con.close()
    return out


score_request = request  # (tests taking pytest's `request` fixture)

AT = "2030-01-01T00:00:00Z"  # a fixed read time: the same features for every arm and the in-process scorer


def test_shadow_scores_every_arm_and_returns_only_the_primary(project):
    set_experiment(project, f"mode: shadow\n{ARMS}")
    fraud, small = scorer(project, "fraud"), scorer(project, "fraud_small")
    from datetime import datetime

    at = datetime.fromisoformat(AT.replace("Z", "+00:00"))
    with serving(project) as client:
        answers = []
        for i in range(40):
            status, body = client.call("POST", "/score/fraud", {**request(i), "at": AT})
            assert status == 200, body
            assert set(body) == {"model", "experiment", "score", "request_id", "arm", "version"}
            assert body["arm"] == "control"
            answers.append((i, body))
        status, batch = client.call("POST", "/score/fraud", {"rows": [request(i) for i in range(3)], "at": AT})
        assert status == 200 and [r["arm"] for r in batch["rows"]] == ["control"] * 3
        for i, body in answers:
            label = int(i % 3 == 0)
            assert client.call("POST", "/feedback", {"request_id": body["request_id"], "label": label})[0] == 200
        summary = client.call("GET", "/experiments/fraud")[1]
    log = decisions(project, answers[0][1]["experiment"])
    differ = 0
    for i, body in answers:
        want_fraud, _ = fraud.score(request(i), at)
        want_small, _ = small.score(request(i), at)
        assert body["score"] == pytest.approx(want_fraud, rel=1e-12)  # the primary's score, never the shadow's
        scores = json.loads(log[body["request_id"]]["scores"])
        assert scores["control"] == pytest.approx(want_fraud, rel=1e-12)
        assert scores["small"] == pytest.approx(want_small, rel=1e-12)  # the shadow was scored and logged
        differ += want_fraud != pytest.approx(want_small, rel=1e-6)
    assert differ > 30  # the two models really differ, so "never returned" is tested
    # each arm's log loss against the labels, from the logged scores
    by_arm = {a["arm"]: a for a in summary["arms"]}
    for arm, model_scores in (("control", [json.loads(log[b["request_id"]]["scores"])["control"] for _, b in answers]),
                              ("small", [json.loads(log[b["request_id"]]["scores"])["small"] for _, b in answers])):
        y = np.array([int(i % 3 == 0) for i, _ in answers], float)
        p = np.clip(np.array(model_scores), 1e-15, 1 - 1e-15)
        assert by_arm[arm]["metrics"]["logloss"] == pytest.approx(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))


def test_ab_is_sticky_by_entity_key_across_workers_and_restarts(project):
    set_experiment(project, f"mode: ab\nweights: [0.6, 0.4]\nseed: 7\n{ARMS}")
    seen: dict[str, set] = {}
    for _ in range(2):  # a restart in between
        with serving(project) as client:
            for i in range(120):
                status, body = client.call("POST", "/score/fraud", request(i))
                assert status == 200, body
                seen.setdefault(request(i)["user_id"], set()).add(body["arm"])
    assert all(len(arms) == 1 for arms in seen.values()), seen  # every key always met the same arm
    arms = [next(iter(a)) for a in seen.values()]
    assert 0.3 < arms.count("control") / len(arms) < 0.9 and "small" in arms
    log = decisions(project, body["experiment"])
    assert {(d["arm"], d["propensity"]) for d in log.values()} == {("control", 0.6), ("small", 0.4)}


def test_bandit_posteriors_follow_the_feedback_and_survive_a_restart(project):
    set_experiment(project, f"mode: bandit\nrefresh: 0s\n{ARMS}\nprior: {{alpha: 1, beta: 1}}")
    rng = np.random.default_rng(4)
    rate = {"control": 0.15, "small": 0.85}
    sent: dict[str, list] = {"control": [], "small": []}
    delayed = []
    with serving(project) as client:
        for i in range(240):
            status, body = client.call("POST", "/score/fraud", request(i))
            assert status == 200, body
            reward = int(rng.random() < rate[body["arm"]])
            if i % 10 == 9:
                delayed.append((body["request_id"], body["arm"], reward))  # answered after the restart
                continue
            assert client.call("POST", "/feedback", {"request_id": body["request_id"], "reward": reward})[0] == 200
            sent[body["arm"]].append(reward)
        experiment = body["experiment"]
        before = client.call("GET", "/experiments/fraud")[1]
        # the errors a feedback can meet
        rid = body["request_id"]
        assert client.call("POST", "/feedback", {"request_id": "nope", "reward": 1})[0] == 404
        assert client.call("POST", "/feedback", {"request_id": delayed[0][0], "reward": 2})[0] == 400
        assert client.call("POST", "/feedback", {"request_id": rid, "reward": 1, "extra": 1})[0] == 400
        assert client.call("POST", "/score/fraud", {**request(1), "request_id": rid})[0] == 409
    with serving(project) as client:  # a restart: the posteriors are where they were
        after = client.call("GET", "/experiments/fraud")[1]
        assert [a["posterior"] for a in after["arms"]] == [a["posterior"] for a in before["arms"]]
        for rid, arm, reward in delayed:  # feedback for decisions made before the restart
            status, body = client.call("POST", "/feedback", {"request_id": rid, "reward": reward})
            assert status == 200, body
            sent[arm].append(reward)
        assert client.call("POST", "/feedback", {"request_id": delayed[0][0], "reward": 1})[0] == 409
        final = client.call("GET", "/experiments/fraud")[1]
    assert final["id"] == experiment
    for a in final["arms"]:  # the closed form: Beta(1 + successes, 1 + failures)
        rewards = sent[a["arm"]]
        assert a["posterior"] == {"family": "beta", "alpha": 1 + sum(rewards), "beta": 1 + len(rewards) - sum(rewards)}
        assert a["feedback"] == len(rewards)
    log = decisions(project, experiment)
    assert sum(d["arm"] == "small" for d in list(log.values())[-60:]) > 45  # it learned which arm is better
    assert all(0 < d["propensity"] <= 1 for d in log.values())
    from skewless.runtime.api import Project

    assert [a["posterior"] for a in Project(project).experiment("fraud")["arms"]] == \
        [a["posterior"] for a in final["arms"]]
    # the CLI report reads the same store
    proc = cli(project, "experiments", "report", "fraud", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [a["posterior"] for a in report["arms"]] == [a["posterior"] for a in final["arms"]]
    html = project / "report.html"
    assert cli(project, "experiments", "report", "fraud", "--html", str(html)).returncode == 0
    assert "data:image/png;base64," in html.read_text()


@pytest.mark.kafka
def test_feedback_from_kafka_counts_each_message_once(project, kafka_broker):
    from skewless.runtime.kafka_local import create_topic, produce

    set_experiment(project, f"mode: ab\n{ARMS}")
    with serving(project, workers=1) as client:
        ids = [client.call("POST", "/score/fraud", request(i))[1]["request_id"] for i in range(20)]
        experiment = client.call("GET", "/experiments/fraud")[1]["id"]
    create_topic(kafka_broker, "feedback")
    good = [{"request_id": r, "reward": i % 2} for i, r in enumerate(ids[:15])]
    produce(kafka_broker, "feedback", [*good[:10], b"{not json", {"request_id": "nope", "reward": 1},
                                       {"request_id": ids[0], "reward": 1}, {"request_id": ids[16], "reward": 5}])
    proc = cli(project, "feedback", "--brokers", kafka_broker, "--topic", "feedback", "--idle-exit", "3")
    assert proc.returncode == 0, proc.stderr
    assert "14 messages, 10 applied, 4 dead letters" in proc.stdout, proc.stdout
    produce(kafka_broker, "feedback", good[10:])
    proc = cli(project, "feedback", "--brokers", kafka_broker, "--topic", "feedback", "--idle-exit", "3")
    assert "5 messages, 5 applied, 0 dead letters" in proc.stdout, proc.stdout  # resumed after its offsets
    log = decisions(project, experiment)
    assert sum(d["reward"] is not None for d in log.values()) == 15
    assert all(log[g["request_id"]]["reward"] == g["reward"] for g in good)
    dead = [json.loads(line) for line in (project / "target" / "feedback_dead_letters.jsonl").read_text().splitlines()]
    assert sorted(d["reason"].split(":")[0] for d in dead) == ["invalid feedback", "invalid feedback",
                                                               "not applied", "not applied"]


@pytest.mark.parametrize("state", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_continuous_rewards_have_the_normal_inverse_gamma_posterior(project, state, request):
    """Continuous rewards (in process, one worker): each arm's posterior equals the conjugate
    updates applied one reward at a time (tests/runtime/experiments/test_posterior.py); with the
    experiments' state in SQLite (target/) and in Postgres (the target's registry_dsn)."""
    from starlette.testclient import TestClient

    from skewless.compiler.config.experiments import PriorDef
    from skewless.runtime.serving.service import build_service
    from tests.runtime.experiments.test_posterior import sequential_nig

    set_experiment(project, f"mode: bandit\nreward: continuous\nprior: {{mean: 5, kappa: 2, alpha: 3, beta: 4}}\n{ARMS}")
    compiled = build_project(load_project(project))
    if state == "postgres":
        from tests.support.postgres import fresh_database

        dsn = fresh_database(request.getfixturevalue("pg_dsn"))
        target = compiled.project.target.model_copy(update={"registry_dsn": dsn})
        compiled.project.target = target
    client = TestClient(build_service(compiled))
    rng = np.random.default_rng(9)
    sent: dict[str, list] = {"control": [], "small": []}
    for i in range(80):
        body = client.post("/score/fraud", json=score_request(i)).json()
        reward = float(np.round(rng.normal(10 if body["arm"] == "small" else 7, 3), 3))
        assert client.post("/feedback", json={"request_id": body["request_id"], "reward": reward}).status_code == 200
        sent[body["arm"]].append(reward)
    assert client.post("/feedback", json={"request_id": body["request_id"], "reward": "high"}).status_code == 400
    spec = client.get("/openapi.json").json()
    assert {"/feedback", "/experiments/{model}", "/score/fraud"} <= set(spec["paths"])
    assert "request_id" in spec["components"]["schemas"]["fraud_request"]["properties"]
    metrics = client.get("/metrics").text
    assert 'skewless_feedback_total{status="applied"} 80.0' in metrics
    assert sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("skewless_experiment_decisions_total{")) == 80
    summary = client.get("/experiments/fraud").json()
    for arm in summary["arms"]:
        mu, kappa, alpha, beta = sequential_nig(PriorDef(mean=5, kappa=2, alpha=3, beta=4), sent[arm["arm"]])
        post = arm["posterior"]
        assert post["family"] == "normal-inverse-gamma"
        assert (post["mu"], post["kappa"], post["alpha"]) == (pytest.approx(mu), pytest.approx(kappa), pytest.approx(alpha))
        assert post["beta"] == pytest.approx(beta, rel=1e-9)


def test_batches_and_missing_feedback_counted_as_zero(project):
    """A batch of rows is routed row by row; feedback comes as a batch with a status per row; with
    `missing_feedback: zero` a decision still without feedback when its window ends counts as 0, once."""
    from starlette.testclient import TestClient

    from skewless.runtime.serving.service import build_service

    set_experiment(project, f"mode: ab\nfeedback_window: 1s\nmissing_feedback: zero\nrefresh: 0s\n{ARMS}")
    client = TestClient(build_service(build_project(load_project(project))))
    rows = [{**score_request(i), "request_id": f"b{i}"} for i in range(6)]
    body = client.post("/score/fraud", json={"rows": rows}).json()
    assert [r["request_id"] for r in body["rows"]] == [f"b{i}" for i in range(6)]
    arms = {r["request_id"]: r["arm"] for r in body["rows"]}
    assert client.post("/score/fraud", json={"rows": [rows[0], rows[0]]}).status_code in (400, 409)
    fb = client.post("/feedback", json={"rows": [{"request_id": "b0", "reward": 1}, {"request_id": "b1", "reward": 0},
                                                 {"request_id": "zz", "reward": 1}]}).json()
    assert [r["status"] for r in fb["results"]] == ["applied", "applied", "unknown"] and fb["applied"] == 2
    assert client.post("/feedback", json={"rows": [{"request_id": "b2", "reward": 7}]}).status_code == 400
    time.sleep(1.2)  # the window ends: b2..b5 become reward 0
    summary = client.get("/experiments/fraud").json()
    assert client.post("/feedback", json={"request_id": "b3", "reward": 1}).status_code == 409  # counted already
    want = {a: sum(1 for r, arm in arms.items() if arm == a) for a in ("control", "small")}
    got = {a["arm"]: (a["feedback"], a["posterior"]["alpha"]) for a in summary["arms"]}
    assert {a: n for a, (n, _) in got.items()} == want  # every decision counted once: 2 feedbacks + 4 zeros
    assert sum(alpha - 1 for _, alpha in got.values()) == 1  # one reward of 1 (b0)
