"""Grading suite: grade labelled answers and compare with reference scores (Spearman, Kendall, pairwise,
levels, the calibration targets), on all answers and on each split (the calibration is fitted on "dev";
"test" is what we report). Leaves out the grader itself (interview_coach.grading) and the plots (report.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from .data import GradedAnswer
from .stats import bootstrap_ci, kendall, mean, pairwise_accuracy, percentile, spearman

LEVELS = ("strong", "brief", "partial", "wrong", "off-topic")  # report order; other levels follow
# Issue 13's calibration targets, checked on the test split: (metric, comparison, bound).
TARGETS = (("pairwise_accuracy", ">=", 0.95), ("spearman", ">=", 0.85), ("strong_median", ">=", 80),
           ("strong_min", ">=", 60), ("wrong_median", "<=", 25), ("wrong_below_partial", ">=", 0.95),
           ("off_topic_max", "<=", 10))


def score_grades(rows: Sequence[GradedAnswer], scores: Sequence[float]) -> dict:
    reference = [r.reference_score for r in rows]
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    by_level: dict[str, list[float]] = defaultdict(list)
    for row, score in zip(rows, scores):
        groups[row.question_id].append((float(score), row.reference_score))
        by_level[row.level or "(none)"].append(float(score))
    accuracy, pairs = pairwise_accuracy(groups)
    order = [l for l in LEVELS if l in by_level] + sorted(set(by_level) - set(LEVELS))
    calibration = _calibration(rows, scores, by_level)
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
        **calibration,
    }


def _calibration(rows: Sequence[GradedAnswer], scores: Sequence[float], by_level) -> dict:
    """The figures the calibration targets name: medians and extremes by level, and the share of
    questions where the wrong answer scores below the partial one."""
    per_question: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row, score in zip(rows, scores):
        per_question[row.question_id][row.level].append(float(score))
    ordered = [max(q["wrong"]) < min(q["partial"]) for q in per_question.values() if q["wrong"] and q["partial"]]
    out = {"wrong_below_partial": round(mean([float(x) for x in ordered]), 4) if ordered else None,
           "questions": len(per_question)}
    for level, key in (("strong", "strong"), ("wrong", "wrong"), ("off-topic", "off_topic"), ("brief", "brief")):
        values = by_level.get(level) or []
        out[f"{key}_median"] = percentile(values, 50) if values else None
        out[f"{key}_min"] = min(values) if values else None
        out[f"{key}_max"] = max(values) if values else None
    return out


def targets_met(metrics: dict) -> dict[str, bool]:
    """Each calibration target: met or not (a missing figure is not met)."""
    out = {}
    for key, op, bound in TARGETS:
        value = metrics.get(key)
        out[key] = value is not None and (value >= bound if op == ">=" else value <= bound)
    return out


def question_bootstrap(rows: Sequence[GradedAnswer], scores: Sequence[float]) -> dict[str, list[float]]:
    """95% interval of the mean per-question pairwise accuracy, resampling questions (answers to one
    question are not independent)."""
    groups: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for row, score in zip(rows, scores):
        groups[row.question_id].append((float(score), row.reference_score, row.level))
    pairwise = []
    for items in groups.values():
        accuracy, pairs = pairwise_accuracy({"q": [(s, r) for s, r, _ in items]})
        if pairs:
            pairwise.append(accuracy)
    if not pairwise:
        return {}
    return {name: [round(lo, 4), round(hi, 4)] for name, (lo, hi) in bootstrap_ci({"pairwise_accuracy": pairwise}).items()}


def evaluate_grading(coach, rows: Sequence[GradedAnswer], progress: Callable | None = None) -> tuple[dict, dict]:
    """Returns (metrics, details with each (level, reference, score) for the scatter plot)."""
    scores = []
    for row in (progress(rows, desc="grading") if progress else rows):
        scores.append(float(coach.grade(row.question_id, row.answer).score))
    details = {"points": [{"question_id": r.question_id, "level": r.level, "reference": r.reference_score,
                           "score": s, "split": r.split} for r, s in zip(rows, scores)]}
    metrics = score_grades(rows, scores)
    metrics["splits"] = {}
    for split in ("dev", "test"):
        chosen = [(r, s) for r, s in zip(rows, scores) if r.split == split]
        if chosen:
            part = score_grades([r for r, _ in chosen], [s for _, s in chosen])
            part["ci95"] = question_bootstrap([r for r, _ in chosen], [s for _, s in chosen])
            part["targets_met"] = targets_met(part)
            metrics["splits"][split] = part
    return metrics, details
