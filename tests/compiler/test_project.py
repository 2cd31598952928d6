"""Project files: config errors point into the YAML; models are checked against views."""

from __future__ import annotations

import pytest

from skewless.compiler.errors import SkewlessError
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project

VIEW = "SELECT user_id, ts, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}"


def diags(make_project, extra, views=None):
    root = make_project(views or {"v": VIEW}, extra)
    try:
        compiled = build_project(load_project(root))
    except SkewlessError as exc:
        return [d.format() for d in exc.diagnostics]
    return [d.format() for d in compiled.diagnostics]


def test_source_errors_point_at_yaml_lines(make_project):
    out = diags(make_project, {"sources/bad.yml": (
        "sources:\n"
        "  - name: bad\n"
        "    timestamp: when\n"
        "    columns:\n"
        "      - {name: id, type: text}\n"
        "      - {name: x, type: not_a_type}\n"
    )})
    assert any("sources/bad.yml:6:19: error: sources.0.columns.1.type: unknown SQL type 'not_a_type'" in d for d in out), out


def test_source_timestamp_must_be_a_declared_timestamp(make_project):
    out = diags(make_project, {"sources/bad.yml": (
        "sources:\n"
        "  - name: bad\n"
        "    timestamp: id\n"
        "    columns:\n"
        "      - {name: id, type: text}\n"
    )})
    assert any("sources/bad.yml:2:5: error: sources.0: timestamp column 'id' has type text" in d for d in out), out


def test_invalid_yaml_syntax(make_project):
    out = diags(make_project, {"sources/broken.yml": "sources:\n  - name: [unclosed\n"})
    assert any("broken.yml:3:1: error: invalid YAML" in d for d in out), out


def test_bad_lateness_duration(make_project):
    out = diags(make_project, {"skewless_project.yml": "name: fixture\nallowed_lateness: 1 month\n"})
    assert any("skewless_project.yml:2:1: error: allowed_lateness: invalid duration '1 month'" in d for d in out), out


def test_profiles_and_env_var(make_project, monkeypatch):
    monkeypatch.setenv("SKEWLESS_TEST_DSN", "postgresql://u@127.0.0.1:1/db")
    root = make_project({"v": VIEW}, {"profiles.yml": (
        "fixture:\n  target: prod\n  targets:\n    prod:\n      online: {store: postgres, dsn: \"{{ env_var('SKEWLESS_TEST_DSN') }}\"}\n"
    )})
    project = load_project(root)
    assert project.target_name == "prod" and project.target.online.dsn == "postgresql://u@127.0.0.1:1/db"
    assert project.target.batch.engine == "duckdb"


def test_unknown_target(make_project):
    root = make_project({"v": VIEW})
    out = diags(make_project, {"profiles.yml": "fixture:\n  targets:\n    dev: {}\n"})
    assert not out
    project = load_project(root, target="nope")
    assert any("unknown target 'nope'" in d.message for d in project.diagnostics.items)


MODEL_OK = """models:
  - name: m
    label: {source: labels, column: y}
    request_features: [amount]
    features:
      - view: v
"""
LABELS = """sources:
  - name: labels
    timestamp: ts
    columns:
      - {name: user_id, type: text}
      - {name: amount, type: double precision}
      - {name: ts, type: timestamptz}
      - {name: y, type: boolean}
      - {name: note, type: text}
"""


def test_model_ok(make_project):
    assert diags(make_project, {"models/m.yml": MODEL_OK, "sources/labels.yml": LABELS}) == []
    # a text feature need not be listed as categorical: it is one (see the trainer's test)
    assert diags(make_project, {"models/m.yml": MODEL_OK.replace("[amount]", "[amount, note]"),
                                "sources/labels.yml": LABELS}) == []


@pytest.mark.parametrize("model,expected", [
    (MODEL_OK.replace("column: y", "column: note"), "models/m.yml:3:29: error: model 'm': binary label 'note' has type text"),
    (MODEL_OK.replace("view: v", "view: nope"), "models/m.yml:6:9: error: model 'm': unknown view 'nope'"),
    (MODEL_OK.replace("[amount]", "[amount, missing]"), "models/m.yml:4:32: error: model 'm': request feature 'missing'"),
    (MODEL_OK + "        columns: [user_id]\n", "models/m.yml:7:19: error: model 'm': v.user_id is not an aggregate feature"),
    (MODEL_OK + "        join: {user_id: account}\n", "models/m.yml:7:9: error: model 'm': join column 'account'"),
    (MODEL_OK + "    categorical: [v__zzz]\n", "models/m.yml:7:19: error: model 'm': categorical feature 'v__zzz'"),
    (MODEL_OK.replace("source: labels", "source: nolabels"), "models/m.yml:3:13: error: model 'm': unknown label source"),
    (MODEL_OK + "    params_typo: 1\n", "models/m.yml:7:5: error: models.0.params_typo: Extra inputs are not permitted"),
    # a point in time is not a feature (a request feature, a view column named or read whole)
    (MODEL_OK.replace("[amount]", "[amount, ts]"), "models/m.yml:4:32: error: model 'm': feature 'ts' has type timestamptz"),
    (MODEL_OK.replace("features:\n      - view: v\n", "features:\n      - view: w\n        columns: [c, last_ts]\n"),
     "models/m.yml:7:22: error: model 'm': feature 'w__last_ts' has type timestamptz"),
    (MODEL_OK.replace("view: v", "view: w"), "models/m.yml:6:9: error: model 'm': feature 'w__last_ts' has type timestamptz"),
    # features with the request event: each label names its event by the source's unique key
    (MODEL_OK + "        at: request_event\n", "models/m.yml:7:9: error: model 'm': label source 'labels' has no column "
     "'txn_id'"),
    (MODEL_OK + "    on_demand: {r: amount / v__zz}\n", "models/m.yml:7:17: error: model 'm': on-demand feature 'r': "
     "unknown feature 'v__zz'"),
    (MODEL_OK + "    on_demand: {r: SUM(amount)}\n", "error: model 'm': on-demand feature 'r': aggregates, windows"),
    (MODEL_OK.replace("[amount]", "[amount, ts]") + "    on_demand: {r: amount + ts}\n",
     "error: model 'm': on-demand feature 'r': reads 'ts' of type timestamptz"),
    (MODEL_OK + "    on_demand: {v__c: amount}\n", "error: model 'm': on-demand feature 'v__c' has the name of another"),
    (MODEL_OK + "        at: now\n", "models/m.yml:7:9: error: models.0.features.0.at: Input should be 'as_of' or "
     "'request_event'"),
])
def test_model_errors(make_project, model, expected):
    views = {"v": VIEW, "w": VIEW.replace("AS c", "AS c, MAX(ts) OVER (PARTITION BY user_id ORDER BY ts) AS last_ts")}
    out = diags(make_project, {"models/m.yml": model, "sources/labels.yml": LABELS}, views)
    assert any(expected in d for d in out), out


