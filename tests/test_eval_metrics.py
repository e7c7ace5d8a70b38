"""The evaluation harness's math on hand-made data: ranking metrics against ranx on the same run,
bootstrap intervals, judge scores on a hand-made confusion, rank correlation, pairwise accuracy, and
the suites and report driven by a deterministic fake coach."""

from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import pytest

from langchain_core.embeddings import DeterministicFakeEmbedding

from conftest import REPO
from interview_coach.corpus import load_corpus
from interview_coach.errors import UsageError
from interview_coach.judge import Reason
from interview_coach.eval import plan, run_eval
from interview_coach.eval.data import (GradedAnswer, LabelledClaim, RetrievalQuery, load_claims, spread,
                                       spread_groups)
from interview_coach.eval.faithfulness import modes_from_answers, summarise_mode
from interview_coach.eval.grading import score_grades
from interview_coach.eval.judge import score_judge
from interview_coach.eval.retrieval import METRICS, evaluate_retrieval, score_ranking
from interview_coach.eval.stats import (Confusion, bootstrap_ci, bootstrap_ci_of_group_means, kendall,
                                        pairwise_accuracy, spearman)
from interview_coach.verification import SentenceCheck

RANX_NAMES = {"hit@1": "hit_rate@1", "hit@3": "hit_rate@3", "hit@5": "hit_rate@5", "mrr@10": "mrr@10",
              "ndcg@10": "ndcg@10", "recall@5": "recall@5"}


