"""The quality gate: a quick subset of `coach eval` on the real index, embedder and judge, failing when
retrieval, the judge or the grader drops below thresholds set a little under the measured values.

Re-measure with `coach eval all` and move a threshold only with a reason (see eval/README.md).
"""

from __future__ import annotations

import pytest

from interview_coach.eval.data import load_claims, load_graded, load_queries, spread_groups
from interview_coach.eval.grading import evaluate_grading
from interview_coach.eval.judge import evaluate_judge, held_out_claims
from interview_coach.eval.retrieval import METRICS, evaluate_retrieval

pytestmark = pytest.mark.slow

# Retrieval, all 443 queries (measured: hybrid hit@5 0.993, MRR@10 0.907, hit@1 0.838 with camelCase terms and
# short tails merged; 0.9955, 0.914, 0.851 before; vector hit@5 0.980, BM25 hit@5 0.959).
HYBRID_HIT_AT_5 = 0.98
HYBRID_MRR_AT_10 = 0.89
HYBRID_HIT_AT_1 = 0.82
# Both judges on all 265 labelled claims. The trained judge is the default (v11 measured: balanced accuracy
# 0.629, CI 0.578-0.683; recall of unsupported 0.854, of supported 0.40): it lets few false claims through and
# calls many correct paraphrases unverified. The heuristic (measured: 0.661, CI 0.607-0.716; its thresholds
# were set on these claims) keeps its gate: the grader reads an answer's sentences with it.
TRAINED_JUDGE_BALANCED_ACCURACY = 0.60
HEURISTIC_JUDGE_BALANCED_ACCURACY = 0.63
# The trained judge (COACH_JUDGE=model, v11) on its held-out test split: the 35 notes it never trained on,
# their 945 hand pairs, 210 distant pairs (a wrong or right statement in a candidate's own words) and 280
# claims (standalone, formally reworded). Measured: 0.779, CI 0.757-0.802, recall of unsupported 0.717, of
# supported 0.842 (v9: 0.727 on the same 1,435 pairs, when this gate was 0.72 on 1,155).
JUDGE_TEST_SPLIT_BALANCED_ACCURACY = 0.75
# The grader on about 40 answers of the test split (the calibration never saw these questions), whole
# questions spread over the tracks (measured: 46 answers to 10 questions, pairwise accuracy 0.893 and
# Spearman 0.807; 0.910 and 0.812 on the whole test split).
GRADED_SUBSET = 40
# 80 short everyday queries written from the notes alone (eval/datasets/everyday_queries.jsonl; measured: hybrid
# hit@5 1.0, hit@1 0.938, MRR@10 0.966; before camelCase terms and merged tails 0.975, 0.925, 0.949).
EVERYDAY_HIT_AT_5 = 0.95
EVERYDAY_MRR_AT_10 = 0.92
GRADING_PAIRWISE_ACCURACY = 0.86
GRADING_SPEARMAN = 0.76
# Free text graded against the closest bank question (RubricBuilder.CLOSE_QUESTION = 0.75), on the test split
# of eval/datasets/question_paraphrases.jsonl: measured right for 255 of the 316 phrasings of bank questions
# (0.81) and a wrong bank question for 3 of 372 questions (0.008), with the 61 common short questions in the
# bank (session 29; before them 222 of 270 and 1 of 334).
BANK_MATCH_RIGHT = 0.78
BANK_MATCH_WRONG = 0.02

RANX_NAMES = {"hit@1": "hit_rate@1", "hit@3": "hit_rate@3", "hit@5": "hit_rate@5", "mrr@10": "mrr@10",
              "ndcg@10": "ndcg@10", "recall@5": "recall@5"}


@pytest.fixture(scope="module")
def coach(bundled_coach):
    return bundled_coach  # the session's Coach on the bundled corpus and index (tests/conftest.py)


@pytest.fixture(scope="module")
def retrieval(coach):
    queries = load_queries()
    metrics, runs = evaluate_retrieval(coach, queries)
    return queries, metrics, runs


def test_retrieval_does_not_regress(retrieval):
    _, metrics, _ = retrieval
    hybrid = metrics["hybrid"]
    assert hybrid["n"] == 443
    assert hybrid["hit@5"] >= HYBRID_HIT_AT_5, hybrid
    assert hybrid["mrr@10"] >= HYBRID_MRR_AT_10, hybrid
    assert hybrid["hit@1"] >= HYBRID_HIT_AT_1, hybrid
    # Fusion must not lose to either retriever alone.
    for single in ("vector", "bm25"):
        assert hybrid["hit@5"] >= metrics[single]["hit@5"] and hybrid["mrr@10"] >= metrics[single]["mrr@10"], single
    lo, hi = hybrid["ci"]["mrr@10"]
    assert lo < hybrid["mrr@10"] < hi and hi - lo < 0.1


