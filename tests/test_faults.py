"""Faults: `kill -9` of the UI mid-grading and mid-model-answer, `kill -9` mid-ingest (embedded and on a
Chroma server), a corrupted or locked coach.db, and disk-full writes: one clear line, nothing lost or destroyed."""

from __future__ import annotations

import io
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import coach_command

from interview_coach.errors import ErrorCode
from interview_coach.grading import Grade
from interview_coach.settings import Settings
from interview_coach.store import DB_NAME, Store, StoreError, utcnow

TESTS = Path(__file__).parent
ANSWER = ("Dot products of unit-variance vectors have variance d_k, so dividing by sqrt(d_k) keeps the "
          "softmax out of saturation.")
LONG_ANSWER = "Layer normalisation works per token. " * 160  # ~6,000 characters: needs new pages in coach.db
GRADING, MODEL_ANSWER = "GRADING IN FLIGHT", "MODEL ANSWER IN FLIGHT"


# -- fakes: no models, so that faults are what a test measures ----------------------------------------

class PlainGrader:
    """Scores 60 with no follow-up, so the turn after an answer is the next bank question. With `hang`,
    it announces itself on stdout and never returns (a grading in flight for the test to kill)."""

    def __init__(self, corpus, hang: bool = False):
        self.corpus, self.hang = corpus, hang

    def grade(self, question, answer, parent=None):
        if self.hang:
            print(GRADING, flush=True)
            time.sleep(600)
        q = self.corpus.question(question)
        return Grade(question_id=q.id if q else None, question=q.question if q else question, answer=answer,
                     score=60, feedback="Fine.")


class HangingAnswerer:
    """Streams one token, announces itself on stdout, then never finishes (a model answer in flight)."""

    def ask(self, question, closed_book=False, on_token=None):
        if on_token:
            on_token("Dividing by sqrt(d_k) ")
        print(MODEL_ANSWER, flush=True)
        time.sleep(600)


def fake_coach(home: Path, corpus_dir: Path, hang_grading: bool = False):
    from interview_coach.coach import Coach
    from interview_coach.corpus import load_valid_corpus

    corpus = load_valid_corpus(corpus_dir)
    return Coach(Settings.load({}, home=home, corpus_dir=corpus_dir), corpus=corpus,
                 grader=PlainGrader(corpus, hang=hang_grading), answerer=HangingAnswerer())


def services_for(home: Path, corpus_dir: Path, hang_grading: bool = False):
    from interview_coach.ui.common import Services

    coach = fake_coach(home, corpus_dir, hang_grading)
    return Services(coach, coach.corpus.questions)


def last(steps):
    """The final output of a UI handler (a generator yields several; a plain handler returns one)."""
    out = None
    for out in steps:
        pass
    return out


def chat_text(history) -> str:
    return "\n".join(str(m["content"]) for m in history)


def ui_session_until_killed(home: str, corpus_dir: str, phase: str) -> None:
    """Run in a subprocess that the test kills: start a 2-question practice session through the Interview
    tab's handlers, answer question 1, and (phase "model") ask for the model answer; one of them hangs."""
    from interview_coach.ui.interview_tab import on_answer, on_model_answer, on_start

    services = services_for(Path(home), Path(corpus_dir), hang_grading=phase == "grading")
    history, p = last(on_start(services, [], None, "practice", 2, [], None))[:2]
    print(f"SESSION {p.session.session_id}", flush=True)
    history = last(on_answer(ANSWER, history, p))[0]
    last(on_model_answer(history, p))
    print("the hanging step returned", flush=True)


# -- kill -9 of the UI -----------------------------------------------------------------------------------

def killed_mid_step(home: Path, corpus_dir: Path, phase: str, marker: str) -> int:
    """Start ui_session_until_killed, SIGKILL it as soon as `marker` is printed; returns the session id."""
    script = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_faults; " \
             "test_faults.ui_session_until_killed(*sys.argv[1:])"
    proc = subprocess.Popen([sys.executable, "-c", script, str(home), str(corpus_dir), phase],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + 120
    try:
        while marker not in "".join(seen):
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"no {marker!r} from the UI process in 120 s:\n{''.join(seen)[-3000:]}")
            assert proc.poll() is None or not lines.empty(), f"the UI process ended early:\n{''.join(seen)}"
        proc.kill()  # SIGKILL: no finally blocks, no atexit, no sqlite close
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -9
    return int(next(line for line in seen if line.startswith("SESSION")).split()[1])


