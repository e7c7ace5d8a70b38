"""Judge suite: score the faithfulness judge itself on labelled (context, claim, label) rows, treating
"unsupported" as the positive class: balanced accuracy, precision, recall, confusion matrix, per kind.

Judging answers produced by the coach is left to eval_faithfulness.py.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from .eval_data import LabelledClaim
from .eval_stats import Confusion, bootstrap_ci_of_group_means

MAX_ERRORS = 5  # misjudged claims shown in the report


def judge_claims(judge, claims: Sequence[LabelledClaim], progress: Callable | None = None) -> list:
    """One Verdict per claim, each judged against its own context only. Claims sharing a context go to
    the judge in one call, which is faster for judges that embed the context."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(claims):
        groups[c.context].append(i)
    verdicts: list = [None] * len(claims)
    items = list(groups.items())
    for context, idx in (progress(items, desc="judge (labelled claims)") if progress else items):
        for i, verdict in zip(idx, judge.check([claims[i].claim for i in idx], [context])):
            verdicts[i] = verdict
    return verdicts


def score_judge(claims: Sequence[LabelledClaim], predicted_unsupported: Sequence[bool]) -> dict:
    truth = [c.label == "unsupported" for c in claims]
    cm = Confusion.from_labels(truth, predicted_unsupported)
    correct = [float(t == p) for t, p in zip(truth, predicted_unsupported)]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for c, ok in zip(claims, correct):
        by_kind[c.kind or c.label].append(ok)
    # Balanced accuracy is the mean of the two class recalls, not a mean over items: resample within
    # each class (stratified), which keeps both classes in every resample.
    lo, hi = bootstrap_ci_of_group_means([[ok for t, ok in zip(truth, correct) if t],
                                          [ok for t, ok in zip(truth, correct) if not t]])
    return {
        "balanced_accuracy": round(cm.balanced_accuracy, 4),
        "precision_unsupported": round(cm.precision, 4),
        "recall_unsupported": round(cm.recall, 4),
        "recall_supported": round(cm.specificity, 4),
        "accuracy": round(cm.accuracy, 4),
        "n": cm.n,
        # Rows are the truth, columns the judge's call.
        "confusion": {"unsupported": {"unsupported": cm.tp, "supported": cm.fn},
                      "supported": {"unsupported": cm.fp, "supported": cm.tn}},
        "ci": {"balanced_accuracy": [round(lo, 4), round(hi, 4)]},
        "accuracy_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
    }


def evaluate_judge(judge, claims: Sequence[LabelledClaim], progress: Callable | None = None) -> dict:
    verdicts = judge_claims(judge, claims, progress)
    result = score_judge(claims, [not v.supported for v in verdicts])
    result["errors"] = [
        {"claim": c.claim, "context": c.context, "label": c.label, "kind": c.kind,
         "judged": "supported" if v.supported else "unsupported", "score": round(float(v.score), 4),
         "reason": v.reason}
        for c, v in zip(claims, verdicts) if v.supported != (c.label == "supported")][:MAX_ERRORS]
    return result
