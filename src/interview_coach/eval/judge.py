"""Judge suite: score the faithfulness judge on labelled claims (unsupported is positive), held-out pairs, latency.
Leaves out judging the coach's own answers, which the faithfulness suite (faithfulness.py) does."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Sequence

from ..errors import CoachError
from .data import LabelledClaim
from .stats import Confusion, bootstrap_ci_of_group_means

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


def held_out_claims() -> list[LabelledClaim]:
    """The judgement model's held-out pairs (notes it never trained on), two-way."""
    from ..judge_data import load_all_pairs, split_pairs

    return [p.as_claim() for p in split_pairs(load_all_pairs())["test"]]


def answer_latency(judge, corpus, settings, answers: int = 20) -> dict:
    """Warm time to verify a three-sentence cited answer against three real note chunks, as `coach ask`
    does: statements from held-out pairs, sources the chunks of their notes."""
    import statistics
    import time

    from ..chunking import chunk_document
    from ..judge_data import load_pairs, split_pairs
    from ..verification import verify

    notes = {d.id: d for d in corpus.notes}
    by_note: dict[str, list[str]] = defaultdict(list)
    for p in split_pairs(load_pairs())["test"]:
        if p.label == "supports" and p.note in notes:
            by_note[p.note].append(p.statement)
    cases = []
    for note_id, statements in sorted(by_note.items()):
        chunks = chunk_document(notes[note_id], settings.chunk_size, settings.chunk_overlap)[:3]
        if len(chunks) == 3 and len(statements) >= 3:
            answer = " ".join(f"{s.rstrip('.')} [{i}]." for i, s in enumerate(statements[:3], 1))
            cases.append((answer, [c.text for c in chunks]))
    cases = cases[:answers]
    if not cases:
        return {}
    verify(*cases[0], judge)  # load the model first: this measures warm verification
    times = []
    for answer, sources in cases:
        start = time.perf_counter()
        verify(answer, sources, judge)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "n": len(times),
            "what": "verify a 3-sentence answer citing 3 note chunks, warm"}


def evaluate_judge_suite(coach, claims: Sequence[LabelledClaim], progress: Callable | None = None) -> dict:
    """The configured judge on the labelled claims (top-level keys, as before), on the judgement
    model's held-out test split and in verification latency; the other of {trained model, heuristic}
    beside it under `compared`."""
    from .. import judge as judges

    result = evaluate_judge(coach.judge, claims, progress)
    test = held_out_claims()
    result["test_split"] = evaluate_judge(coach.judge, test, progress)
    result["latency"] = answer_latency(coach.judge, coach.corpus, coach.settings)
    from ..judge_model import CrossEncoderJudge

    other = "heuristic" if isinstance(coach.judge, CrossEncoderJudge) else "model"
    try:
        judge = judges.load_judge(coach.settings.replace(judge=other, judge_model=""), embeddings=coach.embeddings)
        result["compared"] = {"judge": other, "claims": evaluate_judge(judge, claims, progress),
                              "test_split": evaluate_judge(judge, test, progress),
                              "latency": answer_latency(judge, coach.corpus, coach.settings)}
    except CoachError as e:  # the trained model's folder is missing: say so beside the numbers
        result["compared"] = {"judge": other, "error": str(e)}
    return result


def comparison_rows(j: dict) -> list[tuple[str, str, dict]]:
    """(judge, data, metrics) for the configured judge and the one it is compared with, on the labelled
    claims and on the held-out test split: one row list for the terminal table and the markdown report."""
    compared = j.get("compared") or {}
    other = compared.get("judge", "")
    rows = [("configured", "labelled claims", j), ("configured", "held-out test split", j.get("test_split")),
            (other, "labelled claims", compared.get("claims")), (other, "held-out test split", compared.get("test_split"))]
    return [r for r in rows if r[2]]


def latency_rows(j: dict) -> list[tuple[str, dict]]:
    """(judge, latency) for the configured judge and the compared one, where measured."""
    compared = j.get("compared") or {}
    rows = [("configured", j.get("latency")), (compared.get("judge", ""), compared.get("latency"))]
    return [r for r in rows if r[1]]
