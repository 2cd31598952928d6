"""``skewless experiments ls|report`` and ``skewless feedback``: what the experiments learned, and
delayed feedback from a Kafka topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from skewless.compiler.contract import Diagnostic

from .cli_common import _fail, app, compile_project, out

experiments_app = typer.Typer(no_args_is_help=True, help="Online experiments: shadow, A/B and bandit routing.")
app.add_typer(experiments_app, name="experiments")


def _store(compiled):
    from .experiments.store import ExperimentStore

    dsn = compiled.project.target.registry_dsn
    path = compiled.project.target_dir / "experiments.sqlite"
    if not dsn and not path.exists():
        _fail([Diagnostic(str(path), 1, 1, "no experiment has served a request yet",
                          "add an experiment: block to a model and run skewless serve")])
    return ExperimentStore(ExperimentStore.location(compiled.project.target_dir, dsn))


@experiments_app.command("ls")
def experiments_ls() -> None:
    """Every experiment recorded: id, model, mode, start, decisions."""
    compiled = compile_project()
    store = _store(compiled)
    for e in store.experiments():
        n = store.db.execute("SELECT count(*), count(feedback_us) FROM skewless_decisions WHERE experiment = ?",
                              (e["id"],)).fetchone()
        arms = ", ".join(f"{a}={m}@{v}" for a, (m, v) in e["config"]["versions"].items())
        print(f"{e['id']}  {e['mode']:<6} {e['reward']:<10} {n[0]:>9,} decisions {n[1]:>9,} with feedback  {arms}")


@experiments_app.command("report")
def experiments_report(
    model: str = typer.Argument(..., help="The model whose experiments to report."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write an HTML page with the plots here."),
    as_json: bool = typer.Option(False, "--json", help="Print the summaries as JSON."),
    periods: int = typer.Option(12, min=1, max=500, help="Time periods of the over-time series."),
    every: bool = typer.Option(False, "--all", help="Every experiment of the model, not only the latest."),
) -> None:
    """Each arm's traffic share, feedback, reward with its 95% credible interval, P(best), IPS value
    estimate (shadow: each arm's metrics against the labels), and how they moved over time."""
    from .experiments.report import html_report, summarize, text_report

    compiled = compile_project()
    store = _store(compiled)
    records = store.experiments(model)
    if not records:
        _fail([Diagnostic(f"model {model}", 1, 1, f"model {model!r} has no recorded experiment", "")])
    summaries = [summarize(store, r, periods) for r in (records if every else records[-1:])]
    if as_json:
        print(json.dumps(summaries if every else summaries[0], indent=2))
    else:
        for s in summaries:
            print(text_report(s))
    if html is not None:
        html.write_text(html_report(summaries))
        out.print(f"report → {html}", markup=False, highlight=False)


@app.command("feedback")
def feedback_cmd(
    brokers: str = typer.Option(..., "--brokers", help="Kafka bootstrap servers, e.g. 127.0.0.1:9092."),
    topic: str = typer.Option(..., "--topic", help="Topic of JSON feedback messages {request_id, reward}."),
    idle_exit: Optional[float] = typer.Option(None, "--idle-exit", help="Stop after this many seconds without a "
                                              "message (a one-shot for cron); default: run until stopped."),
    max_messages: Optional[int] = typer.Option(None, "--max-messages", min=1),
) -> None:
    """Apply delayed feedback from Kafka to the experiments' decisions (exactly once: offsets are
    committed with the feedback); bad messages go to target/feedback_dead_letters.jsonl."""
    from .experiments.feedback_kafka import consume

    compiled = compile_project()
    store = _store(compiled)
    dead = compiled.project.target_dir / "feedback_dead_letters.jsonl"
    stats = consume(store, brokers, topic, dead, idle_exit, max_messages)
    out.print(f"feedback: {stats.messages:,} messages, {stats.applied:,} applied, {stats.dead:,} dead letters"
              + (f" ({', '.join(f'{k}: {v}' for k, v in stats.reasons.items())}) → {dead}" if stats.dead else ""),
              markup=False, highlight=False)
