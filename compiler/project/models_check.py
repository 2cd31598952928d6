"""Check a model definition against the project's sources and compiled views."""

from __future__ import annotations

from typing import Any

from ..config import ModelDef
from ..errors import Diagnostic
from ..ir import FeatureView
from ..lower.types import kind
from .yaml_positions import locate


def feature_name(view: str, column: str) -> str:
    """The training-set / feature-vector column name of a view column."""
    return f"{view}__{column}"


def model_feature_columns(model: ModelDef, views: dict[str, FeatureView]) -> list[tuple[str, str, str]]:
    """(view, column, feature name) for every feature the model reads, in order."""
    out: list[tuple[str, str, str]] = []
    for ref in model.features:
        view = views[ref.view]
        cols = ref.columns or [c.name for c in view.columns if c.kind == "feature"]
        out.extend((ref.view, c, feature_name(ref.view, c)) for c in cols)
    return out


ON_DEMAND_INPUTS = ("numeric", "boolean", "text")


def on_demand_type(sql: str, inputs: dict[str, str]) -> tuple[str | None, str]:
    """(what is wrong with the on-demand expression ``sql`` over the features ``inputs`` (name ->
    type), or None; its type)."""
    import sqlglot
    from sqlglot import exp

    from ..functions import TypeErr, scalar_type

    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError as exc:
        return f"not an expression: {str(exc).splitlines()[0]}", ""
    if isinstance(tree, (exp.Select, exp.Query)) or tree.find(exp.Window, exp.AggFunc, exp.Select):
        return "aggregates, windows and subqueries belong in views", ""
    for col in tree.find_all(exp.Column):
        if col.name not in inputs:
            return f"unknown feature {col.name!r} (features: {', '.join(sorted(inputs))})", ""
        if kind(inputs[col.name]) not in ON_DEMAND_INPUTS:
            return f"reads {col.name!r} of type {inputs[col.name]} (on-demand features read numbers, booleans, text)", ""
    try:
        return None, scalar_type(sql, inputs)
    except TypeErr as exc:
        return exc.message, ""
    except Exception as exc:  # noqa: BLE001 - anything else the checker refuses
        return str(exc), ""


