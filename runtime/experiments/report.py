"""What an experiment has learned: per arm its traffic, feedback, observed and posterior reward with
a 95% credible interval, P(best), and the inverse-propensity estimates of its value (what always
playing that arm would earn, from the logged propensities); shadow experiments score every arm
against the labels. Over time: traffic share and the posterior's mean and interval per period,
as a PNG and a self-contained HTML page (``skewless experiments report``)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from datetime import datetime, timezone

import numpy as np

from skewless.compiler.contract import ExperimentDef

from .posterior import ArmStats, p_best, posterior
from .store import ExperimentStore


def _iso(us: float | int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat()


def _metrics(reward: str, y: np.ndarray, p: np.ndarray) -> dict:
    """A shadow arm's scores against the labels."""
    if len(y) == 0:
        return {}
    if reward == "binary":
        q = np.clip(p, 1e-15, 1 - 1e-15)
        out = {"logloss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
               "accuracy": float(np.mean((p >= 0.5) == (y >= 0.5)))}
        pos, neg = p[y >= 0.5], p[y < 0.5]
        if len(pos) and len(neg):  # AUC: P(score of a positive > score of a negative), ties half
            order = np.argsort(np.concatenate([neg, pos]), kind="mergesort")
            ranks = np.empty(len(order))
            allp = np.concatenate([neg, pos])[order]
            _, inv, counts = np.unique(allp, return_inverse=True, return_counts=True)
            avg = np.cumsum(counts) - (counts - 1) / 2
            ranks[order] = avg[inv]
            out["auc"] = float((ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
        return out
    err = p - y
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}


def summarize(store: ExperimentStore, record: dict, periods: int = 12) -> dict:
    exp = ExperimentDef.model_validate(record["config"]["definition"])
    arms = [a.name for a in exp.arms]
    stats = store.stats(record["id"])
    table = store.decisions_table(record["id"]).to_pydict()
    n = len(table["request_id"])
    arm_col = np.array(table["arm"], dtype=object)
    has_fb = np.array([r is not None for r in table["reward"]], dtype=bool)
    reward = np.array([r if r is not None else np.nan for r in table["reward"]], dtype=float)
    prop = np.array(table["propensity"], dtype=float)
    posts = [posterior(exp, stats.get(a, ArmStats())) for a in arms]
    pb = p_best(posts, np.random.default_rng(0), 20_000)
    out_arms = []
    for i, a in enumerate(arms):
        mine = arm_col == a
        s = stats.get(a, ArmStats())
        lo, hi = posts[i].interval(0.95)
        row = {"arm": a, "model": record["config"]["versions"][a][0], "version": record["config"]["versions"][a][1],
               "decisions": int(mine.sum()), "share": float(mine.sum() / n) if n else 0.0,
               "feedback": s.n, "observed_mean": s.total / s.n if s.n else None,
               "posterior": posts[i].params(), "posterior_mean": posts[i].mean, "interval95": [lo, hi],
               "p_best": float(pb[i])}
        if exp.mode != "shadow":
            fb = has_fb
            w = np.where(mine & fb, 1.0 / np.where(prop > 0, prop, np.inf), 0.0)
            nfb = int(fb.sum())
            row["ips"] = float((w * np.nan_to_num(reward)).sum() / nfb) if nfb else None
            row["snips"] = float((w * np.nan_to_num(reward)).sum() / w.sum()) if w.sum() > 0 else None
        else:
            labelled = [(json.loads(sc).get(a), r) for sc, r in zip(table["scores"], table["reward"]) if r is not None]
            labelled = [(p, r) for p, r in labelled if p is not None]
            row["metrics"] = _metrics(exp.reward, np.array([r for _, r in labelled], float),
                                      np.array([p for p, _ in labelled], float))
        out_arms.append(row)
    return {"id": record["id"], "model": record["model"], "mode": exp.mode, "reward": exp.reward,
            "started": _iso(record["started_us"]), "decisions": n, "with_feedback": int(has_fb.sum()),
            "arms": out_arms, "over_time": _over_time(exp, table, periods)}


def _over_time(exp: ExperimentDef, table: dict, periods: int) -> list[dict]:
    """Per period (equal slices of the experiment's time so far): each arm's traffic share, and its
    posterior mean and 95% interval from the feedback of decisions made up to the period's end."""
    t = np.array(table["decided_us"], dtype=float)
    if len(t) == 0:
        return []
    edges = np.linspace(t.min(), t.max(), periods + 1)[1:] if t.max() > t.min() else np.array([t.max()])
    arms = [a.name for a in exp.arms]
    arm_col = np.array(table["arm"], dtype=object)
    r = np.array([x if x is not None else np.nan for x in table["reward"]], dtype=float)
    out, start = [], -math.inf
    for end in edges:
        period = (t > start) & (t <= end)
        upto = t <= end
        per_arm: dict[str, dict] = {}
        row = {"end": _iso(end), "decisions": int(period.sum()), "arms": per_arm}
        for a in arms:
            fb = upto & (arm_col == a) & ~np.isnan(r)
            s = ArmStats(int(fb.sum()), float(r[fb].sum()), float((r[fb] ** 2).sum()))
            post = posterior(exp, s)
            lo, hi = post.interval(0.95)
            per_arm[a] = {"share": float((period & (arm_col == a)).sum() / period.sum()) if period.sum() else 0.0,
                              "mean": post.mean, "lo": lo, "hi": hi, "feedback": s.n}
        out.append(row)
        start = end
    return out


def text_report(summary: dict) -> str:
    lines = [f"experiment {summary['id']} ({summary['mode']}, {summary['reward']} reward) since {summary['started']}: "
             f"{summary['decisions']:,} decisions, {summary['with_feedback']:,} with feedback"]
    for a in summary["arms"]:
        mean = "-" if a["observed_mean"] is None else f"{a['observed_mean']:.4f}"
        lo, hi = a["interval95"]
        extra = (f"  ips {a['ips']:.4f}" if a.get("ips") is not None else "") + \
            ("  " + " ".join(f"{k} {v:.4f}" for k, v in a.get("metrics", {}).items()) if a.get("metrics") else "")
        if summary["mode"] == "shadow":  # nothing is learned from the shadows' traffic: their scores vs labels
            lines.append(f"  {a['arm']:<14} {a['model']}@{a['version']:<18} share {a['share']:6.1%}  "
                         f"labelled {summary['with_feedback']:>7,}{extra}")
            continue
        lines.append(f"  {a['arm']:<14} {a['model']}@{a['version']:<18} share {a['share']:6.1%}  feedback "
                     f"{a['feedback']:>7,}  observed {mean}  posterior {a['posterior_mean']:.4f} "
                     f"[{lo:.4f}, {hi:.4f}]  P(best) {a['p_best']:.3f}{extra}")
    return "\n".join(lines)


def plot_png(summary: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["over_time"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    x = np.arange(len(rows))
    for a in [a["arm"] for a in summary["arms"]]:
        ax1.plot(x, [r["arms"][a]["share"] for r in rows], marker="o", label=a)
        mean = np.array([r["arms"][a]["mean"] for r in rows])
        ax2.plot(x, mean, marker="o", label=a)
        ax2.fill_between(x, [r["arms"][a]["lo"] for r in rows], [r["arms"][a]["hi"] for r in rows], alpha=0.2)
    ax1.set_ylabel("traffic share")
    ax2.set_ylabel("reward (posterior, 95%)")
    ax2.set_xticks(x, [r["end"][5:19].replace("T", " ") for r in rows], rotation=45, ha="right", fontsize=7)
    ax1.legend()
    ax1.set_title(f"{summary['id']} ({summary['mode']})")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def html_report(summaries: list[dict]) -> str:
    parts = ["<!doctype html><meta charset=utf-8><title>skewless experiments</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style>"]
    for s in summaries:
        parts.append(f"<h2>{html.escape(s['id'])}</h2><p>{s['mode']}, {s['reward']} reward, since "
                     f"{html.escape(str(s['started']))}: {s['decisions']:,} decisions, {s['with_feedback']:,} with "
                     "feedback</p><table><tr><th>arm</th><th>version</th><th>share</th><th>feedback</th>"
                     "<th>observed</th><th>posterior</th><th>95% interval</th><th>P(best)</th><th>IPS</th></tr>")
        for a in s["arms"]:
            lo, hi = a["interval95"]
            obs = "" if a["observed_mean"] is None else f"{a['observed_mean']:.4f}"
            ips = "" if a.get("ips") is None else f"{a['ips']:.4f}"
            parts.append(f"<tr><td>{html.escape(a['arm'])}</td><td>{html.escape(a['model'])}@"
                         f"{html.escape(a['version'])}</td><td>{a['share']:.1%}</td><td>{a['feedback']:,}</td>"
                         f"<td>{obs}</td><td>{a['posterior_mean']:.4f}</td><td>[{lo:.4f}, {hi:.4f}]</td>"
                         f"<td>{a['p_best']:.3f}</td><td>{ips}</td></tr>")
        parts.append("</table>")
        if s["over_time"]:
            png = base64.b64encode(plot_png(s)).decode()
            parts.append(f'<p><img alt="traffic and reward over time" src="data:image/png;base64,{png}"></p>')
    return "\n".join(parts)