@pytest.mark.slow
@pytest.mark.parametrize("phase, marker", [("grading", GRADING), ("model", MODEL_ANSWER)])
def test_kill_9_of_the_ui_keeps_the_answer_and_the_session_resumes(tmp_path, corpus_dir, phase, marker):
    from interview_coach.ui.interview_tab import on_answer, on_end
    from interview_coach.ui.progress_tab import on_resume

    home = tmp_path / "home"
    session_id = killed_mid_step(home, corpus_dir, phase, marker)

    db = home / DB_NAME
    with sqlite3.connect(db) as raw:  # the file a kill -9 left behind is a sound database
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(db) as store:
        assert [s["id"] for s in store.unfinished_sessions()] == [session_id]
        first = store.turns(session_id)[0]
        answers = store.answers(first["id"])
        assert [a["text"] for a in answers] == [ANSWER]   # stored before grading began
        assert (answers[0]["grade"] is None) == (phase == "grading")

    # Restart: a new process resumes it from the Progress tab (grading a saved, ungraded answer first).
    services = services_for(home, corpus_dir)
    out = on_resume(services, session_id, [], None)
    history, p = out[0], out[1]
    assert p.session.session_id == session_id and p.session.current.number == 2, chat_text(history)
    assert f"Resumed session {session_id}" in chat_text(history)
    assert services.store().answers(first["id"])[0]["grade"].score == 60
    history = last(on_answer("LayerNorm normalises each token over its own features.", history, p))[0]
    last(on_end(history, p))
    summary = p.session.summary()
    assert [g.score for _, g in summary.turns] == [60, 60]
    assert not services.store().unfinished_sessions()


# -- a corrupted or locked coach.db ------------------------------------------------------------------

def filled_db(path: Path) -> bytes:
    """A real coach.db with a few hundred KB of sessions, closed cleanly; returns its bytes."""
    with Store(path) as store:
        for i in range(120):
            store.create_session("practice", {"note": "x" * 1000}, [f"q{i}"], utcnow())
    return path.read_bytes()


