"""``skewless models ls|show|promote|rollback``: the model registry (runtime/registry)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from skewless.compiler.contract import Diagnostic

from .cli_common import _fail, _project, app, check_model, compile_project

models_app = typer.Typer(no_args_is_help=True, help="The model registry: versions, lineage, aliases.")
app.add_typer(models_app, name="models")


def _registry():
    from .registry.store import Registry

    compiled = compile_project()
    target_dir, dsn = compiled.project.target_dir, compiled.project.target.registry_dsn
    if not Registry.exists(target_dir, dsn):
        _fail([Diagnostic(Registry.location(target_dir, dsn), 1, 1, "no model has been trained yet",
                          "run skewless train MODEL")])
    return compiled, Registry.of(target_dir, dsn)


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
    from .log_parity import recompute, write_report

    project = _project()
    compiled = compile_project(project)
    check_model(compiled, model, "--log")
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


@app.command("retrain")
def retrain_cmd(
    model: str = typer.Argument(..., help="Model name."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Labels of logged requests (Parquet/CSV/JSONL) for "
                                         "the performance trigger."),
    label_id: str = typer.Option("request_id", "--label-id", help="The labels' request id column."),
    watch: bool = typer.Option(False, "--watch", help="Keep checking every --interval seconds (Ctrl-C stops)."),
    interval: float = typer.Option(300.0, "--interval", min=1.0),
    force: bool = typer.Option(False, "--force", help="Retrain even if no trigger fires."),
) -> None:
    """Evaluate the model's retrain triggers (schedule, feature drift of the served vectors, logged-label
    performance) and retrain when one fires (its `retrain:` method; promoted if it says so); each run is
    recorded in the registry with its reason. One-shot (for cron) unless --watch."""
    import signal
    import time
    from pathlib import Path

    from .cli_batch import _read_table

    stop: list = []
    if watch:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, lambda *_: stop.append(1))
    while True:
        compiled = compile_project()
        check_model(compiled, model)
        table = _read_table(Path(labels)) if labels else None
        _retrain_once(compiled, model, table, label_id, force)
        if not watch:
            return
        deadline = time.monotonic() + interval
        while not stop and time.monotonic() < deadline:
            time.sleep(0.1)
        if stop:
            return


def _retrain_once(compiled, model: str, labels, label_id: str, force: bool) -> None:
    from .batch_jobs import build_training_set
    from .cli_train import _train, continue_from
    from .registry.store import Registry
    from .training.triggers import evaluate

    try:
        fired, checks = evaluate(compiled, model, labels=labels, label_id=label_id)
    except FileNotFoundError as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    print(f"{model}: champion {checks['champion']}; checks: {json.dumps({k: v for k, v in checks.items() if k not in ('champion', 'at')}, default=str)}")
    reasons = fired or (["forced"] if force else [])
    new_version, promoted = None, False
    rule = compiled.project.models[model].retrain
    if reasons:
        path = compiled.project.target_dir / "training" / f"{model}.parquet"
        build_training_set(compiled, model, path)
        reason = "; ".join(reasons) + (f" (drift: {sorted(checks['drift']['features_over'])})" if "drift" in fired else "")
        print(f"{model}: retraining ({rule.method}) because {reason}")
        if rule.method == "full":
            new_version = _train(compiled, model, path, False, lineage={"trigger": ",".join(reasons), "reason": reason,
                                                                        "alias": "champion" if rule.promote else "challenger"})
        else:
            new_version = continue_from(compiled, model, path, "champion", None, rule.method, True, rule.promote,
                                        trigger=",".join(reasons), reason=reason)
        promoted = rule.promote
    else:
        print(f"{model}: no trigger fired")
    registry = Registry.of(compiled.project.target_dir, compiled.project.target.registry_dsn)
    try:
        registry.record_run(model, reasons, checks, new_version, promoted)
    finally:
        registry.close()


@models_app.command("reproduce")
def models_reproduce(model: str = typer.Argument(...), version: str = typer.Argument("champion"),
                     out_path: Path = typer.Option(..., "--out", help="Parquet file for the rebuilt training set.")) -> None:
    """Rebuild a version's training set from its lineage (today's sources, the recorded label-time
    range, point in time) and check its rows' digest against the recorded one; exit 1 if it differs."""
    from .registry.lineage import reproduce

    compiled = compile_project()
    try:
        got = reproduce(compiled, model, version, out_path)
    except (FileNotFoundError, ValueError) as exc:
        _fail([Diagnostic(f"model {model}", 1, 1, str(exc), "")])
    verdict = "the same rows (digest matches)" if got["same"] else "DIFFERENT rows (digest differs)"
    print(f"{model} {got['version']}: rebuilt {got['rows']:,} rows (recorded {got['recorded_rows']:,}) → {out_path}: "
          f"{verdict}")
    if not got["same"]:
        raise typer.Exit(1)
