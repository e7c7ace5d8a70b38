"""Write an eval run to a folder: report.md (tables, examples, plots), metrics.json, details.json, PNGs.
Leaves out running the suites (harness.py); plots use matplotlib's Agg backend (no display)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CoachError
from .judge import comparison_rows, latency_rows

RETRIEVAL_METRICS = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5")
METHOD_LABELS = {"hybrid": "hybrid (RRF)", "vector": "vector only", "bm25": "BM25 only"}
MODE_LABELS = {"closed_book": "closed-book", "rag": "with retrieval", "verified": "retrieval + verification"}
LEVEL_COLOURS = {"strong": "tab:green", "partial": "tab:orange", "wrong": "tab:red", "off-topic": "tab:grey"}


def write_report(run, out_dir: Path) -> Path:
    """Write everything for `run` (a harness.EvalRun) under out_dir; returns the report.md path."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(run.metrics, indent=2, ensure_ascii=False) + "\n")
        (out_dir / "details.json").write_text(
            json.dumps({"meta": run.meta, **run.details}, indent=2, ensure_ascii=False) + "\n")
        plots = write_plots(run, out_dir)
        report = out_dir / "report.md"
        report.write_text(render_markdown(run, plots))
    except OSError as e:
        raise CoachError(f"cannot write the report to {out_dir}: {e.strerror or e}") from None
    return report


