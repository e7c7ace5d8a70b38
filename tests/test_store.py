"""The SQLite session store: schema versions and migrations, answers saved before grading (and graded on
resume after a crash, including a killed process), threads, and the progress queries."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from interview_coach import store as store_module
from interview_coach.errors import ModelUnavailableError
from interview_coach.grading import Grade, PointResult
from interview_coach.interview import InterviewSession, SessionConfig
from interview_coach.store import SCHEMA_VERSION, Store, StoreError, grade_from_dict
from test_interview import T0, FakeClock, fake_coach


def test_new_database_has_the_schema_version_and_wal(tmp_path):
    with Store(tmp_path / "coach.db") as s:
        assert s.schema_version == SCHEMA_VERSION >= 1
    db = sqlite3.connect(tmp_path / "coach.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= {"sessions", "turns", "answers", "grades", "review_cards"}


def test_a_newer_schema_is_refused_with_a_clear_error(tmp_path):
    Store(tmp_path / "coach.db").close()
    db = sqlite3.connect(tmp_path / "coach.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=rf"newer interview-coach \(schema {SCHEMA_VERSION + 1}, this one knows "
                                         rf"{SCHEMA_VERSION}\); upgrade"):
        Store(tmp_path / "coach.db")


def test_migrations_run_in_order_and_keep_data(tmp_path, monkeypatch):
    with Store(tmp_path / "coach.db") as s:
        sid = s.create_session("practice", {}, ["q1"], T0)
    extra = store_module.MIGRATIONS + ["ALTER TABLE sessions ADD COLUMN label TEXT; UPDATE sessions SET label = 'old'"]
    monkeypatch.setattr(store_module, "MIGRATIONS", extra)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(extra))
    with Store(tmp_path / "coach.db") as s:
        assert s.schema_version == len(extra)
        assert s.session(sid)["label"] == "old" and s.session(sid)["plan"] == ["q1"]


def test_grade_round_trips_through_json(tmp_path):
    grade = Grade("q1", "Q?", "A.", 42, covered=[PointResult("p", True, 0.8, evidence="A.")],
                  missed=[PointResult("m", False, 0.1, citation=2, excerpt="ex")], follow_up="F?")
    data = grade.to_dict() | {"a_field_from_the_future": 1}
    assert grade_from_dict(data) == grade


def test_the_answer_is_stored_before_grading(settings):
    coach = fake_coach(settings)
    seen = {}
    real = coach.grader.grade

    def grade(question, answer, parent=None):
        seen["ungraded"] = [a["text"] for a in session.store.ungraded_answers(session.session_id)]
        return real(question, answer, parent)

    coach.grader.grade = grade
    session = InterviewSession.start(coach, SessionConfig(n_questions=1), clock=FakeClock(), seed=0)
    session.answer("dot products grow with d_k")
    assert seen["ungraded"] == ["dot products grow with d_k"]
    assert session.store.ungraded_answers(session.session_id) == []


def test_grader_failure_keeps_the_answer_and_resume_grades_it(settings):
    coach = fake_coach(settings)
    real = coach.grader.grade
    coach.grader.grade = lambda q, a, parent=None: (_ for _ in ()).throw(ModelUnavailableError("the model is gone"))
    session = InterviewSession.start(coach, SessionConfig(n_questions=2), clock=FakeClock(), seed=0)
    first = session.current
    with pytest.raises(ModelUnavailableError):
        session.answer("kept answer score=35")
    session.close()

    coach.grader.grade = real
    resumed = InterviewSession.resume(coach, session.session_id, clock=FakeClock(T0 + timedelta(hours=1)))
    answers = resumed.store.answers(first.turn_id)
    assert [(a["text"], a["grade"].score) for a in answers] == [("kept answer score=35", 35)]
    assert resumed.store.card(first.question_id)["last_score"] == 35
    # It carries on where the grade leads: the follow-up of question 1.
    assert resumed.current.kind == "follow_up" and resumed.current.number == 1


KILLER = """
import os, sys
sys.path.insert(0, {tests!r})
from interview_coach.settings import Settings
from interview_coach.interview import InterviewSession, SessionConfig
import test_interview as t
coach = t.fake_coach(Settings.load(home={home!r}, corpus_dir={corpus!r}))
coach.grader.grade = lambda q, a, parent=None: os._exit(9)   # die mid-grading, no cleanup at all
s = InterviewSession.start(coach, SessionConfig(n_questions=2), seed=0)
print(s.session_id, s.current.turn_id, flush=True)
s.answer("answer typed before the crash score=70")
"""


def test_a_process_killed_while_grading_resumes_with_the_answer(settings):
    code = KILLER.format(tests=str(Path(__file__).parent), home=str(settings.home), corpus=str(settings.corpus_dir))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    session_id, turn_id = map(int, proc.stdout.split())

    coach = fake_coach(settings)
    with Store.open(settings) as s:
        assert [a["text"] for a in s.ungraded_answers(session_id)] == ["answer typed before the crash score=70"]
        assert s.latest_unfinished() == session_id
    resumed = InterviewSession.resume(coach, session_id)
    assert resumed.store.answers(turn_id)[0]["grade"].score == 70
    assert resumed.current.kind == "follow_up"


def test_threads_share_one_store(tmp_path):
    with Store(tmp_path / "coach.db") as s:
        sid = s.create_session("practice", {}, [], T0)
        turn = s.add_turn(sid, question_id="q", question="Q?", kind="main", number=1, track="t", topic="x",
                          asked_at=T0)
        errors = []

        def work():
            try:
                for _ in range(20):
                    answer_id, _ = s.add_answer(turn, "a", created_at=T0)
                    s.add_grade(answer_id, Grade("q", "Q?", "a", 50), T0)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        attempts = [a["attempt"] for a in s.answers(turn)]
        assert attempts == list(range(1, 81))


def test_progress_queries(tmp_path):
    with Store(tmp_path / "coach.db") as s:
        def session(when, results, finish=True):
            sid = s.create_session("practice", {}, [q for q, *_ in results], when)
            for n, (qid, track, topic, score) in enumerate(results, 1):
                turn = s.add_turn(sid, question_id=qid, question=qid, kind="main", number=n, track=track,
                                  topic=topic, asked_at=when)
                answer_id, _ = s.add_answer(turn, "x", created_at=when + timedelta(seconds=n))
                s.add_grade(answer_id, Grade(qid, qid, "x", score), when)
                # A retry and a follow-up never count towards progress.
                retry_id, attempt = s.add_answer(turn, "y", created_at=when + timedelta(seconds=n, milliseconds=1))
                assert attempt == 2
                s.add_grade(retry_id, Grade(qid, qid, "y", 100), when)
                follow = s.add_turn(sid, question_id=qid, question="f", kind="follow_up", number=n, track=track,
                                    topic=topic, asked_at=when, parent_turn_id=turn)
                fa, _ = s.add_answer(follow, "z", created_at=when)
                s.add_grade(fa, Grade(None, "f", "z", 100), when)
            if finish:
                s.finish_session(sid, when)
            return sid

        day = timedelta(days=1)
        s1 = session(T0, [("a1", "audio", "mfcc", 20), ("t1", "transformers", "attention", 60)])
        s2 = session(T0 + day, [("a1", "audio", "mfcc", 40), ("t2", "transformers", "norms", 90)])
        s3 = session(T0 + 2 * day, [("t1", "transformers", "attention", 80)], finish=False)

        assert s.track_history() == {
            "audio": [{"session_id": s1, "date": "2026-03-02", "score": 20, "n": 1},
                      {"session_id": s2, "date": "2026-03-03", "score": 40, "n": 1}],
            "transformers": [{"session_id": s1, "date": "2026-03-02", "score": 60, "n": 1},
                             {"session_id": s2, "date": "2026-03-03", "score": 90, "n": 1},
                             {"session_id": s3, "date": "2026-03-04", "score": 80, "n": 1}]}
        weakest = s.weakest_topics()
        assert [(w["topic"], w["score"]) for w in weakest] == [("mfcc", 30), ("attention", 70), ("norms", 90)]
        assert [(w["topic"], w["score"]) for w in s.weakest_topics(recent=1)][:2] == [("mfcc", 40), ("attention", 80)]
        assert s.question_scores(recent=1) == {"a1": 40, "t1": 80, "t2": 90}

        sessions = s.sessions()
        assert [x["id"] for x in sessions] == [s3, s2, s1]
        assert [(x["score"], x["answered"], x["questions"], x["status"]) for x in sessions] == [
            (80, 1, 1, "active"), (65, 2, 2, "finished"), (40, 2, 2, "finished")]
        assert [x["id"] for x in s.unfinished_sessions()] == [s3] and s.latest_unfinished() == s3

        s.save_card("late", "{}", T0 - 2 * day, 10, T0)
        s.save_card("later", "{}", T0 - day, 50, T0)
        s.save_card("future", "{}", T0 + day, 90, T0)
        assert [r["question_id"] for r in s.due_reviews(T0)] == ["late", "later"]
        assert [r["question_id"] for r in s.upcoming_reviews(T0)] == ["future"]
