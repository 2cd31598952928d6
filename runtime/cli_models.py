"""``skewless models ls|show|promote|rollback``: the model registry (runtime/registry)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import typer

from skewless.compiler.errors import Diagnostic

from .cli_common import _fail, app, compile_project

models_app = typer.Typer(no_args_is_help=True, help="The model registry: versions, lineage, aliases.")
app.add_typer(models_app, name="models")


def _registry():
    from .registry.store import Registry

    compiled = compile_project()
    path = compiled.project.target_dir / "registry.sqlite"
    if not path.exists():
        _fail([Diagnostic(str(path), 1, 1, "no model has been trained yet", "run skewless train MODEL")])
    return compiled, Registry(path)


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _auc(rec: dict) -> str:
    v = rec["metrics"].get("validation", {})
    return "-" if v.get("auc") is None else f"{v['auc']:.4f}"


@models_app.command("ls")
def models_ls(model: Optional[str] = typer.Argument(None, help="One model (default: all)."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Every registered version: created, kind, parent, trigger, rows, validation AUC, aliases."""
    compiled, registry = _registry()
    names = [model] if model else sorted(compiled.project.models)
    aliases = registry.aliases()
    rows = []
    for name in names:
        for rec in registry.versions(name):
            tags = sorted(a for (m, a), v in aliases.items() if m == name and v == rec["version"])
            rows.append({**{k: rec[k] for k in ("model", "version", "parent", "kind", "trigger", "reason", "rows",
                                                "rows_read", "data_from", "data_to")},
                         "created": _when(rec["created_us"]), "auc": _auc(rec), "aliases": tags})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['model']:<14} {r['version']:<20} {r['created']}  {r['kind']:<8} parent {r['parent'] or '-':<20} "
              f"{r['trigger']:<8} rows {r['rows']:>8,} (read {r['rows_read']:>8,})  AUC {r['auc']}  "
              f"{' '.join(r['aliases'])}")


@models_app.command("show")
def models_show(model: str = typer.Argument(...), version: str = typer.Argument("champion", help="A version or an alias.")) -> None:
    """One version: everything recorded, its lineage back to the first full training, the retrain runs."""
    _, registry = _registry()
    resolved = registry.alias(model, version) or version
    rec = registry.version(model, resolved)
    if rec is None:
        _fail([Diagnostic(f"model {model}", 1, 1, f"no version or alias {version!r}", "see skewless models ls")])
    print(json.dumps({**rec, "created": _when(rec["created_us"]),
                      "lineage": [f"{r['version']} ({r['kind']}, {r['trigger']}: {r['reason'] or '-'})"
                                  for r in registry.lineage(model, resolved)],
                      "retrain_runs": registry.runs(model)}, indent=2, default=str))


@models_app.command("promote")
def models_promote(model: str = typer.Argument(...), version: str = typer.Argument(..., help="A version or an alias."),
                   alias: str = typer.Option("champion", "--alias", help="The alias to move.")) -> None:
    """Point an alias (default: champion) at a version; `serve` follows it without a restart."""
    from .registry.store import RegistryError

    _, registry = _registry()
    resolved = registry.alias(model, version) if registry.version(model, version) is None else version
    try:
        previous = registry.promote(model, resolved or version, alias)
    except RegistryError as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    print(f"{model}: {alias} {previous or '-'} → {resolved or version}")


@models_app.command("rollback")
def models_rollback(model: str = typer.Argument(...), alias: str = typer.Option("champion", "--alias")) -> None:
    """Point the alias back at the version it named before its last promotion."""
    from .registry.store import RegistryError

    _, registry = _registry()
    try:
        current, target = registry.rollback(model, alias)
    except RegistryError as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    print(f"{model}: {alias} {current} → {target} (rolled back)")


def continue_from(compiled, model: str, path, parent: str, since: str | None, method: str, compare: bool,
                  promote: bool, trigger: str = "manual", reason: str = "") -> str:
    """`train --continue`: fine-tune ``parent`` on the labels after ``since``; print the comparison;
    register the new version (challenger, or champion with ``promote``). Returns the version."""
    from .registry.store import Registry
    from .training.continual import continue_training
    from .training.trainer import TrainingSetError

    when = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            _fail([Diagnostic("--since", 1, 1, f"not an ISO-8601 time: {since!r}", "e.g. 2026-10-03T00:00:00Z")])
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    try:
        result = continue_training(compiled, model, path, parent, when, method, compare,
                                   lineage={"trigger": trigger, "reason": reason or f"{method} from {parent}"})
    except (TrainingSetError, FileNotFoundError) as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    print(f"{model}: {result.version} = {result.parent} + {method} on the labels after {result.since.isoformat()}")
    for c in result.candidates:
        m = c.metrics
        print(f"  {c.name:<28} {c.seconds:7.2f} s  rows read {c.rows_read:>9,}  most recent labels: AUC "
              f"{m['auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  log-loss {m['log_loss']:.4f}  ({m['rows']:,} rows)")
    if promote:
        registry = Registry.of(compiled.project.target_dir)
        try:
            registry.promote(model, result.version)
        finally:
            registry.close()
        print(f"{model}: champion → {result.version}")
    return result.version


def training_set_from_log_cmd(compiled, model: str, out_path, labels, label_id: str, version: str) -> None:
    import pyarrow.parquet as pq

    from .artifacts import atomic_output
    from .cli_batch import _read_table
    from .training.from_log import training_set_from_log

    if labels is None:
        _fail([Diagnostic("--labels", 1, 1, "--from-log needs --labels FILE (request id and label columns)", "")])
    try:
        table, counts = training_set_from_log(compiled, model, _read_table(labels), label_id, version)
    except (ValueError, FileNotFoundError) as exc:
        _fail([Diagnostic(str(labels), 1, 1, str(exc), "")])
    with atomic_output(out_path) as tmp:
        pq.write_table(table, tmp)
    print(f"wrote training set {model} from the feature log of {counts['version']}: {counts['labelled']:,} labelled "
          f"of {counts['logged']:,} logged requests ({counts['unlabelled']:,} without a label yet) → {out_path}")


def log_parity_cmd(model: str, version: str, report) -> None:
    from .api import Project
    from .cli_common import state
    from .log_parity import recompute, write_report

    project = Project(state.project_dir, state.target, state.vars)
    compiled = project.compiled
    if model not in compiled.project.models:
        _fail([Diagnostic("--log", 1, 1, f"unknown model {model!r}", f"models: {', '.join(compiled.project.models)}")])
    try:
        summary = recompute(project, model, version)
    except FileNotFoundError as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    path = report if report.is_absolute() else compiled.project.root / report
    write_report(summary, path)
    print(f"{model} {summary['version']}: {summary['rows']:,} logged requests recomputed through the batch path; "
          f"{summary['differing_rows']:,} differ" + (f" ({summary['per_feature']})" if summary["differing_rows"] else "")
          + f" → {path}")
    if summary["differing_rows"]:
        raise typer.Exit(1)
