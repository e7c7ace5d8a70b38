"""Grading suite: grade labelled answers and compare with reference scores (Spearman, Kendall, pairwise, levels).
Leaves out the grader itself (interview_coach.grading) and the plots (report.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from .data import GradedAnswer
from .stats import kendall, mean, pairwise_accuracy, percentile, spearman

LEVELS = ("strong", "partial", "wrong", "off-topic")  # report order; other levels follow


def score_grades(rows: Sequence[GradedAnswer], scores: Sequence[float]) -> dict:
    reference = [r.reference_score for r in rows]
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    by_level: dict[str, list[float]] = defaultdict(list)
    for row, score in zip(rows, scores):
        groups[row.question_id].append((float(score), row.reference_score))
        by_level[row.level or "(none)"].append(float(score))
    accuracy, pairs = pairwise_accuracy(groups)
    order = [l for l in LEVELS if l in by_level] + sorted(set(by_level) - set(LEVELS))
    return {
        "spearman": round(spearman(scores, reference), 4),
        "kendall": round(kendall(scores, reference), 4),
        "pairwise_accuracy": round(accuracy, 4),
        "pairs": pairs,
        "n": len(rows),
        "mean_abs_error": round(mean([abs(s - r) for s, r in zip(scores, reference)]), 2),
        "by_level": {
            level: {"n": len(v), "mean": round(mean(v), 1), "min": min(v), "median": percentile(v, 50),
                    "max": max(v)} for level in order if (v := by_level[level])},
    }


def evaluate_grading(coach, rows: Sequence[GradedAnswer], progress: Callable | None = None) -> tuple[dict, dict]:
    """Returns (metrics, details with each (level, reference, score) for the scatter plot)."""
    scores = []
    for row in (progress(rows, desc="grading") if progress else rows):
        scores.append(float(coach.grade(row.question_id, row.answer).score))
    details = {"points": [{"question_id": r.question_id, "level": r.level, "reference": r.reference_score,
                           "score": s} for r, s in zip(rows, scores)]}
    return score_grades(rows, scores), details
