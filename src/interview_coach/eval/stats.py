"""Harness statistics as pure functions: bootstrap CIs, binary scores, rank correlation, pairwise accuracy.
Leaves out per-query ranking metrics (metrics.py), running suites and writing reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

BOOTSTRAP_SAMPLES = 1000
SEED = 0


def mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def bootstrap_ci(columns: Mapping[str, Sequence[float]], *, samples: int = BOOTSTRAP_SAMPLES,
                 level: float = 0.95, seed: int = SEED) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CI of the mean of each column, all resampled with the same item indices
    (the columns are per-item values of the same items, e.g. metrics per query)."""
    import numpy as np

    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError("bootstrap columns must have the same length")
    n = lengths.pop() if lengths else 0
    if n == 0:
        return {name: (0.0, 0.0) for name in columns}
    # A fixed seed makes the interval identical on a re-run.
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    alpha = (1.0 - level) / 2
    out = {}
    for name, values in columns.items():
        means = np.asarray(values, dtype=float)[idx].mean(axis=1)
        lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
        out[name] = (float(lo), float(hi))
    return out


def bootstrap_ci_of_group_means(groups: Sequence[Sequence[float]], *, samples: int = BOOTSTRAP_SAMPLES,
                                level: float = 0.95, seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of the group means, each group resampled on its own
    (stratified). With per-class correctness as the groups this is a CI of balanced accuracy."""
    import numpy as np

    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not groups:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    stats = np.mean([g[rng.integers(0, len(g), size=(samples, len(g)))].mean(axis=1) for g in groups], axis=0)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class Confusion:
    """Counts for a binary decision; the positive class is the one being detected (e.g. "unsupported")."""
    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def from_labels(cls, truth: Sequence[bool], predicted: Sequence[bool]) -> "Confusion":
        if len(truth) != len(predicted):
            raise ValueError("truth and predictions differ in length")
        pairs = list(zip(truth, predicted))
        return cls(tp=sum(t and p for t, p in pairs), fp=sum(p and not t for t, p in pairs),
                   fn=sum(t and not p for t, p in pairs), tn=sum(not t and not p for t, p in pairs))

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else 0.0

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else 0.0

    @property
    def balanced_accuracy(self) -> float:
        # Mean of the recall of each class: a judge that always says one thing scores 0.5.
        return (self.recall + self.specificity) / 2


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic) if _varies(x, y) else 0.0


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either variable are corrected for)."""
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic) if _varies(x, y) else 0.0


def _varies(x: Sequence[float], y: Sequence[float]) -> bool:
    # A constant input has no defined correlation (scipy gives NaN); report 0, no agreement.
    return len(set(x)) > 1 and len(set(y)) > 1


def pairwise_accuracy(groups: Mapping[str, Sequence[tuple[float, float]]]) -> tuple[float, int]:
    """Within each group of (predicted, reference) pairs, the share of item pairs whose reference
    scores differ that the predictions order the same way; a tie in the prediction counts half.
    Returns (accuracy, number of pairs compared)."""
    agree = 0.0
    pairs = 0
    for items in groups.values():
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (pi, ri), (pj, rj) = items[i], items[j]
                if ri == rj:
                    continue
                pairs += 1
                if pi == pj:
                    agree += 0.5
                elif (pi > pj) == (ri > rj):
                    agree += 1.0
    return (agree / pairs if pairs else 0.0), pairs


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100] (numpy's default method)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0
