"""Ranking metrics as small pure functions over (ranked ids, relevant ids), with binary relevance.
Leaves out aggregation, confidence intervals and reports (the retrieval suite and report.py)."""

from __future__ import annotations

import math
from typing import Sequence


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Keep the first occurrence of each id (several chunks of one note count once, at its best rank)."""
    return list(dict.fromkeys(ranked))


def hit_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return 1.0 if any(r in relevant for r in ranked[:k]) else 0.0


def mrr_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    for i, r in enumerate(ranked[:k], start=1):
        if r in relevant:
            return 1.0 / i
    return 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(ranked[:k], start=1) if r in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0
