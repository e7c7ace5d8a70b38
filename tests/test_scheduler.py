"""FSRS scheduling from grades (real `fsrs`, real SQLite store) and the order questions are picked in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from interview_coach import scheduler
from interview_coach.corpus import Question
from interview_coach.store import Store, parse_ts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "coach.db") as s:
        yield s


def q(qid, track="transformers", difficulty="medium", topic="t"):
    return Question(id=qid, track=track, topic=topic, difficulty=difficulty, question=f"What is {qid}?",
                    key_points=("a",), follow_ups=("b",), notes=("n",), sources=("s",))


def test_rating_thresholds():
    from fsrs import Rating

    got = {s: scheduler.rating_for(s) for s in (0, 39, 40, 64, 65, 89, 90, 100)}
    assert got == {0: Rating.Again, 39: Rating.Again, 40: Rating.Hard, 64: Rating.Hard, 65: Rating.Good,
                   89: Rating.Good, 90: Rating.Easy, 100: Rating.Easy}


def test_low_score_is_due_sooner_than_high(store):
    low = scheduler.review(store, "q-low", 10, T0)
    mid = scheduler.review(store, "q-mid", 75, T0)
    high = scheduler.review(store, "q-high", 100, T0)
    assert T0 < low.due < mid.due < high.due
    assert parse_ts(store.card("q-low")["due"]) == low.due
    assert store.card("q-high")["last_score"] == 100


def test_repeated_good_grades_push_due_further_and_a_lapse_pulls_it_back(store):
    now, intervals = T0, []
    for _ in range(4):
        card = scheduler.review(store, "q", 80, now)
        intervals.append(card.due - now)
        now = card.due  # answered well exactly when due
    assert all(b > a for a, b in zip(intervals, intervals[1:])), intervals
    assert store.card("q")["reviews"] == 4
    lapse = scheduler.review(store, "q", 0, now)
    assert lapse.due - now < intervals[-1]


def test_pick_order_due_then_weak_then_unseen(store):
    questions = [q(f"q{i}") for i in range(8)]
    # q1 overdue by 3 days, q2 overdue by 1 day, q3 weak (not due), q4 strong (not due); q0, q5-q7 unseen.
    # q3 and q4 were reviewed yesterday: a question seen in the last 20 hours is held back (test below).
    yesterday = T0 - timedelta(hours=21)
    scheduler.review(store, "q2", 80, T0 - timedelta(days=3))   # Good -> due T0 - 1 day
    scheduler.review(store, "q1", 10, T0 - timedelta(days=4))   # Again -> due T0 - 3 days
    scheduler.review(store, "q3", 45, yesterday)                 # Hard -> due soon, weak
    scheduler.review(store, "q4", 95, yesterday)                 # Easy -> due in a week
    picked = [x.id for x in scheduler.pick_questions(questions, store, 8, now=T0, seed=1)]
    assert picked[:3] == ["q1", "q2", "q3"]
    assert sorted(picked[3:7]) == ["q0", "q5", "q6", "q7"]
    assert picked[7] == "q4"                                     # seen and strong: only to fill up
    assert [x.id for x in scheduler.pick_questions(questions, store, 2, now=T0, seed=1)] == ["q1", "q2"]


def test_pick_filters_and_is_deterministic(store):
    questions = [q(f"a{i}", track="audio-speech") for i in range(6)] + [q("e1", difficulty="easy"), q("h1", difficulty="hard")]
    audio = scheduler.pick_questions(questions, store, 10, tracks=["audio-speech"], now=T0, seed=3)
    assert {x.track for x in audio} == {"audio-speech"} and len(audio) == 6
    assert [x.id for x in scheduler.pick_questions(questions, store, 10, difficulty="easy", now=T0)] == ["e1"]
    runs = {tuple(x.id for x in scheduler.pick_questions(questions, store, 6, tracks=["audio-speech"], now=T0, seed=s))
            for s in (3, 3)}
    assert len(runs) == 1
    orders = {tuple(x.id for x in scheduler.pick_questions(questions, store, 6, tracks=["audio-speech"], now=T0, seed=s))
              for s in range(6)}
    assert len(orders) > 1   # the seed varies the order of unseen questions
