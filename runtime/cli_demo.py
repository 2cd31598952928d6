"""``skewless demo``: the README's first command — generated events through every part, ending
with a few scored HTTP requests (a loopback server and client, here rather than in cli.py)."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from skewless.compiler.contract import CompiledProject

from .cli_common import app, compile_project, err, out


@app.command()
def demo(events: int = typer.Option(100_000, help="Number of generated transactions.")) -> None:
    """The main job on embedded defaults: generate events, validate, compile, list the views."""
    from .cli import compile_, generate, ls, validate  # the commands it runs in turn
    from .cli_stream import replay_cmd
    from .cli_train import train

    generate(events=events, days=14.0, seed=7, late_rate=0.0, out_dir=None)
    validate()
    compile_()
    ls(columns=False)
    replay_cmd(select=None, out_dir=None, to_online=True)
    compiled = compile_project()
    _show_reads(compiled)
    for model in sorted(compiled.project.models):
        train(model=model, training_set_path=None, rebuild=False, allow_leakage=False, continue_=False,
              parent="champion", since=None, refit=False, compare=False, promote=False)
    _compare_models(compiled)
    _demo_requests(compiled)


def _compare_models(compiled: CompiledProject) -> None:
    """The models side by side on their validation labels (the example's fraud_composed adds the
    composed features — dimension join, feature on feature, request event — to fraud's)."""
    import json as _json

    from .training.trainer import served_artifact

    table = Table(title="models on their validation labels (later in time than their training labels)")
    for c in ("model", "features", "AUC", "PR-AUC", "log-loss"):
        table.add_column(c)
    for model in sorted(compiled.project.models):
        meta = _json.loads((served_artifact(compiled, model) / "model.json").read_text())
        v = meta["metrics"]["validation"]
        refs = compiled.project.models[model].features
        kinds = sorted({"request event" if r.at == "request_event" else "as of" for r in refs})
        table.add_row(model, f"{len(refs)} views ({', '.join(kinds)})", f"{v['auc']:.4f}", f"{v['pr_auc']:.4f}",
                      f"{v['log_loss']:.4f}")
    out.print(table)


def _demo_requests(compiled: CompiledProject) -> None:
    """Start the HTTP service on a free loopback port and score a few requests through it."""
    import json as _json
    import threading
    import urllib.error
    import urllib.request
    from datetime import timedelta

    import uvicorn

    from .pg_local import free_port
    from .sources.files import read_batch_source

    from .cli import build_service

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_service(compiled), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        for model in sorted(compiled.project.models):
            m = compiled.project.models[model]
            labels = read_batch_source(compiled.project.sources[m.label.source], compiled.project.root)
            table = Table(title=f"POST /score/{model} (http://127.0.0.1:{port})")
            for c in ("request", "score", "latency"):
                table.add_column(c)
            recent = labels.sort_by([("ts", "descending")])
            # the example events are historical: score new requests like the latest labelled ones, 1 s
            # after the last event (the model reads features before each request's time)
            end = recent["ts"][0].as_py() + timedelta(seconds=1)
            picks = recent.slice(0, 3000).to_pylist()
            picks = [r for r in picks if r.get(m.label.column)][:2] + [r for r in picks if not r.get(m.label.column)][:2]
            with_event = any(ref.at == "request_event" for ref in m.features)
            for i, row in enumerate(picks):
                body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()
                        if k != m.label.column and k != "ts"}
                body["at"] = end.isoformat()
                if with_event:  # the request is a new transaction, at the request's time
                    body.update(txn_id=f"demo-request-{i}", ts=end.isoformat())
                req = urllib.request.Request(f"http://127.0.0.1:{port}/score/{model}", method="POST",
                                             data=_json.dumps(body).encode(), headers={"content-type": "application/json"})
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(req) as resp:
                        result = _json.loads(resp.read())
                except urllib.error.HTTPError as exc:
                    err.print(f"[red]POST /score/{model}: HTTP {exc.code}: {exc.read().decode(errors='replace')}[/red]")
                    raise typer.Exit(1) from None
                ms = (time.perf_counter() - started) * 1000
                shown = {k: body[k] for k in ("user_id", "card_id", "amount", "country") if k in body}
                table.add_row(f"{shown} (label {row.get(m.label.column)})", f"{result['score']:.4f}", f"{ms:.1f} ms")
            out.print(table)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        import gc

        gc.unfreeze()  # the service froze what existed when it started (serve's processes keep it frozen)


def _show_reads(compiled: CompiledProject, n: int = 3) -> None:
    """A few online reads as of the end of the example data (the demo's events are historical)."""
    from .sources.files import read_batch_source
    from .stores import open_store
    from .sources.dimension import evaluator_for
    from .stream.online import read_as_of

    view = compiled.views.get("user_velocity") or next(iter(compiled.views.values()))
    events = read_batch_source(compiled.project.sources[view.root_source], compiled.project.root)
    end = max(events[view.timestamp].to_pylist())
    keys = events[view.entity[0]].value_counts().to_pylist()[:n]
    store = open_store(compiled.project.target.online, compiled.project.root)
    table = Table(title=f"online reads: {view.name} as of {end.isoformat()}")
    cols = [c.name for c in view.columns if c.kind == "feature"][:6]
    for c in [*view.entity, *cols]:
        table.add_column(c)
    for k in keys:
        row = read_as_of(store, view, [k["values"]], end, evaluator_for(compiled.project, view))
        table.add_row(*[str(row[c]) if not isinstance(row[c], float) else f"{row[c]:.2f}" for c in [*view.entity, *cols]])
    store.close()
    out.print(table)