def corrupt(kind: str, good: bytes) -> bytes:
    if kind == "not-a-database":
        return b"this is a text file someone saved as coach.db\n" * 200
    if kind == "truncated":
        return good[: len(good) // 2]
    # A page in the middle overwritten: the header is fine, the tables are not.
    return good[:8192] + b"\xff" * 4096 + good[8192 + 4096:]


@pytest.mark.parametrize("kind", ["not-a-database", "truncated", "overwritten-page"])
def test_a_corrupted_coach_db_is_one_line_and_left_byte_identical(tmp_path, corpus_dir, kind, monkeypatch, capsys):
    from interview_coach.cli import main

    home = tmp_path / "home"
    home.mkdir()
    db = home / DB_NAME
    db.write_bytes(corrupt(kind, filled_db(tmp_path / "good.db")))
    before = db.read_bytes()

    with pytest.raises(StoreError) as caught:
        Store(db)   # on opening, not later in a session
    assert caught.value.code == ErrorCode.STORE_CORRUPT

    # Both a reading and a writing command: one stderr line naming the file, exit 1, no traceback.
    monkeypatch.setenv("COACH_CORPUS", str(corpus_dir))
    for argv in (["progress"], ["interview", "--questions", "1"]):
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        assert main(["--home", str(home), *argv]) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and str(db) in err[0], err
        assert "left untouched" in err[0] and "Traceback" not in err[0]

    # The UI's Start says the same in the chat.
    from interview_coach.ui.interview_tab import on_start

    history = last(on_start(services_for(home, corpus_dir), [], None, "practice", 1, [], None))[0]
    assert "Could not start" in history[-1]["content"] and "left untouched" in history[-1]["content"]

    assert db.read_bytes() == before, "the corrupted file was changed"
    assert sorted(p.name for p in home.iterdir()) == [DB_NAME], "a new database was created beside it"


def test_a_locked_coach_db_is_one_line_reads_still_work_and_nothing_is_lost(tmp_path, corpus_dir, monkeypatch,
                                                                             capsys):
    from interview_coach.cli import main

    monkeypatch.setattr(Store, "BUSY_TIMEOUT_S", 0.3)
    home = tmp_path / "home"
    db = home / DB_NAME
    with Store(db) as store:
        kept = store.create_session("practice", {}, ["q-sqrt-dk"], utcnow())

    # Another program holds the write lock (an open transaction in a sqlite3 shell, another coach).
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with Store(db) as store:   # opening and reading need no write lock
            assert [s["id"] for s in store.sessions()] == [kept]
            started = time.monotonic()
            with pytest.raises(StoreError) as caught:
                store.create_session("practice", {}, ["q-layernorm"], utcnow())
            assert caught.value.code == ErrorCode.STORE_LOCKED
            assert time.monotonic() - started < 5, "the busy timeout was not applied"

        monkeypatch.setenv("COACH_CORPUS", str(corpus_dir))
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        assert main(["--home", str(home), "interview", "--questions", "1"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "locked by another program" in err[0] and str(db) in err[0], err
    finally:
        other.execute("ROLLBACK")
        other.close()

    with Store(db) as store:   # once the lock is gone, writing works and the old session is still there
        new = store.create_session("practice", {}, ["q-layernorm"], utcnow())
        assert [s["id"] for s in store.sessions()] == [new, kept]


def test_an_exclusive_lock_that_blocks_reading_is_one_line(tmp_path, monkeypatch, capsys):
    from interview_coach.cli import main

    monkeypatch.setattr(Store, "BUSY_TIMEOUT_S", 0.3)
    home = tmp_path / "home"
    db = home / DB_NAME
    Store(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("CREATE TABLE held (x)")  # a write under EXCLUSIVE mode keeps readers out as well
    try:
        assert main(["--home", str(home), "progress"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "locked by another program" in err[0], err
    finally:
        other.execute("ROLLBACK")
        other.close()


# -- disk-full writes -------------------------------------------------------------------------------------

def fill_disk(store: Store) -> None:
    """A real SQLITE_FULL ("database or disk is full") from then on, for any write needing a new page."""
    pages = store._one("PRAGMA page_count")["page_count"]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


def free_disk(store: Store) -> None:
    store._db.execute("PRAGMA max_page_count = 1073741823")


def test_disk_full_on_an_answer_is_a_clear_error_and_the_session_is_unchanged(tmp_path, corpus_dir):
    from interview_coach.interview import InterviewSession, SessionConfig

    coach = fake_coach(tmp_path / "home", corpus_dir)
    session = InterviewSession.start(coach, SessionConfig(n_questions=2), seed=1)
    turn = session.current
    fill_disk(session.store)
    with pytest.raises(StoreError) as caught:
        session.answer(LONG_ANSWER)
    error = caught.value
    assert error.code == ErrorCode.STORE_WRITE_FAILED
    assert str(error).startswith("could not save your answer: the disk holding") and "full" in str(error)
    assert session.store.answers(turn.turn_id) == [] and session.current is turn  # nothing half-saved

    free_disk(session.store)   # space freed: the same answer goes in, exactly once
    feedback = session.answer(LONG_ANSWER)
    assert feedback.grade.score == 60
    assert [a["text"] for a in session.store.answers(turn.turn_id)] == [LONG_ANSWER.strip()]


def test_disk_full_in_the_ui_keeps_the_answer_in_the_box_to_submit_again(tmp_path, corpus_dir):
    from interview_coach.ui.interview_tab import on_answer, on_start

    services = services_for(tmp_path / "home", corpus_dir)
    history, p = last(on_start(services, [], None, "practice", 2, [], None))[:2]
    turn = p.session.current
    fill_disk(services.store())

    steps = list(on_answer(LONG_ANSWER, history, p))
    assert steps[0][4] == "", "the box is cleared while grading"
    history, answer_box = steps[-1][0], steps[-1][4]
    assert answer_box == LONG_ANSWER.strip(), "the unsaved answer is not back in the answer box"
    said = history[-1]["content"]
    assert "could not save your answer" in said and "back in the answer box" in said, said
    assert services.store().answers(turn.turn_id) == []

    free_disk(services.store())
    out = last(on_answer(answer_box, history, p))
    assert out[3]["grade"]["score"] == 60 and out[3]["next"]["number"] == 2
    assert [a["text"] for a in services.store().answers(turn.turn_id)] == [LONG_ANSWER.strip()]


def test_disk_full_on_a_grade_keeps_the_answer_for_resume(tmp_path, corpus_dir):
    """The answer fits, its grade does not: the answer stays stored (and not offered to type again), and
    resume grades it once there is room."""
    from interview_coach.interview import InterviewSession, SessionConfig

    coach = fake_coach(tmp_path / "home", corpus_dir)
    session = InterviewSession.start(coach, SessionConfig(n_questions=2), seed=1)
    turn = session.current
    real_add_grade = session.store.add_grade

    def add_grade_on_a_full_disk(answer_id, grade, graded_at):
        fill_disk(session.store)
        grade.feedback = "x" * 6000   # a grade needing new pages
        return real_add_grade(answer_id, grade, graded_at)

    session.store.add_grade = add_grade_on_a_full_disk
    with pytest.raises(StoreError) as caught:
        session.answer(ANSWER)
    assert caught.value.code == ErrorCode.STORE_WRITE_FAILED and "could not save the grade" in str(caught.value)
    del session.store.add_grade
    free_disk(session.store)
    assert [a["text"] for a in session.store.answers(turn.turn_id)] == [ANSWER]

    resumed = InterviewSession.resume(coach, session.session_id, store=session.store)
    assert session.store.answers(turn.turn_id)[0]["grade"].score == 60
    assert resumed.current.number == 2


# -- kill -9 during ingest (embedded Chroma) ---------------------------------------------------------

TOPICS = ["gradient clipping", "learning rate warmup", "label smoothing", "dropout", "weight decay",
          "mixed precision", "beam search", "tokenisation", "positional encoding", "knowledge distillation",
          "early stopping", "data augmentation"]


def extra_notes(folder: Path, n: int = 8) -> Path:
    """n note-like markdown files (several chunks each) for an ingest that takes a while."""
    folder.mkdir(parents=True)
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        sections = "\n\n".join(
            f"## Part {j}\n" + " ".join(
                f"In practice {topic} interacts with the batch size, the optimiser and the schedule ({i}.{j}.{k}); "
                f"measure it on a held-out split before trusting a default." for k in range(6))
            for j in range(3))
        (folder / f"note-{i:02d}.md").write_text(f"# {topic.title()} {i}\n\n{sections}\n")
    return folder


@pytest.fixture(params=["embedded", "server"])
def index_settings(request, tmp_path, corpus_dir):
    """Settings for an embedded index, or for one on a real Chroma server (test_chroma_server's)."""
    env = {}
    if request.param == "server":
        from test_chroma_server import ChromaServer

        server = ChromaServer(tmp_path / "chroma-data", {**os.environ, "COACH_HOME": str(tmp_path / "server-home")})
        server.start()
        request.addfinalizer(server.stop)
        env = {"COACH_CHROMA_URL": server.url}
    return Settings.load(env, home=tmp_path / "home", corpus_dir=corpus_dir)


@pytest.mark.slow
def test_kill_9_during_ingest_leaves_the_old_index_answering(tmp_path, index_settings, coach_env, embeddings):
    from interview_coach.coach import Coach
    from interview_coach.index import Index

    t0 = time.monotonic()
    settings = index_settings
    Index(settings, embeddings=embeddings).ingest()
    query = "Why divide by sqrt(d_k) in attention?"
    before = [r.chunk.id for r in Coach(settings, embeddings=embeddings).search(query, k=3)]
    assert before and "attention" in before[0]
    print(f"\nold index built and searched in {time.monotonic() - t0:.1f}s")

    notes = extra_notes(tmp_path / "mine")
    watcher = Index(settings)   # the manifest's version: a file stat, or a request to the server
    committed = watcher.version()
    # Small batches: the manifest is committed every 8 chunks, so the kill lands mid-ingest, after a commit.
    env = {**coach_env, "COACH_INGEST_BATCH": "8"}
    if settings.chroma_url:
        env["COACH_CHROMA_URL"] = settings.chroma_url
    proc = subprocess.Popen([*coach_command(), "ingest", str(notes)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while watcher.version() == committed:
            assert proc.poll() is None, f"ingest ended before its first commit:\n{proc.stdout.read()}"
            assert time.monotonic() < deadline, "no manifest commit in 180 s"
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -9, "the ingest finished before the kill; make extra_notes larger"
    print(f"killed mid-ingest at {time.monotonic() - t0:.1f}s")

    # A fresh process (a restarted coach) searches the old notes as before. (Third place may change: the
    # chunks the killed ingest committed are searchable, and shift the fused scores of near ties.)
    after = Coach(settings, embeddings=embeddings).search(query, k=3)
    assert [r.chunk.id for r in after][:2] == before[:2]
    assert all(r.chunk.text for r in after)
    # The next ingest completes what the killed one started.
    report = Index(settings, embeddings=embeddings).ingest([notes])
    print(f"re-ingested to {report.chunks} chunks by {time.monotonic() - t0:.1f}s")
    status = Index(settings, embeddings=embeddings).status()
    assert status["documents"] == report.documents and report.documents >= 8
    assert status["chunks"] == report.chunks
    mine = Coach(settings, embeddings=embeddings).search("label smoothing batch size held-out split", k=3)
    assert mine and "Label Smoothing" in mine[0].chunk.title, [r.chunk.title for r in mine]
    assert Coach(settings, embeddings=embeddings).search(query, k=3)[0].chunk.id == before[0]
