"""The interview state machine end to end on a real Coach, corpus and store, with a deterministic fake
grader and answerer (the slow tests at the end use the real ones)."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import coach_command
from interview_coach.answering import Answer
from interview_coach.coach import Coach
from interview_coach.errors import UsageError
from interview_coach.grading import Grade, PointResult
from interview_coach.interview import InterviewSession, SessionConfig
from interview_coach.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


class FakeGrader:
    """Score = the number after `score=` in the answer (default 50); bank questions get their first
    follow-up. Records every call."""

    def __init__(self, corpus):
        self.corpus = corpus
        self.calls: list[tuple[str, str]] = []

    def grade(self, question, answer, parent=None):
        self.calls.append((question, answer) if parent is None else (question, answer, parent))
        q = self.corpus.question(question)
        m = re.search(r"score=(\d+)", answer)
        points = q.key_points if q else ("a point",)
        return Grade(question_id=q.id if q else None, question=q.question if q else question, answer=answer,
                     score=int(m.group(1)) if m else 50,
                     covered=[PointResult(points[0], True, 0.9, evidence=answer)],
                     missed=[PointResult(p, False, 0.1, citation=1, excerpt="from the notes") for p in points[1:]],
                     follow_up=q.follow_ups[0] if q else None,
                     graded_against="bank" if q else "notes")


class FakeAnswerer:
    def __init__(self):
        self.asked: list[str] = []

    def ask(self, question, closed_book=False, on_token=None):
        self.asked.append(question)
        return Answer(question=question, answer=f"Model answer to: {question} [1]", sources=[], sentences=[],
                      faithfulness=1.0)


def fake_coach(settings) -> Coach:
    from interview_coach.corpus import load_valid_corpus

    corpus = load_valid_corpus(settings.corpus_dir)
    return Coach(settings, corpus=corpus, grader=FakeGrader(corpus), answerer=FakeAnswerer())


@pytest.fixture
def coach(settings):
    return fake_coach(settings)


@pytest.fixture
def clock():
    return FakeClock()


def start(coach, clock, **config):
    return InterviewSession.start(coach, SessionConfig(**config), clock=clock, seed=0)


def test_practice_answer_follow_up_retry_skip_and_summary(coach, clock):
    s = start(coach, clock, n_questions=2)
    first = s.current
    assert first.kind == "main" and first.number == 1 and first.total == 2
    bank = coach.corpus.question(first.question_id)
    with pytest.raises(UsageError, match="answer the question first"):
        s.model_answer()
    with pytest.raises(UsageError, match="answer the question first"):
        s.model_answer(turn_id=first.turn_id)
    with pytest.raises(UsageError, match="nothing to retry"):
        s.retry("score=90")

    # Each hint nudges toward the next key point: where the notes cover it, never the point itself.
    note = next(d for d in coach.corpus.documents if d.id == bank.notes[0])
    hints = [s.hint() for _ in bank.key_points]
    for k, (hint, point) in enumerate(zip(hints, bank.key_points), 1):
        assert hint.startswith(f"Key point {k} of {len(bank.key_points)}: your notes cover it under “")
        assert f"in “{note.title}”" in hint and point.rstrip(".") not in hint and "Topic:" not in hint
    assert len(set(hints)) == len(hints)
    assert s.store.turn(first.turn_id)["hints"] == len(hints)

    fb = s.answer("my first try score=30")
    assert fb.grade.score == 30 and fb.turn == first and not fb.timed_out
    follow = fb.next_turn
    assert follow is s.current and follow.kind == "follow_up" and follow.number == 1
    assert follow.question == bank.follow_ups[0]
    assert s.model_answer().answer.startswith(f"Model answer to: {first.question}")

    # Retry re-answers the last graded turn (question 1) and reports the delta; the follow-up stays current.
    again = s.retry("better now score=80")
    assert (again.turn, again.previous_score, again.delta, again.grade.score) == (first, 30, 50, 80)
    assert s.current is follow
    assert s.retry("best score=95").delta == 15

    # The follow-up is graded against its parent question's notes; no second follow-up.
    fb = s.answer("the follow-up answer score=60")
    assert coach.grader.calls[-1] == (follow.question, "the follow-up answer score=60", first.question_id)
    second = fb.next_turn
    assert second.kind == "main" and second.number == 2 and second.question_id != first.question_id

    assert s.skip() is None and s.done
    assert s.model_answer().question == second.question   # a skip counts as an attempt
    summary = s.finish()

    assert [(t.kind, g.score if g else None) for t, g in summary.turns] == [("main", 30), ("follow_up", 60), ("main", 0)]
    assert summary.skipped == [second.turn_id] and summary.retried == {first.turn_id: 95}
    assert summary.per_topic == {first.topic: 30, second.topic: 0}
    assert summary.per_track == {"transformers": 15}
    assert summary.score == 15 and summary.weakest == [second.topic, first.topic]
    weakest_q = coach.corpus.question(second.question_id)
    assert summary.notes_to_read[0]["id"] == weakest_q.notes[0]
    assert summary.notes_to_read[0]["title"] and summary.notes_to_read[0]["source"].startswith("notes/")

    # Scheduling used first attempts only: 30 for question 1 (not the retries), 0 for the skip.
    store = s.store
    assert store.card(first.question_id)["last_score"] == 30 and store.card(first.question_id)["reviews"] == 1
    assert store.card(second.question_id)["last_score"] == 0
    assert store.session(s.session_id)["finished_at"]
    with pytest.raises(UsageError, match="already finished"):
        InterviewSession.resume(coach, s.session_id)


def test_at_most_one_follow_up_and_a_high_score_still_gets_it(coach, clock):
    s = start(coach, clock, n_questions=2)
    fb = s.answer("score=100")
    assert fb.next_turn.kind == "follow_up"
    fb = s.answer("follow-up answer")
    assert fb.next_turn.kind == "main" and fb.next_turn.number == 2
    assert [t.kind for t in s.turns] == ["main", "follow_up", "main"]


def test_interview_mode_holds_feedback_and_marks_late_answers(coach, clock):
    s = start(coach, clock, n_questions=2, mode="interview", time_limit_s=60)
    clock.advance(30)
    fb = s.answer("in time score=70")
    assert fb.grade is None and not fb.timed_out and fb.next_turn.kind == "follow_up"
    with pytest.raises(UsageError, match="practice mode"):
        s.retry("again")
    with pytest.raises(UsageError, match="after the interview"):
        s.model_answer()
    clock.advance(61)
    late = s.answer("too slow score=40")
    assert late.grade is None and late.timed_out
    clock.advance(5)
    assert s.answer("quick score=90").grade is None and not s.done
    assert s.answer("its follow-up").next_turn is None and s.done
    summary = s.finish()
    assert [g.score for _, g in summary.turns] == [70, 40, 90, 50]
    assert summary.timed_out == [late.turn.turn_id]
    assert summary.score == 80 and summary.weakest == []
    assert "Model answer" in s.model_answer(turn_id=late.turn.turn_id).answer   # allowed once finished


def test_resume_continues_at_the_unanswered_turn(coach, clock, settings):
    s = start(coach, clock, n_questions=2)
    s.answer("score=55")
    follow = s.current
    s.close()
    clock.advance(3600)
    r = InterviewSession.resume(coach, s.session_id, clock=clock)
    assert r.current.turn_id == follow.turn_id and r.current.asked_at == clock.now
    assert r.last_attempted.kind == "main"
    r.answer("follow-up")
    assert r.current.number == 2
    assert len([t for t in r.turns if t.kind == "follow_up"]) == 1
    with Store.open(settings) as store:
        assert store.latest_unfinished() == s.session_id


def test_unknown_track_and_bad_config_are_usage_errors(coach, clock):
    with pytest.raises(UsageError, match="no questions in track 'cooking'; tracks: transformers"):
        start(coach, clock, tracks=["cooking"])
    with pytest.raises(UsageError, match="no hard questions"):
        start(coach, clock, difficulty="hard")
    with pytest.raises(UsageError, match="mode must be"):
        start(coach, clock, mode="exam")
    with pytest.raises(UsageError, match="at least 1"):
        start(coach, clock, n_questions=0)
    with pytest.raises(UsageError, match="there is no session 42"):
        InterviewSession.resume(coach, 42)


# -- the `coach interview` command, with fakes patched in inside the child process -----------------

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from interview_coach import coach as coach_module
from interview_coach.corpus import load_corpus
import test_interview as t
from interview_coach.settings import Settings
corpus = load_corpus(Settings.load().corpus_dir)
coach_module.Coach.grader = property(lambda self: self.__dict__.setdefault("_g", t.FakeGrader(corpus)))
coach_module.Coach.answerer = property(lambda self: t.FakeAnswerer())
from interview_coach.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_cli(env, args, stdin):
    import sys

    code = DRIVER.format(tests=str(Path(__file__).parent))
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_cli_piped_practice_session_quit_and_resume(coach_env):
    too_long = "word " * 1700  # over the 8,000-character limit: refused with the shared message, then asked again
    stdin = f"/hint\n{too_long}\n\nmy answer\non two lines score=30\n\n/retry\nbetter score=70\n\n/model\n/quit\n"
    proc = run_cli(coach_env, ["interview", "-n", "2"], stdin)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "the limit is 8,000" in " ".join(out.split())
    assert "Question 1/2" in out and "Hint for question 1: Key point 1 of 3: your notes cover it under" in out
    assert "Score 30/100" in out and "you said:" in out and "notes: from the notes" in out
    assert "Score 70/100  (+40 vs 30)" in out
    assert "Model answer" in out
    assert "coach interview --resume 1" in out

    proc = run_cli(coach_env, ["interview", "--resume"], "follow-up answer score=60\n\n/skip\n/model\n")
    assert proc.returncode == 0, proc.stderr
    assert "Resuming session 1" in proc.stdout and "Follow-up to question 1" in proc.stdout
    assert proc.stdout.index("Question 1/2") < proc.stdout.index("Follow-up to question 1")  # in context
    assert "Question 2/2" in proc.stdout and "Skipped." in proc.stdout
    # The model answer after a skip names the skipped question it answers.
    second = re.search(r"Question 2/2 ─*╮\n│ (.+?) +│", proc.stdout).group(1)
    shown = proc.stdout[proc.stdout.index("Model answer to question 2"):]
    assert second in shown and f"Model answer to: {second}" in shown
    assert "Session 1 (practice)" in proc.stdout and "Overall: 15/100" in proc.stdout
    # Both attempts, the delta, and which one counts.
    assert re.search(r"30 → retry 70\s*(│\s*)*\(\+40\)", proc.stdout) and "first attempt counts" in proc.stdout
    assert "Read next:" in proc.stdout

    import json

    data = json.loads(subprocess.run([*coach_command(), "progress", "--json"], env=coach_env, capture_output=True,
                                     text=True, timeout=120).stdout)
    assert data["unfinished"] == [] and data["sessions"][0]["score"] == 15
    assert set(data["tracks"]) == {"transformers"} and data["weakest"][0]["score"] == 0
    assert data["due"] == []    # everything was just reviewed
    assert {r["question_id"] for r in data["upcoming"]} == {"q-sqrt-dk", "q-layernorm"}

    proc = run_cli(coach_env, ["interview", "--resume"], "")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: there is no unfinished session to resume; start one with `coach interview`")


@pytest.mark.slow
def test_cli_interview_mode_reveals_critique_at_the_end(coach_env):
    stdin = "first score=80\n\nfollow\n\nsecond score=20\n\nfollow 2\n\n"
    proc = run_cli(coach_env, ["interview", "--mode", "interview", "-n", "2", "--track", "transformers"], stdin)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("feedback comes at the end") == 4
    assert out.index("Score 80/100") > out.rindex("feedback comes at the end")
    assert "Weakest topics: normalisation" in out or "Weakest topics: attention" in out


@pytest.mark.slow
def test_cli_ctrl_c_saves_and_prints_the_resume_hint(coach_env):
    import signal
    import sys

    code = DRIVER.format(tests=str(Path(__file__).parent))
    # As from a shell: Ctrl-C's default action. Something earlier in the suite can leave SIGINT ignored in
    # pytest's process, an ignored signal stays ignored in a child, and the child would never see it.
    proc = subprocess.Popen([sys.executable, "-c", code, "interview", "-n", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=coach_env, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        proc.stdin.write("an answer score=30\n\n")
        proc.stdin.flush()
        seen = ""
        while "/retry to answer again" not in seen:   # input() flushes stdout before it waits
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "coach interview --resume 1" in out and "Traceback" not in err

    resumed = run_cli(coach_env, ["interview", "--resume", "1"], "/quit\n")
    assert "Follow-up to question 1" in resumed.stdout


# -- real grader and answerer (the lead's grading.Grader / answering.Answerer) on the fixture corpus -----

@pytest.fixture(scope="module")
def real_coach(tmp_path_factory, request):
    import shutil

    from conftest import FIXTURES
    from interview_coach.settings import Settings

    embeddings = request.getfixturevalue("embeddings")   # only loaded when the test runs
    root = tmp_path_factory.mktemp("real")
    shutil.copytree(FIXTURES / "corpus", root / "corpus")
    coach = Coach(Settings.load({}, home=root / "home", corpus_dir=root / "corpus"), embeddings=embeddings)
    coach.index.ingest()
    return coach


@pytest.mark.slow
def test_real_grader_practice_session(real_coach):
    clock = FakeClock()
    s = InterviewSession.start(real_coach, SessionConfig(difficulty="medium", n_questions=1), clock=clock, seed=0)
    assert s.current.question_id == "q-sqrt-dk"
    good = ("The dot product of two unit-variance vectors has variance d_k, so the logits grow with the "
            "dimension. Large logits saturate the softmax, and a saturated softmax has vanishing gradients.")
    fb = s.answer(good)
    assert fb.grade.question_id == "q-sqrt-dk" and fb.grade.score >= 60, fb.grade
    worse = s.retry("Attention uses queries and keys.")
    assert worse.delta < 0 and worse.previous_score == fb.grade.score
    # The grader always offers the bank's follow-up; it is graded as free text (the real ask() is left to
    # the answering tests: a model answer costs ~25 s of generation here).
    assert fb.next_turn.kind == "follow_up" and fb.next_turn.question == "What happens if you forget the scaling?"
    follow = s.answer("Without the scaling the softmax saturates and the gradients vanish, so training stalls.")
    assert follow.grade.question == fb.next_turn.question and follow.next_turn is None and s.done
    summary = s.finish()
    assert summary.turns[0][1].score == fb.grade.score and summary.per_track["transformers"] == fb.grade.score
    assert summary.retried == {fb.turn.turn_id: worse.grade.score}
    assert s.store.card("q-sqrt-dk")["last_score"] == fb.grade.score


@pytest.mark.slow
def test_real_cli_interview_with_piped_input(real_coach):
    import os
    import sys

    # The module's coach already indexed the corpus: the CLI reuses its data directory.
    settings = real_coach.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(settings.home), COACH_CORPUS=str(settings.corpus_dir), HF_HUB_OFFLINE="1")
    stdin = ("The dot product has variance d_k; large logits saturate the softmax\n"
             "and the gradients vanish.\n\n/skip\n\n")
    proc = subprocess.run([sys.executable, "-m", "interview_coach.cli", "interview", "-n", "1", "--difficulty",
                           "medium"], input=stdin, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Question 1/1" in out and "Follow-up to question 1" in out and "Skipped." in out, out
    assert re.search(r"Score \d+/100", out) and "you said:" in out
    assert re.search(r"Session \d+ \(practice\)", out) and "Traceback" not in proc.stderr


def test_a_question_seen_today_is_not_served_again_unless_due(coach, clock):
    # A weak first attempt used to put the same question first in the next session, and the next.
    s = start(coach, clock, n_questions=1)
    first = s.current.question_id
    s.answer("score=20")
    s.finish()
    clock.advance(3600)
    again = start(coach, clock, n_questions=1)
    assert again.current.question_id != first
    again.skip()
    again.finish()
    clock.advance(3600)   # both seen today, neither due: still a session, the least recently due first
    assert start(coach, clock, n_questions=2).plan == [first, again.plan[0]]
    clock.advance(2 * 86400)   # due again (Again/Hard come back after a day)
    assert start(coach, clock, n_questions=1).plan == [first]


def test_cli_preloads_the_models_while_the_candidate_types():
    # The first follow-up took 12 s: its free-text grading loaded the models. The terminal now loads them
    # in the background as soon as the first question is shown.
    import threading
    from types import SimpleNamespace

    from interview_coach.cli.interview import WARM_ANSWER, Preload

    calls, release = [], threading.Event()

    class Grader:
        def grade(self, question, answer, parent=None):
            release.wait(10)   # still loading when the candidate answers: the answer waits for it
            calls.append((threading.current_thread().name, question, answer))
            raise RuntimeError("no index")   # left to the real call to report

    preload = Preload(SimpleNamespace(grader=Grader()), "Why scale by sqrt(d_k)?")
    assert not preload.grading.is_set()
    release.set()
    assert preload.grading.wait(10)
    assert calls == [("coach-preload", "Why scale by sqrt(d_k)?", WARM_ANSWER)]