def _num(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _with_ci(value: float, ci) -> str:
    return f"{value:.3f} ({ci[0]:.3f}–{ci[1]:.3f})" if ci else f"{value:.3f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(run, plots: dict[str, str]) -> str:
    out = _header(run.meta)
    for name, section in SECTIONS.items():
        if name in run.metrics:
            out += section(run, plots)
    return "\n".join(out).rstrip() + "\n"


def _header(meta: dict) -> list[str]:
    out = ["# Interview Coach evaluation", "",
           f"Run {meta.get('created', '')}; suites: {', '.join(meta.get('suites', []))}"
           + (f"; at most {meta['limit']} items per suite" if meta.get("limit") else "") + ".",
           "What each number means: `eval/README.md` in the repository.", ""]
    settings = meta.get("settings", {})
    if settings:
        out += ["Settings: " + ", ".join(f"{k} `{v or 'default'}`" for k, v in settings.items()), ""]
    if meta.get("datasets"):
        out += ["Datasets: " + ", ".join(f"{k} `{v}`" for k, v in meta["datasets"].items()), ""]
    if meta.get("seconds"):
        out += ["Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in meta["seconds"].items()), ""]
    for notice in meta.get("notices", []):
        out += [f"> note: {notice}", ""]
    return out


def _retrieval_section(run, plots: dict[str, str]) -> list[str]:
    """Methods with CIs, the hybrid search by track, and hybrid misses at 5."""
    r = run.metrics["retrieval"]
    n = next(iter(r.values()))["n"] if r else 0
    out = ["## Retrieval", "",
            f"{n} queries; a hit is a retrieved chunk of a relevant note (several chunks of one note count "
            "once). Mean over queries, bootstrap 95% CI in brackets.", ""]
    out += _table(["method", *RETRIEVAL_METRICS],
                  [[METHOD_LABELS.get(k, k), *(_with_ci(v[x], v["ci"].get(x)) for x in RETRIEVAL_METRICS)]
                   for k, v in r.items()])
    if "retrieval" in plots:
        out += [f"![retrieval by method]({plots['retrieval']})", ""]
    if "hybrid" in r and r["hybrid"].get("by_track"):
        out += ["Hybrid by track:", ""]
        out += _table(["track", "queries", "hit@5", "mrr@10"],
                      [[t, v["n"], _num(v["hit@5"]), _num(v["mrr@10"])] for t, v in r["hybrid"]["by_track"].items()])
    misses = run.details.get("retrieval", {}).get("hybrid_misses_at_5", [])
    if misses:
        out += [f"Hybrid misses at 5 ({len(misses)}):", ""]
        out += _table(["query", "relevant", "top 3 notes"],
                      [[x["query"], ", ".join(x["relevant"]), ", ".join(x["top3"])] for x in misses[:20]])
    return out


def _faithfulness_section(run, plots: dict[str, str]) -> list[str]:
    """Modes with CIs, the plot, and example unsupported sentences per mode."""
    f = run.metrics["faithfulness"]
    n = next(iter(f.values()))["n"] if f else 0
    out = ["## Faithfulness", "",
            f"{n} bank questions, each answered closed-book and with retrieval. Faithfulness is supported "
            "sentences / sentences (mean over answers); hallucination rate is the share of answers with at "
            "least one unsupported sentence. Bootstrap 95% CI in brackets.", ""]
    out += _table(["mode", "faithfulness", "hallucination rate", "answers", "empty", "sentences",
                   "unsupported", "fallback"],
                  [[MODE_LABELS.get(k, k), _with_ci(v["faithfulness"], v["ci"].get("faithfulness")),
                    _with_ci(v["hallucination_rate"], v["ci"].get("hallucination_rate")), v["n"], v["empty"],
                    v["sentences"], v["unsupported_sentences"], _num(v["fallback_rate"], 2)]
                   for k, v in f.items()])
    if "faithfulness" in plots:
        out += [f"![faithfulness by mode]({plots['faithfulness']})", ""]
    for k, v in f.items():
        if v["examples"]:
            out += [f"Unsupported sentences, {MODE_LABELS.get(k, k)}:", ""]
            for ex in v["examples"]:
                out += [f"- *{ex['question']}* — “{ex['sentence']}” ({ex['reason'] or 'unsupported'}, "
                        f"score {ex['score']:.2f}); closest note text: “{ex['evidence'] or '(none)'}”"]
            out += [""]
    return out


def _judge_section(run, plots: dict[str, str]) -> list[str]:
    """Scores, confusion matrix, accuracy by kind of claim and some misjudged claims."""
    j = run.metrics["judge"]
    c = j["confusion"]
    out = ["## Judge", "",
            f"{j['n']} labelled claims, each judged against its own context; the positive class is "
            "*unsupported*.", ""]
    out += _table(["balanced accuracy", "precision (unsupported)", "recall (unsupported)",
                   "recall (supported)", "accuracy"],
                  [[_with_ci(j["balanced_accuracy"], j["ci"].get("balanced_accuracy")),
                    _num(j["precision_unsupported"]), _num(j["recall_unsupported"]),
                    _num(j["recall_supported"]), _num(j["accuracy"])]])
    out += ["Confusion matrix (rows: label, columns: judge):", ""]
    out += _table(["", "judged unsupported", "judged supported"],
                  [[f"labelled {t}", c[t]["unsupported"], c[t]["supported"]] for t in ("unsupported", "supported")])
    out += ["Accuracy by kind of claim:", ""]
    out += _table(["kind", "accuracy"], [[k, _num(v)] for k, v in j["accuracy_by_kind"].items()])
    if j.get("errors"):
        out += ["Some misjudged claims:", ""]
        for e in j["errors"]:
            out += [f"- [{e['kind'] or e['label']}, judged {e['judged']}] “{e['claim']}” — context: “{e['context']}”"]
        out += [""]
    return out + _judge_comparison(j)


def _judge_comparison(j: dict) -> list[str]:
    """The configured judge beside the other one (trained model or heuristic), on the labelled claims
    and on the judgement model's held-out test split, plus warm verification latency."""
    rows = comparison_rows(j)
    if len(rows) < 2:
        return []
    out = ["### Side by side", ""]
    out += _table(["judge", "data", "n", "balanced accuracy", "precision (unsupported)", "recall (unsupported)"],
                  [[who, data, m["n"], _with_ci(m["balanced_accuracy"], m["ci"].get("balanced_accuracy")),
                    _num(m["precision_unsupported"]), _num(m["recall_unsupported"])] for who, data, m in rows])
    for who, latency in latency_rows(j):
        out += [f"- {who} judge, {latency['what']}: p50 {latency['p50_ms']:.0f} ms, max {latency['max_ms']:.0f} ms "
                f"({latency['n']} answers)"]
    return out + [""]


def _grading_section(run, plots: dict[str, str]) -> list[str]:
    """Agreement with the reference scores, scores by level and the scatter plot."""
    g = run.metrics["grading"]
    out = ["## Grading", "",
            f"{g['n']} labelled candidate answers graded against their question's rubric; agreement with the "
            "reference scores.", ""]
    out += _table(["Spearman", "Kendall tau-b", "pairwise accuracy", "pairs", "mean |error|"],
                  [[_num(g["spearman"]), _num(g["kendall"]), _num(g["pairwise_accuracy"]), g["pairs"],
                    _num(g["mean_abs_error"], 1)]])
    out += ["Coach score by reference level:", ""]
    out += _table(["level", "n", "mean", "min", "median", "max"],
                  [[k, v["n"], v["mean"], v["min"], v["median"], v["max"]] for k, v in g["by_level"].items()])
    if "grading" in plots:
        out += [f"![coach score vs reference]({plots['grading']})", ""]
    return out


def _latency_section(run, plots: dict[str, str]) -> list[str]:
    """Warm p50/p95/mean per operation."""
    out = ["## Latency", "", "Warm, one untimed call first; milliseconds of wall time.", ""]
    out += _table(["operation", "n", "p50 ms", "p95 ms", "mean ms"],
                  [[k, v["n"], v["p50_ms"], v["p95_ms"], v["mean_ms"]] for k, v in run.metrics["latency"].items()])
    return out


# One renderer per suite, in report order.
SECTIONS = {"retrieval": _retrieval_section, "faithfulness": _faithfulness_section, "judge": _judge_section,
            "grading": _grading_section, "latency": _latency_section}


def write_plots(run, out_dir: Path) -> dict[str, str]:
    """PNG per suite that has one; returns {suite: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = {}
    m = run.metrics
    if m.get("retrieval"):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        methods = list(m["retrieval"])
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            v = m["retrieval"][method]
            ys = [v[x] for x in RETRIEVAL_METRICS]
            err = [[y - v["ci"][x][0] for x, y in zip(RETRIEVAL_METRICS, ys)],
                   [v["ci"][x][1] - y for x, y in zip(RETRIEVAL_METRICS, ys)]]
            xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(RETRIEVAL_METRICS))]
            ax.bar(xs, ys, width, yerr=err, capsize=3, label=METHOD_LABELS.get(method, method))
        ax.set_xticks(range(len(RETRIEVAL_METRICS)), RETRIEVAL_METRICS)
        lows = [m["retrieval"][k]["ci"][x][0] for k in methods for x in RETRIEVAL_METRICS]
        ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
        ax.set_ylabel("mean over queries (95% CI)")
        ax.set_title(f"Retrieval by method ({next(iter(m['retrieval'].values()))['n']} queries)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(methods), frameon=False)
        ax.grid(axis="y", alpha=0.3)
        written["retrieval"] = _save(fig, out_dir / "retrieval.png")
    if m.get("faithfulness"):
        f = m["faithfulness"]
        modes = list(f)
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        for ax, key, title in ((axes[0], "faithfulness", "mean faithfulness (higher is better)"),
                               (axes[1], "hallucination_rate", "hallucination rate (lower is better)")):
            ys = [f[k][key] for k in modes]
            err = [[y - f[k]["ci"][key][0] for k, y in zip(modes, ys)], [f[k]["ci"][key][1] - y for k, y in zip(modes, ys)]]
            ax.bar(range(len(modes)), ys, yerr=err, capsize=4, color=["tab:grey", "tab:blue", "tab:green"][:len(modes)])
            ax.set_xticks(range(len(modes)), [MODE_LABELS.get(k, k).replace(" + ", "\n+ ") for k in modes], fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_title(title, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle(f"Faithfulness by mode ({f[modes[0]]['n']} questions)")
        written["faithfulness"] = _save(fig, out_dir / "faithfulness.png")
    points = run.details.get("grading", {}).get("points")
    if points:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        levels = list(dict.fromkeys(p["level"] for p in points))
        for level in levels:
            sel = [p for p in points if p["level"] == level]
            ax.scatter([p["reference"] for p in sel], [p["score"] for p in sel], s=22, alpha=0.75,
                       color=LEVEL_COLOURS.get(level), label=level or "(no level)")
        ax.plot([0, 100], [0, 100], color="black", lw=0.8, ls="--", label="perfect agreement")
        ax.set_xlim(-3, 103)
        ax.set_ylim(-3, 103)
        ax.set_xlabel("reference score")
        ax.set_ylabel("coach score")
        g = m["grading"]
        ax.set_title(f"Grading: Spearman {g['spearman']:.2f}, pairwise {g['pairwise_accuracy']:.2f} (n={g['n']})",
                     fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
        written["grading"] = _save(fig, out_dir / "grading.png")
    return written


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    # No timestamp in the file, so a re-run with the same numbers writes the same bytes.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path.name
