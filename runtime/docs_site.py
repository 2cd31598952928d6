"""``skewless docs generate|serve``: a static HTML site of the project, built from the compiled
artifact (target/manifest.json and the compiled SQL; `build_artifacts` where target/ holds no current one) — sources, every view with its SQL,
columns and types, entity, fingerprint and compiled SQL per dialect, models with their features,
registered versions, metrics and importance plot, a lineage graph (sources → views → models) as
SVG, and the latest parity and experiment reports when present. No JavaScript, no network: files
that open from disk."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from skewless.compiler.contract import build_artifacts, CompiledProject

CSS = """body{font-family:system-ui,sans-serif;margin:0;color:#1d2430}header{background:#1d2430;color:#fff;padding:14px 28px}
header a{color:#9fd3ff;margin-right:18px;text-decoration:none}main{padding:20px 28px;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #d5dae1;padding:4px 9px;text-align:left}
th{background:#f2f4f7}pre{background:#f6f8fa;border:1px solid #d5dae1;padding:10px;overflow-x:auto;font-size:13px}
.kind-feature{color:#0a6}.kind-passthrough{color:#777}.fp{font-family:monospace;color:#555}
svg text{font-size:12px;font-family:system-ui,sans-serif}"""


def _e(v) -> str:
    return html.escape(str(v))


def _page(title: str, body: str, root: str = "") -> str:
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{_e(title)} · skewless</title>"
            f"<link rel=stylesheet href='{root}style.css'><header><strong>skewless</strong> &nbsp; "
            f"<a href='{root}index.html'>project</a></header><main>{body}</main></html>")


def lineage_svg(manifest: dict) -> str:
    """Sources, views (by depth: a view over another view is drawn right of it) and models, with
    an edge for every dependency. Each node is a link with id ``node-<kind>-<name>``."""
    views, models = manifest["views"], manifest["models"]
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            deps = [d for d in views[name]["depends_on"] if d in views]
            depth[name] = 1 + max((level(d) for d in deps), default=0)
        return depth[name]

    sources = sorted({views[v]["ir"]["root_source"] for v in views} | set(manifest.get("sources", {})))
    columns: dict[int, list[tuple[str, str]]] = {0: [("source", s) for s in sources]
                                                    + [("dimension", d) for d in sorted(manifest.get("dimensions", {}))]}
    for v in sorted(views):
        columns.setdefault(level(v), []).append(("view", v))
    last = max(columns) + 1
    columns[last] = [("model", m) for m in sorted(models)]
    w, h, gap_x, gap_y = 170, 30, 90, 16
    pos = {}
    for col, nodes in columns.items():
        for i, (kind, name) in enumerate(nodes):
            pos[(kind, name)] = (20 + col * (w + gap_x), 20 + i * (h + gap_y))
    edges = []
    for v, doc in views.items():
        deps = [("view", d) for d in doc["depends_on"] if d in views]
        if doc["ir"]["input"]["kind"] == "source":  # its events (a view it joins is a dependency too)
            deps.append(("source", doc["ir"]["root_source"]))
        edges += [(d, ("view", v)) for d in deps]
        edges += [(("dimension", j["dimension"]), ("view", v)) for j in doc["ir"].get("joins", [])]
    for m, doc in models.items():
        edges += [(("view", v), ("model", m)) for v in doc["depends_on"]]
        edges.append((("source", doc["definition"]["label"]["source"]), ("model", m)))  # its labels
    width = 40 + (last + 1) * (w + gap_x)
    height = 40 + max(len(n) for n in columns.values()) * (h + gap_y)
    out = [f"<svg id=lineage xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}'>"]
    for a, b in edges:
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            dash = " stroke-dasharray='4 3'" if a[0] == "source" and b[0] == "model" else ""  # labels
            out.append(f"<path class=edge d='M{x1 + w},{y1 + h / 2} C{x1 + w + 45},{y1 + h / 2} {x2 - 45},{y2 + h / 2} "
                       f"{x2},{y2 + h / 2}' fill=none stroke='#8a94a6' stroke-width=1.4{dash} />")
    colors = {"source": "#e8f1fb", "dimension": "#f1ecfb", "view": "#e7f6ee", "model": "#fbefe3"}
    for (kind, name), (x, y) in pos.items():
        href = {"source": "index.html#sources", "dimension": "index.html#dimensions", "view": f"views/{name}.html",
                "model": f"models/{name}.html"}[kind]
        out.append(f"<a href='{href}'><g id='node-{kind}-{_e(name)}'><rect x={x} y={y} width={w} height={h} rx=6 "
                   f"fill='{colors[kind]}' stroke='#5b6578'/><text x={x + 10} y={y + 19}>{_e(kind)}: {_e(name)}</text>"
                   "</g></a>")
    out.append("</svg>")
    return "".join(out)


def _model_versions(compiled: CompiledProject, name: str) -> list[dict]:
    from .registry.store import Registry

    target_dir, dsn = compiled.project.target_dir, compiled.project.target.registry_dsn
    if not Registry.exists(target_dir, dsn):
        return []
    registry = Registry.of(target_dir, dsn)
    try:
        aliases = registry.aliases(name)
        return [{**r, "aliases": sorted(a for (_, a), v in aliases.items() if v == r["version"])}
                for r in registry.versions(name)]
    finally:
        registry.close()


class _OnDisk(dict):
    """The compiled artifact in target/: the manifest, and each compiled SQL file read when asked."""

    def __init__(self, target: Path, manifest: dict):
        super().__init__({"manifest.json": manifest})
        self.target = target

    def __missing__(self, rel: str) -> str:
        return (self.target / rel).read_text()


def artifact_of(compiled: CompiledProject) -> dict:
    """The compiled artifact of ``compiled``: target/ when it holds this very compile (its inputs
    recorded there), else built again (a project whose target/ could not be written)."""
    path = compiled.project.target_dir / "manifest.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = None
    if isinstance(doc, dict) and compiled.inputs is not None and doc.get("inputs") == compiled.inputs:
        return _OnDisk(compiled.project.target_dir, doc)
    return build_artifacts(compiled)


def generate(compiled: CompiledProject, out: Path) -> Path:
    artifacts = artifact_of(compiled)
    manifest = artifacts["manifest.json"]
    assert isinstance(manifest, dict)
    target = compiled.project.target_dir
    if out.exists():
        shutil.rmtree(out)
    (out / "views").mkdir(parents=True)
    (out / "models").mkdir()
    (out / "style.css").write_text(CSS)
    views, models = manifest["views"], manifest["models"]
    sources = compiled.project.sources
    extras = []
    for report, title in (("parity.html", "latest parity report"), ("experiments.html", "experiments report")):
        if (target / report).exists():
            shutil.copy(target / report, out / report)
            extras.append(f"<a id=report-{report.split('.')[0]} href='{report}'>{title}</a>")
    body = [f"<h1 id=project>{_e(compiled.project.config.name)}</h1>",
            f"<p>{len(sources)} sources, {len(views)} views, {len(models)} models · manifest schema "
            f"{manifest['metadata']['schema_version']}, IR {manifest['metadata']['ir_version']}"
            + (" · " + " · ".join(extras) if extras else "") + "</p>",
            "<h2>Lineage</h2>", lineage_svg(manifest), "<h2 id=sources>Sources</h2><table><tr><th>source</th>"
            "<th>timestamp</th><th>columns</th></tr>"]
    for name, src in sorted(sources.items()):
        cols = ", ".join(f"{c.name} {c.type}" for c in src.columns)
        body.append(f"<tr><td>{_e(name)}</td><td>{_e(src.timestamp)}</td><td>{_e(cols)}</td></tr>")
    if compiled.project.dimensions:
        body.append("</table><h2 id=dimensions>Dimensions</h2><table><tr><th>dimension</th><th>key</th>"
                    "<th>versions</th><th>columns</th></tr>")
        for name, dim in sorted(compiled.project.dimensions.items()):
            cols = ", ".join(f"{c.name} {c.type}" for c in dim.columns)
            span = f"{dim.valid_from} … {dim.valid_to}" if dim.versioned else "-"
            body.append(f"<tr><td>{_e(name)}</td><td>{_e(', '.join(dim.key))}</td><td>{_e(span)}</td>"
                        f"<td>{_e(cols)}</td></tr>")
    body.append("</table><h2>Views</h2><table id=views><tr><th>view</th><th>entity</th><th>features</th>"
                "<th>fingerprint</th><th>file</th></tr>")
    for name, doc in sorted(views.items()):
        feats = sum(c["kind"] == "feature" for c in doc["columns"])
        body.append(f"<tr><td><a href='views/{_e(name)}.html'>{_e(name)}</a></td><td>{_e(', '.join(doc['entity']))}</td>"
                    f"<td>{feats}</td><td class=fp>{_e(doc['fingerprint'])}</td><td>{_e(doc['path'])}</td></tr>")
    body.append("</table><h2>Models</h2><table id=models><tr><th>model</th><th>features</th><th>champion</th>"
                "<th>validation AUC</th></tr>")
    for name, doc in sorted(models.items()):
        versions = _model_versions(compiled, name)
        champion = next((v for v in versions if "champion" in v["aliases"]), None)
        auc = (champion or {}).get("metrics", {}).get("validation", {}).get("auc")
        body.append(f"<tr><td><a href='models/{_e(name)}.html'>{_e(name)}</a></td><td>{len(doc['features'])}</td>"
                    f"<td>{_e(champion['version']) if champion else '-'}</td>"
                    f"<td>{'-' if auc is None else f'{auc:.4f}'}</td></tr>")
        _model_page(compiled, out, name, doc, versions)
    body.append("</table>")
    (out / "index.html").write_text(_page(compiled.project.config.name, "".join(body)))
    for name, doc in views.items():
        _view_page(compiled, out, name, doc, artifacts)
    return out / "index.html"


def _view_page(compiled: CompiledProject, out: Path, name: str, doc: dict, artifacts: dict) -> None:
    view = compiled.views[name]
    rows = "".join(f"<tr><td>{_e(c['name'])}</td><td>{_e(c['type'])}</td><td class=kind-{_e(c['kind'])}>"
                   f"{_e(c['kind'])}</td></tr>" for c in doc["columns"])
    compiled_sql = []
    for dialect, info in doc["compiled"].items():
        if "unsupported" in info:
            compiled_sql.append(f"<h3>{_e(dialect)}</h3><p>not compiled: {_e('; '.join(info['unsupported']))}</p>")
        else:
            compiled_sql.append(f"<h3>{_e(dialect)}</h3><pre>{_e(artifacts[info['path']])}</pre>")
    body = (f"<h1 id=view>{_e(name)}</h1><p>{_e(view.description)}</p><table>"
            f"<tr><th>file</th><td>{_e(doc['path'])}</td></tr><tr><th>entity</th><td>{_e(', '.join(doc['entity']))}</td></tr>"
            f"<tr><th>source</th><td>{_e(view.root_source)}</td></tr><tr><th>depends on</th>"
            f"<td>{_e(', '.join(doc['depends_on']) or '-')}</td></tr><tr><th>fingerprint</th>"
            f"<td class=fp>{_e(doc['fingerprint'])}</td></tr></table><h2>Columns</h2><table id=columns><tr><th>column</th>"
            f"<th>type</th><th>kind</th></tr>{rows}</table><h2>SQL</h2><pre id=sql>{_e(view.sql)}</pre>"
            f"<h2>Compiled (per event)</h2>{''.join(compiled_sql)}")
    (out / "views" / f"{name}.html").write_text(_page(name, body, "../"))


def _model_page(compiled: CompiledProject, out: Path, name: str, doc: dict, versions: list[dict]) -> None:
    rows = "".join(f"<tr><td>{_e(v['version'])}</td><td>{_e(' '.join(v['aliases']))}</td><td>{_e(v['kind'])}</td>"
                   f"<td>{_e(v['parent'] or '-')}</td><td>{_e(v['trigger'])}</td><td>{v['rows']:,}</td>"
                   f"<td>{_fmt(v['metrics'].get('validation', {}).get('auc'))}</td></tr>" for v in reversed(versions))
    image = ""
    champion = next((v for v in versions if "champion" in v["aliases"]), None)
    if champion and Path(champion["artifact"], "importance.png").exists():
        shutil.copy(Path(champion["artifact"], "importance.png"), out / "models" / f"{name}.importance.png")
        image = f"<h2>Feature importance (champion)</h2><img alt=importance src='{_e(name)}.importance.png'>"
    features = "".join(f"<li>{_e(f)}</li>" for f in doc["features"])
    body = (f"<h1 id=model>{_e(name)}</h1><p>{_e(doc['definition'].get('description', ''))}</p>"
            f"<p>features as of <code>{_e(doc['features_as_of'])}</code>; objective "
            f"{_e(doc['definition']['objective'])}</p><h2>Versions</h2><table id=versions><tr><th>version</th>"
            f"<th>aliases</th><th>kind</th><th>parent</th><th>trigger</th><th>rows</th><th>validation AUC</th></tr>"
            f"{rows}</table>{image}<h2>Features</h2><ul id=features>{features}</ul><h2>Definition</h2>"
            f"<pre>{_e(json.dumps(doc['definition'], indent=2))}</pre>")
    (out / "models" / f"{name}.html").write_text(_page(name, body, "../"))


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"
