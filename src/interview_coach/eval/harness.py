"""The evaluation harness: suites registered by name; plan suites and datasets, run them on a Coach, collect results.
Leaves out each suite's scoring (its own module in this package) and writing the report (report.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from ..errors import UsageError
from .data import BUNDLED, detect_kind, load_claims, load_graded, load_queries, spread, spread_groups

# Questions answered by the faithfulness suite: the 32 questions of the graded answers. Each takes
# two generations (~6 s on 2 cores, so ~3.5 minutes); a smaller number is spread evenly over them.
FAITHFULNESS_QUESTIONS = 32
KIND_NAMES = {"retrieval": "retrieval queries ({\"query\", \"relevant\"} lines)",
              "claims": "labelled claims ({\"context\", \"claim\", \"label\"} lines)",
              "graded": "graded answers ({\"question_id\", \"answer\", \"reference_score\"} lines)"}
LOADERS = {"retrieval": load_queries, "claims": load_claims, "graded": load_graded}


@dataclass
class EvalRun:
    metrics: dict = field(default_factory=dict)   # what `coach eval --json` prints: {suite: ...}
    details: dict = field(default_factory=dict)   # per-item data for the report and plots
    meta: dict = field(default_factory=dict)      # when, which datasets, how long, notices


@dataclass
class SuiteContext:
    """What a suite gets: the coach, the run's options, its datasets and the run's notices."""

    coach: object
    files: dict[str, Path]
    limit: int | None = None
    progress: Callable | None = None
    notices: list[str] = field(default_factory=list)
    datasets_used: dict[str, str] = field(default_factory=dict)

    def data(self, kind: str) -> list:
        """Load the dataset of `kind` (bundled or given) and note that it was used."""
        self.datasets_used[kind] = str(self.files[kind])
        return LOADERS[kind](self.files[kind])

    def cap(self, items) -> list:
        """The items evenly spread down to `limit`, or all of them."""
        return spread(items, self.limit) if self.limit else list(items)


# A suite's run function returns (metrics, details); details None means the suite has none to report.
SuiteResult = tuple[dict, dict | None]


@dataclass(frozen=True)
class Suite:
    name: str
    run: Callable[[SuiteContext], SuiteResult]
    accepts: frozenset[str]                         # dataset kinds it takes with --dataset
    order: int                                      # run order, lowest first
    with_bundled: tuple[str, ...] = ()              # suites that join it when no dataset is given
    hand_over: Mapping[str, str] = field(default_factory=dict)  # dataset kind -> suite that runs instead


# Registration order is the order of `SUITES` and of the metrics object.
_SUITES: dict[str, Suite] = {}


def register_suite(name: str, *, accepts: set[str], order: int, with_bundled: tuple[str, ...] = (),
                   hand_over: Mapping[str, str] | None = None):
    """Decorator: make a suite's run function available as `coach eval <name>`."""

    def decorate(run: Callable[[SuiteContext], SuiteResult]):
        _SUITES[name] = Suite(name, run, frozenset(accepts), order, tuple(with_bundled), dict(hand_over or {}))
        return run

    return decorate


def suites() -> tuple[str, ...]:
    return tuple(_SUITES)


def choices() -> tuple[str, ...]:
    return (*suites(), "all")


def run_order() -> tuple[str, ...]:
    return tuple(sorted(_SUITES, key=lambda name: _SUITES[name].order))


def accepts() -> dict[str, set[str]]:
    return {name: set(s.accepts) for name, s in _SUITES.items()}


@register_suite("retrieval", accepts={"retrieval"}, order=1)
def _retrieval(ctx: SuiteContext) -> SuiteResult:
    from .retrieval import evaluate_retrieval

    queries = ctx.cap(ctx.data("retrieval"))
    _check_notes(ctx.coach, queries, ctx.notices)
    metrics, runs = evaluate_retrieval(ctx.coach, queries, progress=ctx.progress)
    if "hybrid" not in runs:
        return metrics, None
    hybrid = runs["hybrid"]
    return metrics, {"hybrid_misses_at_5": [
        {"query": q.query, "relevant": list(q.relevant), "top3": ranked[:3]}
        for q, ranked, hit in zip(queries, hybrid.rankings, hybrid.values["hit@5"]) if not hit]}


# With no dataset it does both on the bundled data; a labelled-claims file scores the judge only
# (the answer part needs the bundled question set).
@register_suite("faithfulness", accepts={"claims"}, order=4, with_bundled=("judge",), hand_over={"claims": "judge"})
def _faithfulness(ctx: SuiteContext) -> SuiteResult:
    from .faithfulness import evaluate_faithfulness, faithfulness_questions

    questions = faithfulness_questions(ctx.coach.corpus, [r.question_id for r in ctx.data("graded")],
                                       min(ctx.limit or FAITHFULNESS_QUESTIONS, FAITHFULNESS_QUESTIONS))
    return evaluate_faithfulness(ctx.coach, questions, ctx.progress)


