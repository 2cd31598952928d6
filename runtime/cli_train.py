"""``skewless train``: a model from scratch, or fine-tuned from its champion (``--continue``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from skewless.compiler.contract import Diagnostic

from .cli_common import _fail, _project, app, check_model, compile_project, err, out, out_progress, parse_time


@app.command()
def train(
    model: str = typer.Argument(..., help="Model name from models/*.yml."),
    training_set_path: Optional[Path] = typer.Option(None, "--training-set",
                                                     help="Train on this training set (from `training-set`)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Build the training set even if an unchanged one exists."),
    allow_leakage: bool = typer.Option(False, "--allow-leakage",
                                       help="Train even if a feature predicts the label almost perfectly."),
    continue_: bool = typer.Option(False, "--continue", help="Fine-tune the champion on the labels since it was "
                                   "trained (LightGBM continuation) instead of training from scratch."),
    parent: str = typer.Option("champion", "--from", help="--continue: the version or alias to fine-tune."),
    since: Optional[str] = typer.Option(None, "--since", help="--continue: labels after this time (ISO-8601; "
                                        "default: the end of the parent's training data)."),
    refit: bool = typer.Option(False, "--refit", help="--continue: re-estimate the parent's leaf values instead."),
    compare: bool = typer.Option(False, "--compare", help="--continue: also train from scratch and score the stale "
                                 "parent, on the same most recent labels."),
    promote: bool = typer.Option(False, "--promote", help="--continue: make the new version the champion "
                                 "(default: challenger)."),
) -> None:
    """Build the model's training set (or reuse the last one when the model, its views and the
    source files are unchanged), split by time, train LightGBM, write a versioned artifact and
    register it (champion; --continue: challenger unless --promote)."""
    project = _project()
    compiled = compile_project(project)
    check_model(compiled, model)
    if training_set_path is not None:
        path = training_set_path
        if not path.exists():
            _fail([Diagnostic(str(path), 1, 1, "no such training set file", "build one with `skewless training-set`")])
    else:
        with out.status(f"training set for {model} on {compiled.project.target.batch.engine}"):
            path, reused = project.cached_training_set(model, rebuild)
        if reused:
            out.print(f"reusing the training set {path} (model, views and source files unchanged; --rebuild to build)")
    if continue_:
        continue_from(compiled, model, path, parent, since, "refit" if refit else "continue", compare, promote)
        return
    _train(compiled, model, path, allow_leakage)


def _train(compiled, model: str, path: Path, allow_leakage: bool, lineage: dict | None = None) -> str:
    from .training.trainer import LeakageError, TrainingSetError, train_model

    with out_progress() as progress:
        m = compiled.project.models[model]
        task = progress.add_task(f"training {model}", total=m.num_boost_round)

        def cb(env):
            progress.update(task, completed=env.iteration + 1)

        try:
            result = train_model(compiled, model, path, cb, allow_leakage, lineage)
        except TrainingSetError as exc:
            _fail([Diagnostic(str(path), 1, 1, str(exc), "build it with `skewless training-set MODEL --out FILE`")])
        except LeakageError as exc:
            where, line, col = compiled.project.model_location(model)
            _fail([Diagnostic(where, line, col, str(exc), "read features strictly before the label time "
                              "(features_as_of: label_time - 1us, the default) and check that no view reads the "
                              "label's own outcome; or pass --allow-leakage if intended")])
    if result.metrics.get("leakage_check", {}).get("reads_at_label_time"):
        err.print(f"warning: model {model} reads its features at the label's own time (features_as_of: label_time): "
                  "an event at that time — the labelled event itself when labels are timestamped at it — is in its "
                  "own features", markup=False, highlight=False)
    suspects = result.metrics.get("leakage_check", {}).get("suspects")
    if suspects:
        err.print(f"warning: trained with --allow-leakage; suspected leaking features: {suspects}", markup=False,
                  highlight=False)
    v, b = result.metrics["validation"], result.metrics.get("baseline")
    out.print(f"[green]trained[/green] {model} → {result.directory}")
    out.print(f"validation (later labels): AUC {v['auc']:.4f}  PR-AUC {v['pr_auc']:.4f}  log-loss {v['log_loss']:.4f}"
              f"  ({v['rows']:,} rows, {v['positives']:,} positive)")
    if b:
        out.print(f"baseline without real-time features ({', '.join(b['features'])}): AUC {b['auc']:.4f}  "
                  f"PR-AUC {b['pr_auc']:.4f}")
    return result.directory.name



def continue_from(compiled, model: str, path, parent: str, since: str | None, method: str, compare: bool,
                  promote: bool, trigger: str = "manual", reason: str = "") -> str:
    """`train --continue`: fine-tune ``parent`` on the labels after ``since``; print the comparison;
    register the new version (challenger, or champion with ``promote``). Returns the version."""
    from .registry.store import Registry
    from .training.continual import continue_training
    from .training.trainer import TrainingSetError

    when = parse_time("--since", since) if since is not None else None
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
        registry = Registry.of(compiled.project.target_dir, compiled.project.target.registry_dsn)
        try:
            registry.promote(model, result.version)
        finally:
            registry.close()
        print(f"{model}: champion → {result.version}")
    return result.version

