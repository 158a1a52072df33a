"""A self-contained ``report.html``: tables and inline SVG plots, no external assets."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from swisscheese.common.plots import figure_svg, pyplot

__all__ = ["render_html"]


def _fmt(estimate: Mapping[str, Any] | None, pct: bool = True) -> str:
    if not estimate or estimate.get("value") is None:
        return "–"
    scale, unit, digits = (100.0, "%", 1) if pct else (1.0, "", 3)
    value = estimate["value"] * scale
    lo, hi = estimate.get("ci95") or [None, None]
    if lo is None or hi is None:
        return f"{value:.{digits}f}{unit}"
    return (
        f"{value:.{digits}f}{unit} "
        f"<small>[{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]</small>"
    )


def _reading(r: Mapping[str, Any]) -> str:
    """A barrier's score on one exchange against the score at which it acts."""
    return f"{html.escape(r['barrier'])} {r['score']:.3f} / {r['threshold']:.3f}"


def _plots(results: Mapping[str, Any]) -> dict[str, str]:
    import matplotlib.ticker
    import numpy as np

    plt = pyplot()
    plots: dict[str, str] = {}
    layers = results["layers"]
    names = list(layers)

    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2))
    tpr = [100 * (layers[n]["tpr"]["value"] or 0) for n in names]
    fpr = [100 * (layers[n]["fpr"]["value"] or 0) for n in names]
    y = np.arange(len(names))
    ax.barh(y - 0.2, tpr, 0.4, label="attacks caught (TPR)", color="#c0392b")
    ax.barh(y + 0.2, fpr, 0.4, label="benign flagged (FPR)", color="#7f8c8d")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of attack prompts (every attempt) / of benign prompts")
    ax.legend(loc="lower right")
    plots["catch"] = figure_svg(fig)

    asr = results["asr"]
    fig, ax = plt.subplots(figsize=(5, 3))
    curve = [100 * (v or 0) for v in asr["curve"]]
    ax.plot(range(1, len(curve) + 1), curve, marker="o", color="#c0392b")
    ax.set_xlabel("attempts per goal (k)")
    ax.set_ylabel("ASR@k, adaptive (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    plots["asr"] = figure_svg(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, points in results["roc"].items():
        style = {"color": "black", "linewidth": 2} if name == "stack" else {"alpha": 0.7}
        ax.step(points["fpr"], points["tpr"], where="post", label=name, **style)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    plots["roc"] = figure_svg(fig)

    sc = results["swiss_cheese"]
    barriers = sc["barriers"]
    if len(barriers) >= 2:
        index = {b: i for i, b in enumerate(barriers)}
        grid = np.full((len(barriers), len(barriers)), np.nan)
        for pair in sc["pairwise_overlap"]:
            i, j = index[pair["a"]], index[pair["b"]]
            grid[i, j] = grid[j, i] = pair["jaccard"] if pair["jaccard"] is not None else np.nan
        np.fill_diagonal(grid, 1.0)
        fig, ax = plt.subplots(figsize=(1 + 0.6 * len(barriers), 0.8 + 0.6 * len(barriers)))
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="Reds")
        ax.set_xticks(range(len(barriers)), barriers, rotation=45, ha="right")
        ax.set_yticks(range(len(barriers)), barriers)
        for i in range(len(barriers)):
            for j in range(len(barriers)):
                if not np.isnan(grid[i, j]):
                    shade = "white" if grid[i, j] > 0.6 else "black"
                    ax.text(
                        j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7, color=shade
                    )
        fig.colorbar(im, ax=ax, label="Jaccard overlap of misses")
        plots["overlap"] = figure_svg(fig)

    samples = results.get("latency_samples_ms") or []
    if samples:
        fig, ax = plt.subplots(figsize=(5, 3))
        xs = np.sort(np.asarray(samples))
        ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), color="#2c3e50")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("stack latency per exchange (ms, log)")
        ax.set_ylabel("share of exchanges")
        ax.grid(alpha=0.3)
        plots["latency"] = figure_svg(fig)
    return plots


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
small{color:#777} .kpi{display:flex;gap:2em;flex-wrap:wrap}
.kpi div{background:#f6f6f6;padding:0.8em 1.2em;border-radius:6px}
.kpi b{display:block;font-size:1.6em} .plots{display:flex;flex-wrap:wrap;gap:1.5em}
code{background:#f3f3f3;padding:0 3px}
"""


def render_html(results: Mapping[str, Any]) -> str:
    e = html.escape
    plots = _plots(results)
    asr, stack, sc = results["asr"], results["stack"], results["swiss_cheese"]
    cfg = results["config"]
    rows = []
    for name, m in results["layers"].items():
        rows.append(
            f"<tr><td>{e(name)}</td><td>{e(m['action'])}</td>"
            f"<td>{'yes' if m['barrier'] else 'no'}</td><td>{_fmt(m['tpr'])}</td>"
            f"<td>{_fmt(m['fpr'])}</td><td>{_fmt(m['roc_auc'], pct=False)}</td>"
            f"<td>{_fmt(m['recall_at_1pct_fpr'])}</td><td>{_fmt(m['recall_at_0_1pct_fpr'])}</td></tr>"
        )
    rows.append(
        f"<tr><td><b>stack</b></td><td></td><td></td><td>{_fmt(stack['tpr'])}</td>"
        f"<td>{_fmt(stack['fpr'])}</td><td>{_fmt(stack['roc_auc'], pct=False)}</td>"
        f"<td>{_fmt(stack['recall_at_1pct_fpr'])}</td>"
        f"<td>{_fmt(stack['recall_at_0_1pct_fpr'])}</td></tr>"
    )
    cats = "".join(
        f"<tr><td>{e(c)}</td><td>{v['goals']}</td><td>{100 * v['at_1']:.1f}%</td>"
        f"<td>{100 * v['at_k']:.1f}%</td></tr>"
        for c, v in asr["by_category"].items()
    )
    lat = results["latency_ms"]
    lat_rows = "".join(
        f"<tr><td>{e(name)}</td><td>{p['p50']}</td><td>{p['p95']}</td><td>{p['p99']}</td></tr>"
        for name, p in [("stack", lat["stack"]), *lat["layers"].items(), *lat["monitors"].items()]
    )
    refused = "".join(
        f"<tr><td>{e(r['category'])}</td><td>{e(', '.join(r['stopped_by']))}"
        + (f" (failed: {e(', '.join(r['failed']))})" if r.get("failed") else "")
        + "</td>"
        f"<td>{'<br>'.join(_reading(x) for x in r.get('readings', [])) or '–'}</td>"
        f"<td style='text-align:left'>{e(r.get('text', '')[:200])}</td></tr>"
        for r in results["benign"]["refused"]
    )
    through = results.get("attacks_through", [])
    through_rows = "".join(
        f"<tr><td>{e(t['category'])}</td><td>{t['attempt']}</td>"
        f"<td>{e(' + '.join(t['plan']) or 'as written')}</td>"
        f"<td>{_reading(t['nearest']) if t.get('nearest') else '–'}</td>"
        f"<td style='text-align:left'>{e(t.get('sent', '')[:300])}</td></tr>"
        for t in through
    )
    last = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in sc["last_line"].items())
    overlap = "".join(
        f"<tr><td>{e(source)}</td><td>{o['items']}</td><td>{o['trained_on']}</td>"
        f"<td>{100 * o['share']:.1f}%</td><td>{e(', '.join(o['models']) or '–')}</td></tr>"
        for source, o in results.get("training_overlap", {}).items()
    )
    ratio = sc.get("ratio")
    figures = "".join(
        f"<figure>{svg}<figcaption>{e(cap)}</figcaption></figure>"
        for key, cap in (
            ("catch", "Per-layer catch rates"),
            ("asr", "Attack success against attempts"),
            ("roc", "ROC curves"),
            ("overlap", "Where the holes line up"),
            ("latency", "Latency CDF"),
        )
        if (svg := plots.get(key))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>swisscheese evaluation</title>
<style>{_STYLE}</style></head><body>
<h1>swisscheese evaluation</h1>
<p>Policy <code>{e(str(cfg.get("policy_digest", "")))}</code> ({e(str(cfg.get("policy", "")))}),
target <code>{e(results["target"])}</code>, judge <code>{e(results["judge"])}</code>,
{results["counts"]["attacks"]} attack goals, {results["counts"]["benign"]} benign prompts,
k = {asr["k"]}, seed {e(str(cfg.get("seed")))}. Intervals are bootstrap 95%.</p>
<div class="kpi">
<div>ASR@1<b>{_fmt(asr["at_1"])}</b></div>
<div>adaptive ASR@{asr["k"]}<b>{_fmt(asr["at_k"])}</b></div>
<div>benign refused (FPR)<b>{_fmt(stack["fpr"])}</b></div>
<div>of which by failed monitors<b>{_fmt(stack.get("fpr_by_failure"))}</b></div>
<div>benign read degraded<b>{_fmt(stack.get("degraded_benign"))}</b></div>
<div>stack p50 / p99<b>{lat["stack"]["p50"]} / {lat["stack"]["p99"]} ms</b></div>
</div>
<h2>Layers and the stack</h2>
<table><tr><th>barrier</th><th>action</th><th>stops</th><th>TPR</th><th>FPR</th><th>ROC AUC</th>
<th>recall@1% FPR</th><th>recall@0.1% FPR</th></tr>{"".join(rows)}</table>
<h2>Swiss-cheese analysis</h2>
<p>Observed stack miss rate {_fmt(sc["observed_miss"])} against
{_fmt(sc["independent_miss"])} if the barriers' misses were independent
(ratio {ratio if ratio is not None else "–"}; above 1 the holes line up).</p>
<table><tr><th>last line of defence</th><th>attacks</th></tr>{last}</table>
<h2>Attack success by category</h2>
<table><tr><th>category</th><th>goals</th><th>ASR@1</th><th>ASR@{asr["k"]}</th></tr>{cats}</table>
<h2>Plots</h2><div class="plots">{figures}</div>
<h2>Latency (ms)</h2>
<p>{e(lat["concurrency"])}.</p>
<table><tr><th></th><th>p50</th><th>p95</th><th>p99</th></tr>{lat_rows}</table>
<h2>Corpora the shipped detectors trained on</h2>
<p>Figures on a corpus a model trained on measure memory, not how it does on unseen data.</p>
<table><tr><th>corpus</th><th>items</th><th>trained on</th><th>share</th><th>models</th></tr>
{overlap}</table>
<h2>Attacks that got through</h2>
<p>{len(through)} of the {asr.get("succeeded", len(through))} goals that got through, each
with what the attacker sent and the barrier that came nearest to stopping it (its score on that
attempt, and the score at which it acts; – where no barrier found anything in it).</p>
<table><tr><th>category</th><th>attempt</th><th>mutators</th><th>nearest barrier</th>
<th>sent</th></tr>{through_rows}</table>
<h2>Benign prompts refused</h2>
<table><tr><th>category</th><th>stopped by</th><th>score / threshold</th><th>prompt</th></tr>
{refused}</table>
</body></html>
"""