@register_suite("judge", accepts={"claims"}, order=2)
def _judge(ctx: SuiteContext) -> SuiteResult:
    from .judge import evaluate_judge_suite

    return evaluate_judge_suite(ctx.coach, ctx.cap(ctx.data("claims")), ctx.progress), None


@register_suite("grading", accepts={"graded"}, order=3)
def _grading(ctx: SuiteContext) -> SuiteResult:
    from .grading import evaluate_grading

    rows = ctx.data("graded")
    rows = spread_groups(rows, ctx.limit) if ctx.limit else rows
    _check_questions(ctx.coach, rows)
    return evaluate_grading(ctx.coach, rows, ctx.progress)


# Latency runs first, before the other suites have warmed any cache, so it times what a user sees.
@register_suite("latency", accepts={"retrieval", "graded"}, order=0)
def _latency(ctx: SuiteContext) -> SuiteResult:
    from .faithfulness import faithfulness_questions
    from .latency import evaluate_latency

    graded = ctx.data("graded")
    _check_questions(ctx.coach, graded)
    questions = faithfulness_questions(ctx.coach.corpus, [r.question_id for r in graded])
    return evaluate_latency(ctx.coach, ctx.data("retrieval"), questions, graded, ctx.progress, ctx.limit), None


# The chat model's own coaching, adapted vs base, on held-out questions (about 15 minutes on 2 cores).
@register_suite("coaching", accepts=set(), order=5)
def _coaching(ctx: SuiteContext) -> SuiteResult:
    from .coaching import evaluate_coaching

    return evaluate_coaching(ctx.coach, ctx.progress, ctx.limit)


# The built-in suites as constants (the CLI's choices); plan and run_eval read the registry itself.
SUITES = suites()
CHOICES = choices()
RUN_ORDER = run_order()
ACCEPTS = accepts()


def plan(suite: str, dataset: Path | None) -> tuple[list[str], dict[str, Path]]:
    """The suites to run and the dataset file of each kind. A labelled-claims file given to
    `faithfulness` scores the judge only (the answer part needs the bundled question set)."""
    if suite not in choices():
        raise UsageError(f"unknown eval suite {suite!r}; use one of {', '.join(choices())}")
    files = dict(BUNDLED)
    chosen = list(suites()) if suite == "all" else [suite]
    if dataset is not None:
        kind = detect_kind(dataset)
        if suite != "all" and kind not in _SUITES[suite].accepts:
            wanted = " or ".join(KIND_NAMES[k] for k in sorted(_SUITES[suite].accepts))
            raise UsageError(f"{dataset} holds {KIND_NAMES[kind]}; the {suite} suite takes {wanted}")
        files[kind] = Path(dataset)
        if suite != "all":
            chosen = [_SUITES[suite].hand_over.get(kind, suite)]
    elif suite != "all":
        chosen = [suite, *_SUITES[suite].with_bundled]
    return chosen, files


def run_eval(coach, suite: str = "all", dataset: Path | None = None, *, limit: int | None = None,
             progress: Callable | None = None) -> EvalRun:
    """Run the chosen suite(s). `limit` caps the items of every suite (a quick check);
    `progress(iterable, desc=...)` wraps loops (e.g. tqdm), or None for silence."""
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    chosen, files = plan(suite, dataset)
    run = EvalRun()
    run.meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "suites": chosen,
                "limit": limit, "seconds": {}, "notices": [],
                "settings": {"llm_backend": coach.settings.llm_backend, "llm_model": coach.settings.llm_model,
                             "judge": coach.settings.judge, "corpus": str(coach.settings.corpus_dir)}}
    ctx = SuiteContext(coach, files, limit, progress, notices=run.meta["notices"])
    order = run_order()
    for name in sorted(chosen, key=order.index):
        start = time.perf_counter()
        metrics, details = _SUITES[name].run(ctx)
        run.metrics[name] = metrics
        if details is not None:
            run.details[name] = details
        run.meta["seconds"][name] = round(time.perf_counter() - start, 1)
    run.metrics = {name: run.metrics[name] for name in suites() if name in run.metrics}
    run.meta["datasets"] = ctx.datasets_used
    return run


def _check_notes(coach, queries, notices: list) -> None:
    # Queries about notes that are not indexed can never hit; say so instead of reporting a silent 0.
    known = {c.doc_id for c in coach.retriever.chunks.values()}
    unknown = sum(1 for q in queries if not set(q.relevant) & known)
    if unknown:
        notices.append(f"{unknown} of {len(queries)} retrieval queries name only notes that are not in the index")


def _check_questions(coach, rows) -> None:
    bank = {q.id for q in coach.corpus.questions}
    missing = sorted({r.question_id for r in rows if not r.free_text} - bank)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UsageError(f"graded answers name question {missing[0]!r}{more}, which is not in the question bank")