def check_model(model: ModelDef, project: Any, views: dict[str, FeatureView], path: str, data: Any,
                index: int) -> list[Diagnostic]:
    diags: list[Diagnostic] = []

    def add(loc: tuple[Any, ...], message: str, hint: str = "") -> None:
        line, col = locate(data, ("models", index, *loc))
        diags.append(Diagnostic(path, line, col, message, hint))

    label_src = project.sources.get(model.label.source)
    if label_src is None:
        add(("label", "source"), f"model {model.name!r}: unknown label source {model.label.source!r}",
            f"declared sources: {', '.join(sorted(project.sources))}")
        return diags
    label_cols = label_src.column_types()
    if model.label.column not in label_cols:
        add(("label", "column"), f"model {model.name!r}: label column {model.label.column!r} is not in source {label_src.name!r}",
            f"columns: {', '.join(label_cols)}")
    elif model.objective == "binary" and kind(label_cols[model.label.column]) not in ("boolean", "numeric"):
        add(("label", "column"), f"model {model.name!r}: binary label {model.label.column!r} has type {label_cols[model.label.column]}",
            "use a boolean or 0/1 integer column")
    ts = model.label.timestamp or label_src.timestamp
    if ts not in label_cols or not label_cols[ts].startswith("timestamp"):
        add(("label", "timestamp"), f"model {model.name!r}: label timestamp {ts!r} is not a timestamp column of {label_src.name!r}")
    for col_i, col in enumerate(model.request_features):
        if col not in label_cols:
            add(("request_features", col_i), f"model {model.name!r}: request feature {col!r} is not in source {label_src.name!r}")
    names: list[str] = list(model.request_features)
    types: dict[str, tuple[tuple[Any, ...], str]] = {  # feature -> (where it is named, its type)
        col: (("request_features", i), label_cols[col]) for i, col in enumerate(model.request_features)
        if col in label_cols}
    for i, ref in enumerate(model.features):
        view = views.get(ref.view)
        if view is None:
            if ref.view in project.views:
                continue  # the view failed to compile; its own error is reported
            add(("features", i, "view"), f"model {model.name!r}: unknown view {ref.view!r}",
                f"views: {', '.join(sorted(project.views))}")
            continue
        out_cols = {c.name: c for c in view.columns}
        for j, col in enumerate(ref.columns or []):
            if col not in out_cols:
                add(("features", i, "columns", j), f"model {model.name!r}: view {ref.view!r} has no column {col!r}",
                    f"columns: {', '.join(out_cols)}")
            elif out_cols[col].kind != "feature":
                add(("features", i, "columns", j), f"model {model.name!r}: {ref.view}.{col} is not an aggregate feature",
                    "pass-through columns are known at request time: list them under request_features")
        if ref.at == "request_event":
            if view.input.kind != "source":
                add(("features", i, "at"), f"model {model.name!r}: {ref.view!r} reads {view.input.name!r}, another view: "
                    "features with the request event are computed from a source's events", "use at: as_of")
            elif view.view_joins:
                add(("features", i, "at"), f"model {model.name!r}: {ref.view!r} joins view "
                    f"{view.view_joins[0].view!r}, which has no row for an event not recorded yet", "use at: as_of")
            elif not view.unique_key:
                add(("features", i, "at"), f"model {model.name!r}: source {view.root_source!r} of {ref.view!r} declares "
                    "no unique_key: a label cannot name its event", "declare the source's unique_key")
            for k in view.unique_key:
                if k not in label_cols:
                    add(("features", i, "at"), f"model {model.name!r}: label source {label_src.name!r} has no column "
                        f"{k!r}: each label joins the per-event row of its event by {view.root_source!r}'s unique key "
                        f"({', '.join(view.unique_key)})", f"columns: {', '.join(label_cols)}")
        join = ref.join or {k: k for k in view.entity}
        if sorted(join) != sorted(view.entity):
            add(("features", i, "join"), f"model {model.name!r}: join for {ref.view!r} must map the view's entity key "
                f"({', '.join(view.entity)})", f"e.g. join: {{{view.entity[0]}: {view.entity[0]}}}")
        for label_col in join.values():
            if label_col not in label_cols:
                add(("features", i, "join"), f"model {model.name!r}: join column {label_col!r} is not in label source "
                    f"{label_src.name!r}", f"columns: {', '.join(label_cols)}")
        cols = ref.columns or [c.name for c in view.columns if c.kind == "feature"]
        names.extend(f"{ref.view}__{c}" for c in cols)
        for j, c in enumerate(cols):
            if c in out_cols:
                types[feature_name(ref.view, c)] = (("features", i, "columns", j) if ref.columns else ("features", i, "view"),
                                                    out_cols[c].type)
    inputs = {feat: typ for feat, (_, typ) in types.items()}
    for name, sql in model.on_demand.items():
        loc = ("on_demand", name)
        if name in inputs:
            add(loc, f"model {model.name!r}: on-demand feature {name!r} has the name of another feature")
            continue
        problem, typ = on_demand_type(sql, inputs)
        if problem:
            add(loc, f"model {model.name!r}: on-demand feature {name!r}: {problem}",
                "an expression over request_features and <view>__<column> features (numbers, booleans, text)")
            continue
        names.append(name)
        types[name] = (loc, typ)
    for feat, (loc, typ) in types.items():
        # numbers, booleans and intervals are numeric features; text is categorical (automatically
        # when not listed); a point in time has no meaning a model could learn across time
        if kind(typ) not in ("numeric", "boolean", "interval", "text"):
            add(loc, f"model {model.name!r}: feature {feat!r} has type {typ}: a model reads numbers, booleans, "
                "intervals and text (categories)",
                "use a duration or a number of it, e.g. EXTRACT(EPOCH FROM ts - LAG(ts) OVER (...))")
    for j, cat in enumerate(model.categorical):
        if cat not in names:
            add(("categorical", j), f"model {model.name!r}: categorical feature {cat!r} is not one of its features",
                "name a request feature or <view>__<column>")
    for j, feat in enumerate(model.baseline_features or []):
        if feat not in names:
            add(("baseline_features", j), f"model {model.name!r}: baseline feature {feat!r} is not one of its features",
                "name a request feature or <view>__<column>")
    if model.experiment is not None:
        diags.extend(_check_experiment(model, project, label_cols, add))
    return diags


def _check_experiment(model: ModelDef, project: Any, label_cols: dict[str, str], add) -> list[Diagnostic]:
    """An experiment's arms are models over the same label source (one request serves them all)."""
    exp = model.experiment
    assert exp is not None
    for i, arm in enumerate(exp.arms):
        other = project.models.get(arm.model or model.name)
        if other is None:
            add(("experiment", "arms", i, "model"), f"model {model.name!r}: arm {arm.name!r} names unknown model "
                f"{arm.model!r}", f"models: {', '.join(sorted(project.models))}")
        elif other.label.source != model.label.source:
            add(("experiment", "arms", i, "model"), f"model {model.name!r}: arm {arm.name!r} is model {other.name!r} "
                f"over label source {other.label.source!r}, not {model.label.source!r}",
                "every arm must answer the same request: models over the same label source")
        elif other.objective != model.objective:
            add(("experiment", "arms", i, "model"), f"model {model.name!r}: arm {arm.name!r} is a {other.objective} "
                f"model, {model.name!r} is {model.objective}")
    for j, col in enumerate(exp.sticky_by or []):
        if col not in label_cols:
            add(("experiment", "sticky_by", j), f"model {model.name!r}: sticky_by column {col!r} is not in label "
                f"source {model.label.source!r}", f"columns: {', '.join(label_cols)}")
    return []