def synthetic_run(n_queries=60, n_docs=40, seed=7):
    """Random rankings with 1-3 relevant docs per query, some queries with no relevant doc retrieved."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(n_docs)]
    run, qrels = {}, {}
    for q in range(n_queries):
        qrels[f"q{q}"] = set(rng.sample(docs, rng.randint(1, 3)))
        run[f"q{q}"] = rng.sample(docs, rng.randint(3, 15))
    return run, qrels


def test_ranking_metrics_match_ranx_on_the_same_run():
    from ranx import Qrels, Run, evaluate

    run, qrels = synthetic_run()
    ours = {name: [] for name in METRICS}
    for q in run:
        for name, value in score_ranking(run[q], qrels[q]).items():
            ours[name].append(value)
    ranx_run = Run({q: {d: float(len(ranked) - i) for i, d in enumerate(ranked)} for q, ranked in run.items()})
    ranx_qrels = Qrels({q: {d: 1 for d in rel} for q, rel in qrels.items()})
    theirs = evaluate(ranx_qrels, ranx_run, list(RANX_NAMES.values()), return_mean=False)
    order = {q: i for i, q in enumerate(run)}  # ranx returns queries sorted by id
    for name, ranx_name in RANX_NAMES.items():
        aligned = [0.0] * len(run)
        for q, value in zip(ranx_run.keys(), theirs[ranx_name]):
            aligned[order[q]] = float(value)
        assert ours[name] == pytest.approx(aligned, abs=1e-9), name
    assert 0 < sum(ours["hit@5"]) < len(run)  # the run has both hits and misses, so the check bites


class FakeChunk(SimpleNamespace):
    pass


class FakeSearchCoach:
    """search() returns chunks of notes in a fixed order per query and method."""

    def __init__(self, results):
        self.results = results
        self.settings = SimpleNamespace(candidate_pool=30)
        self.calls = []

    def search(self, query, k=None, track=None, mode="hybrid"):
        self.calls.append((query, k, mode))
        return [SimpleNamespace(chunk=FakeChunk(doc_id=d)) for d in self.results[mode][query]]


def test_retrieval_counts_each_note_once_at_its_best_rank():
    results = {"hybrid": {"q": ["a", "a", "b", "c"]}, "vector": {"q": ["b", "a"]}, "bm25": {"q": ["c", "c", "c"]}}
    coach = FakeSearchCoach(results)
    metrics, runs = evaluate_retrieval(coach, [RetrievalQuery("q", ("b",), "t")])
    assert runs["hybrid"].rankings == [["a", "b", "c"]]
    assert (metrics["hybrid"]["hit@1"], metrics["hybrid"]["hit@3"], metrics["hybrid"]["mrr@10"]) == (0.0, 1.0, 0.5)
    assert metrics["vector"]["hit@1"] == 1.0 and metrics["bm25"]["hit@5"] == 0.0
    assert metrics["hybrid"]["ci"]["hit@3"] == [1.0, 1.0] and metrics["hybrid"]["n"] == 1
    # The whole candidate pool is requested, so hybrid fuses exactly what `coach search` fuses.
    assert {k for _, k, _ in coach.calls} == {30}


def test_bootstrap_ci_is_deterministic_contains_the_mean_and_has_the_right_width():
    rng = random.Random(1)
    values = [float(rng.random() < 0.5) for _ in range(400)]
    p = sum(values) / len(values)
    (lo, hi), = bootstrap_ci({"x": values}).values()
    assert bootstrap_ci({"x": values})["x"] == (lo, hi)  # fixed seed: same interval on a re-run
    assert lo < p < hi
    expected_half_width = 1.96 * math.sqrt(p * (1 - p) / len(values))
    assert (hi - lo) / 2 == pytest.approx(expected_half_width, rel=0.15)
    assert bootstrap_ci({"x": [1.0] * 50})["x"] == (1.0, 1.0)
    small = bootstrap_ci({"x": values[:50]})["x"]
    assert small[1] - small[0] > hi - lo  # fewer items, wider interval
    with pytest.raises(ValueError):
        bootstrap_ci({"a": [1.0], "b": [1.0, 0.0]})


def test_stratified_bootstrap_of_balanced_accuracy_brackets_it():
    pos, neg = [1.0] * 30 + [0.0] * 10, [1.0] * 90 + [0.0] * 10
    lo, hi = bootstrap_ci_of_group_means([pos, neg])
    assert lo < (0.75 + 0.9) / 2 < hi and hi - lo < 0.2


def test_confusion_scores_on_a_hand_made_matrix():
    truth = [True, True, True, False, False]       # True = unsupported (the positive class)
    predicted = [True, False, True, True, False]
    cm = Confusion.from_labels(truth, predicted)
    assert (cm.tp, cm.fn, cm.fp, cm.tn) == (2, 1, 1, 1)
    assert cm.precision == pytest.approx(2 / 3) and cm.recall == pytest.approx(2 / 3)
    assert cm.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2) / 2)
    from sklearn.metrics import balanced_accuracy_score, precision_score, recall_score

    assert cm.balanced_accuracy == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert cm.precision == pytest.approx(precision_score(truth, predicted))
    assert cm.recall == pytest.approx(recall_score(truth, predicted))
    # A judge that calls everything unsupported is no better than chance.
    assert Confusion.from_labels(truth, [True] * 5).balanced_accuracy == 0.5


def test_score_judge_orients_the_confusion_matrix_by_label():
    claims = [LabelledClaim("c", "x", "unsupported", "negation"), LabelledClaim("c", "y", "unsupported", "unrelated"),
              LabelledClaim("c", "z", "supported", "paraphrase"), LabelledClaim("c", "w", "supported", "verbatim")]
    result = score_judge(claims, [True, False, True, False])
    assert result["confusion"] == {"unsupported": {"unsupported": 1, "supported": 1},
                                   "supported": {"unsupported": 1, "supported": 1}}
    assert result["balanced_accuracy"] == 0.5 and result["n"] == 4
    assert result["accuracy_by_kind"] == {"negation": 1.0, "paraphrase": 0.0, "unrelated": 0.0, "verbatim": 1.0}



def test_judge_comparison_rows_pair_each_judge_with_each_dataset_and_skip_missing_ones():
    from interview_coach.eval.judge import comparison_rows, latency_rows

    claims = [LabelledClaim("c", "x", "unsupported"), LabelledClaim("c", "z", "supported")]
    m = score_judge(claims, [True, False])
    j = dict(m, test_split=m, latency={"p50_ms": 5.0},
             compared={"judge": "heuristic", "claims": m, "test_split": None, "latency": None})
    rows = comparison_rows(j)
    assert [(who, data) for who, data, _ in rows] == [("configured", "labelled claims"),
                                                     ("configured", "held-out test split"),
                                                     ("heuristic", "labelled claims")]
    assert latency_rows(j) == [("configured", {"p50_ms": 5.0})]
    assert comparison_rows({"n": 0, "compared": None, "test_split": None})[0][0] == "configured"

def _naive_tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx * dy > 0:
                concordant += 1
            else:
                discordant += 1
    return (concordant - discordant) / math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))


def _ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def test_rank_correlations_match_hand_computed_references():
    from scipy.stats import kendalltau, spearmanr

    x = [92, 50, 10, 2, 85, 55, 20, 0, 88, 40, 15, 5]
    y = [70, 45, 30, 30, 80, 20, 35, 0, 60, 50, 10, 10]  # with ties
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    pearson_of_ranks = sum((a - mx) * (b - my) for a, b in zip(rx, ry)) / math.sqrt(
        sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    assert spearman(y, x) == pytest.approx(pearson_of_ranks)
    assert spearman(y, x) == pytest.approx(spearmanr(y, x).statistic)
    assert kendall(y, x) == pytest.approx(_naive_tau_b(y, x))
    assert kendall(y, x) == pytest.approx(kendalltau(y, x).statistic)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([5, 5, 5], [1, 2, 3]) == 0.0  # constant scores: no agreement, not NaN


def test_pairwise_accuracy_within_groups_only():
    groups = {
        "q1": [(90, 92), (60, 50), (60, 10), (70, 2)],   # (coach, reference)
        "q2": [(10, 80), (20, 80), (5, 3)],               # the 80-80 pair has no reference order
    }
    # q1 pairs: (90,60)>ok (90,60)>ok (90,70)>ok (60,60) tie=0.5 (60,70) wrong (60,70) wrong -> 3.5 of 6
    # q2 pairs: (10,5) ok, (20,5) ok -> 2 of 2
    accuracy, pairs = pairwise_accuracy(groups)
    assert pairs == 8 and accuracy == pytest.approx(5.5 / 8)
    assert pairwise_accuracy({"a": [(1, 1)], "b": [(0, 2)]}) == (0.0, 0)  # no pair across groups


def test_score_grades_reports_levels_and_correlations():
    rows = [GradedAnswer("q1", "a", 92, "strong"), GradedAnswer("q1", "b", 50, "partial"),
            GradedAnswer("q1", "c", 10, "wrong"), GradedAnswer("q1", "d", 2, "off-topic"),
            GradedAnswer("q2", "a", 85, "strong"), GradedAnswer("q2", "b", 40, "partial")]
    result = score_grades(rows, [80, 60, 70, 0, 90, 30])
    assert result["n"] == 6 and result["pairs"] == 7
    assert result["pairwise_accuracy"] == pytest.approx(6 / 7, abs=1e-4)
    assert list(result["by_level"]) == ["strong", "partial", "wrong", "off-topic"]
    assert result["by_level"]["strong"] == {"n": 2, "mean": 85.0, "min": 80.0, "median": 85.0, "max": 90.0}
    assert 0 < result["kendall"] < result["spearman"] < 1
    # q1's wrong answer (70) is above its partial one (60); q2 has no wrong answer.
    assert result["wrong_below_partial"] == 0.0 and result["questions"] == 2
    assert result["strong_median"] == 85.0 and result["off_topic_max"] == 0


def test_calibration_targets_and_the_split_by_question():
    from interview_coach.eval.data import grading_split
    from interview_coach.eval.grading import targets_met

    met = targets_met({"pairwise_accuracy": 0.96, "spearman": 0.84, "strong_median": 80, "strong_min": 61,
                       "wrong_median": 25, "wrong_below_partial": 1.0, "off_topic_max": 11})
    assert met == {"pairwise_accuracy": True, "spearman": False, "strong_median": True, "strong_min": True,
                   "wrong_median": True, "wrong_below_partial": True, "off_topic_max": False}
    assert not any(targets_met({}).values())
    # Every answer to a question is on one side; both sides are used, and the split never changes.
    rows = [GradedAnswer(f"q{i}", "a", 50) for i in range(40)]
    assert {r.split for r in rows} == {"dev", "test"}
    assert grading_split("aud-eer") == grading_split("aud-eer") == GradedAnswer("aud-eer", "x", 1).split


def check(text, supported, content_supported, evidence="", reason="", code=None):
    code = code or (Reason.SUPPORTED if supported else Reason.NOT_IN_SOURCES)
    return SentenceCheck(text, [1] if supported else [], supported, reason=reason, evidence=evidence,
                         content_supported=content_supported, code=code)


def test_faithfulness_modes_come_from_the_right_fields():
    question = SimpleNamespace(id="q1", question="What is EER?")
    rag = SimpleNamespace(
        model_sentences=[check("EER is where FAR equals FRR.", False, True, reason="no citation",
                               code=Reason.NO_CITATION),
                         check("EER is measured in decibels.", False, False, "The EER is where FAR = FRR.", "no citation",
                               code=Reason.NO_CITATION)],
        sentences=[check("EER is where FAR equals FRR.", True, True)], fallback=True)
    closed = SimpleNamespace(model_sentences=[check("EER is the error of the encoder.", False, False, "FAR = FRR")],
                             sentences=[], fallback=False)
    modes = modes_from_answers(question, rag, closed)
    assert [s[1] for s in modes["rag"].sentences] == [True, False]        # content support, citation not needed
    assert [s[1] for s in modes["verified"].sentences] == [True]           # strict support, after the fallback
    assert [s[1] for s in modes["closed_book"].sentences] == [False]
    assert modes["rag"].sentences[1][3] == "no retrieved note supports it"  # not "no citation"
    summary = {m: summarise_mode([a]) for m, a in modes.items()}
    assert summary["rag"]["faithfulness"] == 0.5 and summary["rag"]["hallucination_rate"] == 1.0
    assert summary["verified"]["faithfulness"] == 1.0 and summary["verified"]["fallback_rate"] == 1.0
    example = summary["rag"]["examples"][0]
    assert example["sentence"] == "EER is measured in decibels." and example["evidence"] == "The EER is where FAR = FRR."


def test_empty_answers_are_counted_but_not_averaged():
    answered = SimpleNamespace(model_sentences=[check("a", True, True)], sentences=[check("a", True, True)], fallback=False)
    empty = SimpleNamespace(model_sentences=[], sentences=[], fallback=False)
    q = SimpleNamespace(id="q", question="?")
    rag = [modes_from_answers(q, answered, empty)["rag"], modes_from_answers(q, empty, empty)["rag"]]
    summary = summarise_mode(rag)
    assert (summary["n"], summary["empty"], summary["faithfulness"], summary["hallucination_rate"]) == (2, 1, 1.0, 0.0)


def test_subsets_spread_over_the_whole_list_and_keep_question_groups():
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread([1, 2], 5) == [1, 2]
    rows = [GradedAnswer(f"q{i // 4}", "a", 0, "") for i in range(40)]
    chosen = spread_groups(rows, 12)
    assert [r.question_id for r in chosen[::4]] == ["q0", "q3", "q6"] and len(chosen) == 12


def test_plan_picks_suites_and_rejects_a_dataset_of_the_wrong_kind(tmp_path):
    claims = tmp_path / "claims.jsonl"
    claims.write_text(json.dumps({"context": "c", "claim": "x", "label": "supported"}) + "\n")
    assert plan("faithfulness", None)[0] == ["faithfulness", "judge"]
    suites, files = plan("faithfulness", claims)
    assert suites == ["judge"] and files["claims"] == claims
    assert plan("all", claims)[0] == ["retrieval", "faithfulness", "judge", "grading", "latency", "coaching"]
    with pytest.raises(UsageError, match=r"holds labelled claims .*; the retrieval suite takes retrieval queries"):
        plan("retrieval", claims)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"context": "c", "claim": "x", "label": "supported"}) + "\n{oops\n")
    with pytest.raises(UsageError, match=r"bad.jsonl:2: not valid JSON"):
        load_claims(bad)
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"context": "c", "claim": "x", "label": "maybe"}) + "\n")
    with pytest.raises(UsageError, match=r"wrong.jsonl:1: label must be"):
        load_claims(wrong)
    with pytest.raises(UsageError, match="no such dataset file"):
        plan("judge", tmp_path / "missing.jsonl")


class FakeJudge:
    """Supported iff every word of the claim appears in the context."""

    def check(self, claims, contexts):
        text = " ".join(contexts).lower().split()
        return [SimpleNamespace(claim=c, supported=all(w in text for w in c.lower().split()), score=1.0,
                                reason="", evidence=contexts[0] if contexts else "") for c in claims]


class FakeCoach:
    """Deterministic stand-ins for search, ask, grade and the judge over the fixture corpus."""

    def __init__(self, settings):
        self.settings = settings
        self.corpus = load_corpus(settings.corpus_dir)
        self.judge = FakeJudge()
        # The judge suite runs the heuristic judge beside the configured one; it embeds with these.
        self.embeddings = DeterministicFakeEmbedding(size=16)

    def search(self, query, k=None, track=None, mode="hybrid"):
        notes = ["attention", "mfcc"] if "attention" in query else ["mfcc", "attention"]
        return [SimpleNamespace(chunk=FakeChunk(doc_id=d)) for d in notes][:k]

    @property
    def retriever(self):
        return SimpleNamespace(chunks={"x": FakeChunk(doc_id="attention"), "y": FakeChunk(doc_id="mfcc")})

    def ask(self, question, closed_book=False, on_token=None):
        good, bad = check("A supported sentence.", True, True), check("An invented one.", False, False, "evidence")
        sentences = [good, bad] if closed_book else [good]
        return SimpleNamespace(model_sentences=sentences, sentences=[good], fallback=False)

    def grade(self, question_id, answer):
        return SimpleNamespace(score=min(100, len(answer)))


def test_every_suite_runs_on_fakes_and_writes_the_report(settings, tmp_path):
    from interview_coach.eval.report import write_report

    graded = tmp_path / "graded.jsonl"
    graded.write_text("".join(json.dumps({"question_id": q, "answer": a, "reference_score": s, "level": lv}) + "\n"
                              for q, a, s, lv in [("q-sqrt-dk", "x" * 90, 90, "strong"), ("q-sqrt-dk", "x" * 40, 45, "partial"),
                                                  ("q-layernorm", "x" * 5, 95, "strong"), ("q-layernorm", "x" * 50, 10, "wrong")]))
    run = run_eval(FakeCoach(settings), "all", graded)
    assert set(run.metrics) == {"retrieval", "faithfulness", "judge", "grading", "latency", "coaching"}
    # The fixture corpus holds none of the held-out coaching questions' notes: said, not scored 0.
    assert run.metrics["coaching"]["questions"] == 0 and "nothing to measure" in run.metrics["coaching"]["note"]
    assert run.metrics["faithfulness"]["closed_book"]["hallucination_rate"] == 1.0
    assert run.metrics["faithfulness"]["verified"]["faithfulness"] == 1.0
    assert run.details["faithfulness"]["questions"] == ["q-sqrt-dk", "q-layernorm"]
    assert run.metrics["grading"]["pairwise_accuracy"] == 0.5 and run.metrics["grading"]["n"] == 4
    assert run.metrics["judge"]["n"] == 265  # the bundled labelled claims
    assert set(run.metrics["latency"]) == {"search", "ask", "grade"}
    # The fixture corpus has none of the bundled queries' notes: said, not silently scored 0.
    assert run.meta["notices"] and "not in the index" in run.meta["notices"][0]
    report = write_report(run, tmp_path / "report")
    assert json.loads((tmp_path / "report" / "metrics.json").read_text()) == run.metrics
    for name in ("retrieval.png", "faithfulness.png", "grading.png"):
        assert (tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG"
    text = report.read_text()
    for heading in ("## Retrieval", "## Faithfulness", "## Judge", "## Grading", "## Latency"):
        assert heading in text
    assert "An invented one." in text  # an example hallucination with its evidence


def test_unknown_question_ids_and_bad_limits_are_usage_errors(settings, tmp_path):
    graded = tmp_path / "graded.jsonl"
    graded.write_text(json.dumps({"question_id": "nope", "answer": "a", "reference_score": 1}) + "\n")
    with pytest.raises(UsageError, match="'nope', which is not in the question bank"):
        run_eval(FakeCoach(settings), "grading", graded)
    with pytest.raises(UsageError, match="--limit"):
        run_eval(FakeCoach(settings), "retrieval", limit=0)


def test_graded_answers_name_a_bank_id_or_the_question_text(tmp_path):
    from interview_coach.eval.data import detect_kind, load_graded

    path = tmp_path / "graded.jsonl"
    path.write_text(json.dumps({"question_id": "aud-eer", "answer": "a", "reference_score": 90}) + "\n"
                    + json.dumps({"question": "What is PCA?", "answer": "b", "reference_score": 10}) + "\n")
    assert detect_kind(path) == "graded"
    assert [(r.question_id, r.free_text) for r in load_graded(path)] == [("aud-eer", False), ("What is PCA?", True)]
    path.write_text(json.dumps({"answer": "c", "reference_score": 50}) + "\n")
    with pytest.raises(UsageError, match=r"graded.jsonl:1: needs question_id .* or question"):
        load_graded(path)



LEVEL_BANDS = {"strong": (80, 100), "brief": (40, 70), "partial": (35, 65), "wrong": (5, 25), "off-topic": (0, 5)}


def assert_one_answer_per_level_in_its_band(rows, questions: int):
    """Every question answered once at each level, each reference score inside its level's band."""
    from collections import Counter

    assert all(r.free_text for r in rows) and len({r.question_id for r in rows}) == questions
    assert set(Counter(r.question_id for r in rows).values()) == {len(LEVEL_BANDS)}
    assert Counter(r.level for r in rows) == {level: questions for level in LEVEL_BANDS}
    assert all(LEVEL_BANDS[r.level][0] <= r.reference_score <= LEVEL_BANDS[r.level][1] for r in rows)


def test_the_common_questions_have_a_dev_set_beside_their_held_out_answers():
    """Five answers per level band to each of the same 62 short questions, written apart from the held-out
    ones: what to tune on for these questions, so that the held-out file stays a test (eval/datasets/README.md)."""
    from interview_coach.eval.data import load_graded

    folder = REPO / "eval" / "datasets"
    dev = load_graded(folder / "common_question_answers_dev.jsonl")
    test = load_graded(folder / "common_question_answers.jsonl")
    assert_one_answer_per_level_in_its_band(dev, 62)
    assert {r.question_id for r in dev} == {r.question_id for r in test}
    assert not {r.answer for r in dev} & {r.answer for r in test}


def test_community_questions_have_five_answers_each_in_their_bands():
    """Questions as people type them, answered at every level (eval/datasets/README.md): each question
    fully on one side of the dev/test split, as every graded file is."""
    from collections import Counter

    from interview_coach.eval.data import load_graded

    rows = load_graded(REPO / "eval" / "datasets" / "community_question_answers.jsonl")
    assert_one_answer_per_level_in_its_band(rows, 100)
    splits = Counter(r.split for r in rows)
    assert splits["dev"] and splits["test"] and splits["dev"] + splits["test"] == 500
