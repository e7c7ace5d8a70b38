"""`coach eval [SUITE] [--dataset FILE] [--out DIR] [--limit N] [--json]`: run the evaluation harness,
write the report folder and print the metrics (a summary table, or one JSON object).

The suites live in the eval/ subpackage; this module only parses and prints.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from ..settings import Settings
from .common import print_json, progress_iter, settings_from


def default_out_dir(settings: Settings) -> Path:
    return settings.home / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")


def cmd_eval(args) -> int:
    from ..coach import Coach
    from ..eval import run_eval
    from ..eval.report import write_report

    settings = settings_from(args)
    coach = Coach(settings)
    run = run_eval(coach, args.suite, Path(args.dataset) if args.dataset else None, limit=args.limit,
                   progress=progress_iter(False if args.json else None))
    out_dir = Path(args.out) if args.out else default_out_dir(settings)
    report = write_report(run, out_dir)
    if args.json:
        print_json(run.metrics)
        return 0
    print_summary(run.metrics)
    for notice in run.meta.get("notices", []):
        print(f"note: {notice}", file=sys.stderr)
    print(f"report: {report}")
    return 0


def print_summary(metrics: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if "retrieval" in metrics:
        names = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5")
        table = Table("retrieval", *names, title="Retrieval (mean; 95% CI in the report)")
        for method, v in metrics["retrieval"].items():
            table.add_row(method, *(f"{v[n]:.3f}" for n in names))
        console.print(table)
    if "faithfulness" in metrics:
        table = Table("mode", "faithfulness", "hallucination rate", "answers", title="Faithfulness")
        for mode, v in metrics["faithfulness"].items():
            table.add_row(mode, f"{v['faithfulness']:.3f}", f"{v['hallucination_rate']:.3f}", str(v["n"]))
        console.print(table)
    if "judge" in metrics:
        print_judge(console, metrics["judge"])
    if "grading" in metrics:
        g = metrics["grading"]
        console.print(f"[bold]Grading[/] on {g['n']} answers: Spearman {g['spearman']:.3f}, Kendall "
                      f"{g['kendall']:.3f}, pairwise accuracy {g['pairwise_accuracy']:.3f}")
        test = g.get("splits", {}).get("test")
        if test:
            ci = test.get("ci95", {}).get("pairwise_accuracy")
            missed = [k for k, ok in test["targets_met"].items() if not ok]
            console.print(f"  test split ({test['n']} answers the calibration never saw): pairwise "
                          f"{test['pairwise_accuracy']:.3f}" + (f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else "")
                          + f", Spearman {test['spearman']:.3f}; targets not met: {', '.join(missed) or 'none'}")
    if "latency" in metrics:
        table = Table("operation", "p50 ms", "p95 ms", "n", title="Latency (warm)")
        for op, v in metrics["latency"].items():
            table.add_row(op, f"{v['p50_ms']:.1f}", f"{v['p95_ms']:.1f}", str(v["n"]))
        console.print(table)


def add_parsers(sub) -> None:
    from ..eval import CHOICES

    p = sub.add_parser(
        "eval", help="measure retrieval, faithfulness, the judge, grading and latency; write a report",
        description="Run the evaluation suites on the bundled datasets (eval/datasets/) and write report.md, "
                    "metrics.json and plots. `faithfulness` also scores the judge; `judge` scores only the judge.")
    p.add_argument("suite", nargs="?", default="all", choices=CHOICES, help="which suite (default: all)")
    p.add_argument("--dataset", metavar="FILE",
                   help="JSONL to use instead of the bundled data of its kind: retrieval queries "
                        "{query, relevant}, labelled claims {context, claim, label} or graded answers "
                        "{question_id or question, answer, reference_score}")
    p.add_argument("--out", metavar="DIR", help="report folder (default: $COACH_HOME/reports/<timestamp>)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N items per suite (a quick check)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=cmd_eval)


def print_judge(console, j: dict) -> None:
    """The configured judge beside the other one (trained model or heuristic), on the labelled claims
    and on the held-out split."""
    from rich.table import Table

    from ..eval.judge import comparison_rows, latency_rows

    table = Table("judge", "data", "n", "balanced accuracy (95% CI)", "precision", "recall",
                  title='Judge ("unsupported" is the positive class)')
    for who, data, m in comparison_rows(j):
        lo, hi = m["ci"]["balanced_accuracy"]
        table.add_row(who, data, str(m["n"]), f"{m['balanced_accuracy']:.3f} ({lo:.3f}-{hi:.3f})",
                      f"{m['precision_unsupported']:.3f}", f"{m['recall_unsupported']:.3f}")
    console.print(table)
    compared = j.get("compared") or {}
    if compared.get("error"):
        console.print(f"{compared['judge']} judge not compared: {compared['error']}")
    for who, latency in latency_rows(j):
        console.print(f"{who} judge: {latency['what']}: p50 {latency['p50_ms']:.0f} ms (max {latency['max_ms']:.0f})")
