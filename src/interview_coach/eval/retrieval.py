"""Retrieval suite: rank notes per query by vector, BM25 and hybrid search; hit/MRR/nDCG/recall with CIs.
Leaves out the per-query metric functions (metrics.py) and the tables and plots (report.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .data import RetrievalQuery
from .metrics import dedupe, hit_at, mrr_at, ndcg_at, recall_at
from .stats import bootstrap_ci, mean

METHODS = ("hybrid", "vector", "bm25")
# name -> (metric function, cutoff), in report order.
METRICS: dict[str, tuple[Callable, int]] = {
    "hit@1": (hit_at, 1), "hit@3": (hit_at, 3), "hit@5": (hit_at, 5),
    "mrr@10": (mrr_at, 10), "ndcg@10": (ndcg_at, 10), "recall@5": (recall_at, 5),
}


@dataclass
class MethodRun:
    """One method over all queries: the ranked note ids per query and the per-query metric values."""
    method: str
    rankings: list[list[str]] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})


def score_ranking(ranked_notes: Sequence[str], relevant: set[str]) -> dict[str, float]:
    """All suite metrics for one query; `ranked_notes` are note ids, best first, already deduplicated."""
    return {name: fn(ranked_notes, relevant, k) for name, (fn, k) in METRICS.items()}


def run_method(search: Callable[[str, str], list], queries: Sequence[RetrievalQuery], method: str,
               progress: Callable | None = None) -> MethodRun:
    """`search(query, method)` returns ScoredChunks best first; several chunks of one note count once."""
    run = MethodRun(method)
    for q in (progress(queries, desc=f"retrieval ({method})") if progress else queries):
        ranked = dedupe([r.chunk.doc_id for r in search(q.query, method)])
        run.rankings.append(ranked)
        for name, value in score_ranking(ranked, set(q.relevant)).items():
            run.values[name].append(value)
    return run


def summarise(run: MethodRun, queries: Sequence[RetrievalQuery]) -> dict:
    out: dict = {name: round(mean(values), 4) for name, values in run.values.items()}
    out["ci"] = {name: [round(lo, 4), round(hi, 4)] for name, (lo, hi) in bootstrap_ci(run.values).items()}
    out["n"] = len(queries)
    by_track: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        by_track[q.track or "(none)"].append(i)
    out["by_track"] = {
        track: {"n": len(idx), "hit@5": round(mean([run.values["hit@5"][i] for i in idx]), 4),
                "mrr@10": round(mean([run.values["mrr@10"][i] for i in idx]), 4)}
        for track, idx in sorted(by_track.items())}
    return out


def evaluate_retrieval(coach, queries: Sequence[RetrievalQuery], methods: Sequence[str] = METHODS,
                       progress: Callable | None = None) -> tuple[dict, dict[str, MethodRun]]:
    """Returns ({method: metrics}, {method: MethodRun}). Each search asks for the whole candidate pool
    (settings.candidate_pool chunks), so hybrid fuses exactly the lists `coach search` fuses."""
    pool = coach.settings.candidate_pool

    def search(query: str, method: str):
        return coach.search(query, k=pool, mode=method)

    runs = {m: run_method(search, queries, m, progress) for m in methods}
    return {m: summarise(run, queries) for m, run in runs.items()}, runs
