"""The evaluation harness: pick the suites, load their datasets (bundled, or one given file), run each
suite against a Coach, and collect one metrics object plus per-item details for the report.

Each suite's scoring lives in its eval_* module; report.md, metrics.json and plots in eval_report.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .errors import UsageError
from .eval_data import BUNDLED, detect_kind, load_claims, load_graded, load_queries, spread, spread_groups

SUITES = ("retrieval", "faithfulness", "judge", "grading", "latency")
CHOICES = (*SUITES, "all")
# Latency runs first, before the other suites have warmed any cache, so it times what a user sees.
RUN_ORDER = ("latency", "retrieval", "judge", "grading", "faithfulness")
# Questions answered by the faithfulness suite: the 32 questions of the graded answers. Each takes
# two generations (~6 s on 2 cores, so ~3.5 minutes); a smaller number is spread evenly over them.
FAITHFULNESS_QUESTIONS = 32
KIND_NAMES = {"retrieval": "retrieval queries ({\"query\", \"relevant\"} lines)",
              "claims": "labelled claims ({\"context\", \"claim\", \"label\"} lines)",
              "graded": "graded answers ({\"question_id\", \"answer\", \"reference_score\"} lines)"}
# The dataset kinds each suite can take with --dataset.
ACCEPTS = {"retrieval": {"retrieval"}, "faithfulness": {"claims"}, "judge": {"claims"},
           "grading": {"graded"}, "latency": {"retrieval", "graded"}}


@dataclass
class EvalRun:
    metrics: dict = field(default_factory=dict)   # what `coach eval --json` prints: {suite: ...}
    details: dict = field(default_factory=dict)   # per-item data for the report and plots
    meta: dict = field(default_factory=dict)      # when, which datasets, how long, notices


def plan(suite: str, dataset: Path | None) -> tuple[list[str], dict[str, Path]]:
    """The suites to run and the dataset file of each kind. A labelled-claims file given to
    `faithfulness` scores the judge only (the answer part needs the bundled question set)."""
    if suite not in CHOICES:
        raise UsageError(f"unknown eval suite {suite!r}; use one of {', '.join(CHOICES)}")
    files = dict(BUNDLED)
    suites = list(SUITES) if suite == "all" else [suite]
    if dataset is not None:
        kind = detect_kind(dataset)
        if suite != "all" and kind not in ACCEPTS[suite]:
            wanted = " or ".join(KIND_NAMES[k] for k in sorted(ACCEPTS[suite]))
            raise UsageError(f"{dataset} holds {KIND_NAMES[kind]}; the {suite} suite takes {wanted}")
        files[kind] = Path(dataset)
        if suite == "faithfulness" and kind == "claims":
            suites = ["judge"]
    elif suite == "faithfulness":
        suites = ["faithfulness", "judge"]  # with no dataset it does both on the bundled data
    return suites, files


def run_eval(coach, suite: str = "all", dataset: Path | None = None, *, limit: int | None = None,
             progress: Callable | None = None) -> EvalRun:
    """Run the chosen suite(s). `limit` caps the items of every suite (a quick check);
    `progress(iterable, desc=...)` wraps loops (e.g. tqdm), or None for silence."""
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    suites, files = plan(suite, dataset)
    run = EvalRun()
    run.meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "suites": suites,
                "limit": limit, "seconds": {}, "notices": [],
                "settings": {"llm_backend": coach.settings.llm_backend, "llm_model": coach.settings.llm_model,
                             "judge": coach.settings.judge, "corpus": str(coach.settings.corpus_dir)}}
    cap = (lambda items: spread(items, limit)) if limit else list

    datasets_used = {}

    def data(kind: str):
        datasets_used[kind] = str(files[kind])
        return {"retrieval": load_queries, "claims": load_claims, "graded": load_graded}[kind](files[kind])

    for name in sorted(suites, key=RUN_ORDER.index):
        start = time.perf_counter()
        if name == "retrieval":
            from .eval_retrieval import evaluate_retrieval

            queries = cap(data("retrieval"))
            _check_notes(coach, queries, run.meta["notices"])
            run.metrics["retrieval"], runs = evaluate_retrieval(coach, queries, progress=progress)
            if "hybrid" in runs:
                hybrid = runs["hybrid"]
                run.details["retrieval"] = {"hybrid_misses_at_5": [
                    {"query": q.query, "relevant": list(q.relevant), "top3": ranked[:3]}
                    for q, ranked, hit in zip(queries, hybrid.rankings, hybrid.values["hit@5"]) if not hit]}
        elif name == "faithfulness":
            from .eval_faithfulness import evaluate_faithfulness, faithfulness_questions

            questions = faithfulness_questions(coach.corpus, [r.question_id for r in data("graded")],
                                               min(limit or FAITHFULNESS_QUESTIONS, FAITHFULNESS_QUESTIONS))
            run.metrics["faithfulness"], run.details["faithfulness"] = evaluate_faithfulness(coach, questions, progress)
        elif name == "judge":
            from .eval_judge import evaluate_judge

            run.metrics["judge"] = evaluate_judge(coach.judge, cap(data("claims")), progress)
        elif name == "grading":
            from .eval_grading import evaluate_grading

            rows = data("graded")
            rows = spread_groups(rows, limit) if limit else rows
            _check_questions(coach, rows)
            run.metrics["grading"], run.details["grading"] = evaluate_grading(coach, rows, progress)
        elif name == "latency":
            from .eval_faithfulness import faithfulness_questions
            from .eval_latency import evaluate_latency

            graded = data("graded")
            _check_questions(coach, graded)
            questions = faithfulness_questions(coach.corpus, [r.question_id for r in graded])
            run.metrics["latency"] = evaluate_latency(coach, data("retrieval"), questions, graded, progress, limit)
        run.meta["seconds"][name] = round(time.perf_counter() - start, 1)
    run.metrics = {name: run.metrics[name] for name in SUITES if name in run.metrics}
    run.meta["datasets"] = datasets_used
    return run




def _check_notes(coach, queries, notices: list) -> None:
    # Queries about notes that are not indexed can never hit; say so instead of reporting a silent 0.
    known = {c.doc_id for c in coach.retriever.chunks.values()}
    unknown = sum(1 for q in queries if not set(q.relevant) & known)
    if unknown:
        notices.append(f"{unknown} of {len(queries)} retrieval queries name only notes that are not in the index")


def _check_questions(coach, rows) -> None:
    bank = {q.id for q in coach.corpus.questions}
    missing = sorted({r.question_id for r in rows} - bank)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"graded answers name question {missing[0]!r}{more}, which is not in the question bank")