def test_short_everyday_queries_find_their_notes(coach):
    from interview_coach.eval.data import DATASETS_DIR

    metrics, _ = evaluate_retrieval(coach, load_queries(DATASETS_DIR / "everyday_queries.jsonl"))
    hybrid = metrics["hybrid"]
    assert hybrid["n"] == 80
    assert hybrid["hit@5"] >= EVERYDAY_HIT_AT_5 and hybrid["mrr@10"] >= EVERYDAY_MRR_AT_10, hybrid


def test_retrieval_metrics_match_ranx_on_the_real_run(retrieval):
    from ranx import Qrels, Run, evaluate

    queries, metrics, runs = retrieval
    qrels = Qrels({f"q{i:03d}": {note: 1 for note in q.relevant} for i, q in enumerate(queries)})
    for method, run in runs.items():
        ranx_run = Run({f"q{i:03d}": {note: float(len(ranked) - r) for r, note in enumerate(ranked)}
                        for i, ranked in enumerate(run.rankings)})
        theirs = evaluate(qrels, ranx_run, list(RANX_NAMES.values()))
        for name in METRICS:
            assert metrics[method][name] == pytest.approx(theirs[RANX_NAMES[name]], abs=1e-4), (method, name)


def test_both_judges_on_the_labelled_claims_do_not_regress(coach):
    from interview_coach.judge import EvidenceJudge
    from interview_coach.judge_model import CrossEncoderJudge

    assert isinstance(coach.judge, CrossEncoderJudge), "the trained judge is the default"
    claims = load_claims()
    trained = evaluate_judge(coach.judge, claims)
    assert trained["n"] == 265
    assert trained["balanced_accuracy"] >= TRAINED_JUDGE_BALANCED_ACCURACY, trained
    # Neither class may collapse: a judge that says "unsupported" to everything scores 0.5.
    assert trained["recall_unsupported"] >= 0.8 and trained["recall_supported"] >= 0.33, trained
    heuristic = evaluate_judge(EvidenceJudge(coach.embeddings), claims)
    assert heuristic["balanced_accuracy"] >= HEURISTIC_JUDGE_BALANCED_ACCURACY, heuristic
    assert heuristic["recall_unsupported"] >= 0.4 and heuristic["recall_supported"] >= 0.6, heuristic


def test_trained_judge_on_its_held_out_split_does_not_regress(coach):
    """The trained judge on the 1,435 pairs of the 35 notes it never trained on (training/judge/data)."""
    from interview_coach.judge import load_judge

    model = load_judge(coach.settings.replace(judge="model"), embeddings=coach.embeddings)
    result = evaluate_judge(model, held_out_claims())
    assert result["n"] == 1435
    assert result["balanced_accuracy"] >= JUDGE_TEST_SPLIT_BALANCED_ACCURACY, result
    assert result["recall_unsupported"] >= 0.68 and result["recall_supported"] >= 0.8, result


class GradedOnce:
    """The eval harness's grader, answering from the run's held-out grades (conftest.py) instead of
    grading the same answers a second time."""

    def __init__(self, grades: dict):
        self.grades = grades

    def grade(self, question_id: str, answer: str):
        return self.grades[(question_id, answer)]


def test_grading_does_not_regress(held_out_grades):
    rows = spread_groups([r for r in load_graded() if r.split == "test"], GRADED_SUBSET)
    assert len({r.question_id for r in rows}) >= 8 and {r.split for r in rows} == {"test"}
    result, details = evaluate_grading(GradedOnce(held_out_grades), rows)
    assert result["pairwise_accuracy"] >= GRADING_PAIRWISE_ACCURACY, result
    assert result["spearman"] >= GRADING_SPEARMAN, result
    levels = result["by_level"]
    assert levels["strong"]["mean"] > levels["partial"]["mean"] > levels["off-topic"]["mean"], levels


def test_free_text_finds_its_bank_question_and_rarely_another(coach):
    from interview_coach.eval.bank_match import closest, count
    from interview_coach.eval.data import load_paraphrases

    items = load_paraphrases()
    assert {it.bank_id for it in items if it.bank_id} == {q.id for q in coach.corpus.questions}
    assert sum(it.bank_id is None for it in items) >= 100
    test = [it for it in items if it.split == "test"]
    builder = coach.grader.rubrics
    counts = count(test, closest(builder, test), builder.CLOSE_QUESTION)
    assert counts.right >= BANK_MATCH_RIGHT * counts.paraphrases, counts
    assert counts.wrong <= BANK_MATCH_WRONG * counts.items, counts