EXPERIMENT = MODEL_OK + """    experiment:
      mode: ab
      arms:
        - {name: a}
        - {name: b, model: m2}
"""
M2 = "  - name: m2\n    label: {source: labels, column: y}\n    features:\n      - view: v\n"


@pytest.mark.parametrize("model,expected", [
    (EXPERIMENT, "models/m.yml:11:21: error: model 'm': arm 'b' names unknown model 'm2'"),
    (EXPERIMENT + M2.replace("labels", "other"), "models/m.yml:11:21: error: model 'm': arm 'b' is model 'm2' over label source 'other'"),
    (EXPERIMENT + M2 + "    objective: regression\n", "models/m.yml:11:21: error: model 'm': arm 'b' is a regression model"),
    (EXPERIMENT.replace("mode: ab", "mode: ab\n      sticky_by: [user]"), "models/m.yml:9:19: error: model 'm': sticky_by column 'user'"),
    (EXPERIMENT.replace("mode: ab", "mode: ab\n      weights: [1]"), "models/m.yml:7:5: error: models.0.experiment: 1 weights for 2 arms"),
    (EXPERIMENT.replace("mode: ab", "mode: canary"), "models/m.yml:8:7: error: models.0.experiment.mode: Input should be 'shadow', 'ab' or 'bandit'"),
])
def test_experiment_errors(make_project, model, expected):
    out = diags(make_project, {"models/m.yml": model, "sources/labels.yml": LABELS,
                               "sources/other.yml": LABELS.replace("name: labels", "name: other")})
    assert any(expected in d for d in out), out


def test_experiment_ok(make_project):
    assert diags(make_project, {"models/m.yml": EXPERIMENT + M2, "sources/labels.yml": LABELS}) == []


def test_example_project_is_valid():
    from pathlib import Path

    compiled = build_project(load_project(Path(__file__).parents[2] / "features"))
    assert compiled.diagnostics == []
    assert set(compiled.views) == {"user_velocity", "user_sequence", "merchant_risk", "card_activity",
                                   "user_merchant_mix", "user_burst_peak", "merchant_customer_risk",
                                   "user_merchant_risk"}
    # and every composition construct: a dimension join, views over ref() keyed alike and re-keyed,
    # a request-event feature
    assert compiled.views["user_merchant_mix"].joins and compiled.views["user_burst_peak"].input.kind == "view"
    rekeyed = compiled.views["merchant_customer_risk"]
    assert rekeyed.input.name == "user_merchant_mix" and rekeyed.entity != compiled.views["user_merchant_mix"].entity
    assert [j.view for j in compiled.views["user_merchant_risk"].view_joins] == ["merchant_risk"]
    assert any(r.at == "request_event" for m in compiled.project.models.values() for r in m.features)
    frames = {(a.frame.mode if a.frame else "lag", a.frame.exclude if a.frame else None)
              for v in compiled.views.values() for a in v.aggregates}
    # the example uses every frame kind and every EXCLUDE mode
    assert {("range", "no_others"), ("rows", "no_others"), ("lag", None), ("range", "current_row"),
            ("range", "group"), ("range", "ties")} <= frames


@pytest.mark.parametrize("body, expected", [
    ("    key: [nope]\n", "dimensions.0: key column 'nope' is not among the columns"),
    ("    key: []\n", "dimensions.0: a dimension needs a key"),
    ("    key: [id]\n    valid_from: since\n", "names both valid_from and valid_to"),
    ("    key: [id]\n    valid_from: id\n    valid_to: since\n", "valid_from column 'id' has type text, expected timestamptz"),
    ("    key: [id]\n    batch: {}\n", "a dimension needs batch.path (a file) or batch.table"),
])
def test_dimension_errors_point_at_yaml_lines(make_project, body, expected):
    batch = "" if "batch" in body else "    batch: {path: d.csv}\n"
    out = diags(make_project, {"sources/dims.yml": (
        "dimensions:\n"
        "  - name: shops\n"
        "    columns:\n"
        "      - {name: id, type: text}\n"
        "      - {name: since, type: timestamptz}\n" + body + batch)})
    assert any("sources/dims.yml:2:5: error: " in d and expected in d for d in out), out


def test_a_dimension_named_like_a_source_is_a_duplicate(make_project):
    out = diags(make_project, {"sources/dims.yml": (
        "dimensions:\n"
        "  - name: tx\n"
        "    key: [id]\n"
        "    columns:\n"
        "      - {name: id, type: text}\n"
        "    batch: {path: d.csv}\n")})
    assert any("error: duplicate source 'tx'" in d for d in out), out
