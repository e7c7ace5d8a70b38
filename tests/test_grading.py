"""Rubric grading on the real embedder and index: ordering on labelled answers, no inflation, evidence,
citations, follow-ups, free-text questions and the `coach grade` CLI contract."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import defaultdict

import pytest

from conftest import REPO, coach_command

pytestmark = pytest.mark.slow

GRADED = [json.loads(line) for line in (REPO / "eval" / "datasets" / "graded_answers.jsonl").read_text().splitlines()
          if line.strip()]
LEVELS = ["strong", "partial", "wrong", "off-topic"]


@pytest.fixture(scope="module")
def subset_grades(bundled_coach):
    """All 128 labelled answers (32 questions x 4 levels), about a minute on 2 cores."""
    return [(r, bundled_coach.grade(r["question_id"], r["answer"])) for r in GRADED]


def test_levels_are_ordered_strong_partial_wrong_offtopic(subset_grades):
    by_level = defaultdict(list)
    for row, grade in subset_grades:
        by_level[row["level"]].append(grade.score)
    means = [statistics.mean(by_level[level]) for level in LEVELS]
    assert means == sorted(means, reverse=True), dict(zip(LEVELS, means))
    assert max(by_level["off-topic"]) <= 10


def test_covered_points_quote_the_candidate_and_missed_points_cite_notes(subset_grades):
    for row, grade in subset_grades:
        for point in grade.covered:
            assert point.evidence and point.evidence in row["answer"]
        cited = {c.n for c in grade.citations}
        for point in grade.missed:
            assert point.citation in cited and point.excerpt
        assert grade.follow_up


def test_empty_short_and_off_topic_answers_are_not_inflated(bundled_coach):
    empty = bundled_coach.grade("aud-eer", "   ")
    assert empty.score == 0 and "empty" in empty.reason and empty.missed and not empty.covered
    short = bundled_coach.grade("aud-eer", "It is fine.")
    assert short.score <= 10 and short.reason
    off = bundled_coach.grade("aud-eer", "Gradient boosting fits each new tree to the residuals of the "
                                         "ensemble so far, and shrinkage slows the learning rate down.")
    assert off.score <= 10 and "off-topic" in off.reason


def test_free_text_questions_say_what_they_were_graded_against(bundled_coach):
    close = bundled_coach.grade("What is the equal error rate (EER) in speaker verification?",
                                "It is the error rate at the threshold where false accepts equal false rejects.")
    assert close.graded_against == "closest-bank" and close.question_id == "aud-eer" and close.score > 20
    notes = bundled_coach.grade("How does Chroma store vectors on disk for a local index?",
                                "It writes them with an HNSW index next to a SQLite file.")
    assert notes.graded_against == "notes" and notes.question_id is None
    assert "notes" in notes.feedback


def test_coach_grade_cli_contract(coach_env, tmp_path):
    subprocess.run(coach_command() + ["ingest"], check=True, capture_output=True, env=coach_env, timeout=300)
    answer = tmp_path / "answer.txt"
    answer.write_text("The dot product of unit-variance vectors has variance d_k, so large logits would "
                      "saturate the softmax and its gradients would vanish.", encoding="utf-8")
    run = subprocess.run(coach_command() + ["grade", "--question", "q-sqrt-dk", "--answer-file", str(answer),
                                            "--json"], capture_output=True, text=True, env=coach_env, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"question_id", "score", "covered", "missed", "feedback", "citations", "follow_up"} <= set(data)
    assert data["question_id"] == "q-sqrt-dk" and 0 <= data["score"] <= 100
    assert len(data["covered"]) >= 2
    assert data["follow_up"] == "What happens if you forget the scaling?"

    for argv, expected in [(["--question", "q-sqrt-dk"], "--answer"),
                           (["--question", "no-such-id", "--answer", "x"], "no bank question"),
                           (["--question", "q-sqrt-dk", "--answer-file", str(tmp_path / "nope.txt")], "not found")]:
        run = subprocess.run(coach_command() + ["grade"] + argv, capture_output=True, text=True, env=coach_env,
                             timeout=300)
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], run.stderr
