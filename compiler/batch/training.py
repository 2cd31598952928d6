"""Point-in-time training sets: every label row joined, as of its own timestamp, with each feature
the model reads (semantics §1.2). One as-of pass per view over a spine built from the labels; a
feature read ``at: request_event`` (§1.3) is the per-event row of the label's own event."""

from __future__ import annotations

from sqlglot import exp

from ..config import ModelDef, SourceDef
from ..ir import FeatureView
from ..project.models_check import feature_name, model_feature_columns
from .as_of import SPINE_ID, SPINE_T, as_of_query, with_clause
from .per_event import per_event_query
from .capabilities import caps
from .inputs import input_for
from .windows import P, interval_sql, quote

LABEL = "label"


def _pieces(model: ModelDef, label_source: SourceDef, views: dict[str, FeatureView], dialect: str,
            tables: dict[str, str] | None):
    tables = tables or {}
    label_table = tables.get(label_source.name) or quote(label_source.name)
    ts = quote(model.label.timestamp or label_source.timestamp)
    order = ", ".join([ts, *map(quote, label_source.unique_key)])
    labels = ("__labels", f"SELECT *, ROW_NUMBER() OVER (ORDER BY {order}) AS {SPINE_ID} FROM {label_table} AS __l")
    wanted: dict[str, list[tuple[str, str]]] = {}
    for view_name, column, name in model_feature_columns(model, views):
        wanted.setdefault(view_name, []).append((column, name))
    per_ref = []
    for i, ref in enumerate(model.features):
        view = views[ref.view]
        columns = [f"__f{i}.{quote(column)} AS {quote(name)}" for column, name in wanted[ref.view]]
        if ref.at == "request_event":  # the per-event row of the label's own event (semantics §1.3)
            rows = per_event_query(view, dialect, input_for(view, views, dialect, tables), carry=view.unique_key)
            on = " AND ".join(f"__f{i}.{quote('__event_' + k)} = l.{quote(k)}" for k in view.unique_key)
            per_ref.append(([(f"__f{i}", rows)], columns, on))
            continue
        join = ref.join or {k: k for k in view.entity}
        spine_cols = ", ".join(f"{quote(join[k])} AS {quote(k)}" for k in view.entity)
        read_at = f"{ts} - {interval_sql(model.features_as_of)}" if model.features_as_of else ts
        ctes = [(f"__spine{i}", f"SELECT {spine_cols}, {read_at} AS {SPINE_T}, {SPINE_ID} FROM __labels"),
                (f"__f{i}", as_of_query(view, dialect, input_for(view, views, dialect, tables), f"__spine{i}"))]
        per_ref.append((ctes, columns, None))
    base = [f"l.{SPINE_ID}", *[f"l.{quote(k)}" for k in label_source.unique_key if k != model.label.column],
            f"l.{ts} AS {quote('ts')}" if ts != quote("ts") else f"l.{ts}",
            f"l.{quote(model.label.column)} AS {quote(LABEL)}",
            *[f"l.{quote(c)}" for c in model.request_features if c not in label_source.unique_key]]
    return labels, base, per_ref


def training_set_query(model: ModelDef, label_source: SourceDef, views: dict[str, FeatureView], dialect: str,
                       tables: dict[str, str] | None = None) -> exp.Select:
    """Columns: ``__spine_id``, the label source's unique key, ``ts`` (label time), ``label``, the
    request features, then one column per feature named ``<view>__<column>``, each as of the
    label's time minus the model's ``features_as_of`` offset (serving subtracts the same)."""
    labels, base, per_ref = _pieces(model, label_source, views, dialect, tables)
    ctes: list[tuple[str, str | exp.Expression]] = [labels]
    select, joins = list(base), []
    for i, (ref_ctes, columns, on) in enumerate(per_ref):
        ctes.extend(ref_ctes)
        joins.append(f"LEFT JOIN __f{i} ON {on or f'__f{i}.{SPINE_ID} = l.{SPINE_ID}'}")
        select.extend(columns)
    tree = P(f"SELECT {', '.join(dict.fromkeys(select))} FROM __labels AS l {' '.join(joins)}")
    tree.set("with_", with_clause(ctes, caps(dialect).materialized_cte))
    return tree


def training_set_parts(model: ModelDef, label_source: SourceDef, views: dict[str, FeatureView], dialect: str,
                       tables: dict[str, str] | None = None) -> list[str]:
    """The training set as independent queries, for engines that run them in parallel sessions:
    the first gives the label columns, each other one the features of one ``features`` entry; every
    query returns one row per label with its ``__spine_id`` (1..n, the same numbering in each).
    Their columns side by side, rows matched by ``__spine_id``, are `training_set_query`'s."""
    labels, base, per_ref = _pieces(model, label_source, views, dialect, tables)
    materialized = caps(dialect).materialized_cte
    queries = []
    head = P(f"SELECT {', '.join(base)} FROM __labels AS l")
    head.set("with_", with_clause([labels], materialized))
    queries.append(head.sql(dialect=dialect))
    for i, (ref_ctes, columns, on) in enumerate(per_ref):
        # every label has one as-of row (one event: its unique key): a 1:1 match with the labels
        if on is None:
            q = P(f"SELECT __f{i}.{SPINE_ID}, {', '.join(columns)} FROM __f{i}")
        else:
            q = P(f"SELECT l.{SPINE_ID}, {', '.join(columns)} FROM __labels AS l LEFT JOIN __f{i} ON {on}")
        q.set("with_", with_clause([labels, *ref_ctes], materialized))
        queries.append(q.sql(dialect=dialect))
    return queries


def training_set_sql(model: ModelDef, label_source: SourceDef, views: dict[str, FeatureView], dialect: str,
                     tables: dict[str, str] | None = None, pretty: bool = False) -> str:
    return training_set_query(model, label_source, views, dialect, tables).sql(dialect=dialect, pretty=pretty)


__all__ = ["LABEL", "feature_name", "training_set_parts", "training_set_query", "training_set_sql"]
