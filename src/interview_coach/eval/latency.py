"""Latency suite: warm p50/p95 wall time of search, ask and grade over fixed inputs (one untimed warm-up each).
Leaves out ingest throughput, which bench/bench_index.py measures."""

from __future__ import annotations

import time
from typing import Callable, Sequence

from .stats import mean, percentile

# The fixed sets (the first item of each only warms up): every 4th retrieval query (88 of 352), the
# first 9 faithfulness questions, and every 7th graded answer (17 of 128; a step of 7 mixes the four
# answer levels, which are stored in groups of 4).
SEARCH_STEP, ASK_COUNT, GRADE_STEP, GRADE_COUNT = 4, 9, 7, 17


def timings(call: Callable, items: Sequence, desc: str, progress: Callable | None = None) -> dict:
    if not items:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0}
    call(items[0])  # warm-up, untimed
    ms = []
    timed = items[1:] or items
    for item in (progress(timed, desc=desc) if progress else timed):
        start = time.perf_counter()
        call(item)
        ms.append((time.perf_counter() - start) * 1000)
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "mean_ms": round(mean(ms), 1)}


def evaluate_latency(coach, queries: Sequence, questions: Sequence, graded: Sequence,
                     progress: Callable | None = None, limit: int | None = None) -> dict:
    """queries: RetrievalQuery; questions: corpus.Question; graded: GradedAnswer. `limit` caps each set."""
    search_set = list(queries[::SEARCH_STEP])[:limit] if limit else list(queries[::SEARCH_STEP])
    ask_set = list(questions[:min(ASK_COUNT, limit or ASK_COUNT)])
    grade_set = list(graded[::GRADE_STEP][:min(GRADE_COUNT, limit or GRADE_COUNT)])
    return {
        "search": timings(lambda q: coach.search(q.query), search_set, "latency (search)", progress),
        "ask": timings(lambda q: coach.ask(q.question), ask_set, "latency (ask)", progress),
        "grade": timings(lambda r: coach.grade(r.question_id, r.answer), grade_set, "latency (grade)", progress),
    }
