"""Load test of the UI: N simulated candidates each run a practice session at once through gradio_client.

`coach ui` is started on 127.0.0.1 (a free port, a temporary COACH_HOME) in a subprocess. Each candidate
is a thread with its own gradio_client.Client (so its own Gradio session and state): it starts a practice
session, answers every question it is shown (main questions and their follow-ups) with answers that carry
its own marker token, and ends the session. Candidate 0 also asks for the model answer (the LLM, streamed)
after each main question; the others hold their answer to main question k until the model's first token
of model answer k has arrived, so their grading runs while the LLM generates.

Printed: per step n, p50, p95 and max in ms, and the error count. Then checked, exit status 1 if any fails:
no errors; every answer stored exactly once, in its own candidate's session (marker tokens never cross
sessions); every answer graded; every session finished; and grading is not serialised behind the LLM: at
least one grade request sent after a model answer's first token was answered before its last token.

Bounded: every call has a timeout (--call-timeout), the whole run a deadline (--timeout); loopback only.

Usage: .venv/bin/python bench/bench_ui_load.py [--users 8] [--questions 3] [--corpus DIR] [--home DIR]
The first run indexes the bundled corpus into a temporary home (about 1-3 minutes on 2 cores, not timed).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import coach_command, free_port, stop  # the tests' server helpers

START_TIMEOUT = 600  # import, ingest (the bundled corpus on a first run: 1-3 min idle), warm-up on 2 busy cores
MARKER = re.compile(r"\bcandidate\d{3}\b")
BODY = ("The main idea is to keep the scale of the values under control, so that the next step sees "
        "inputs it can use. I would check it by comparing against a simple baseline on held-out data. "
        "The trade-off is extra computation for more stable training.")

STEPS = ["connect", "start", "answer", "model answer: first token", "model answer", "end"]
# What each step's one call does (the answer call returns the critique and the next question together).
LABELS = {"start": "start (session + first question)", "answer": "answer (grade + next question)",
          "model answer": "model answer (streamed, verified)", "end": "end (summary)"}


def marker(candidate: int) -> str:
    return f"candidate{candidate:03d}"


def answer_text(candidate: int, k: int) -> str:
    """A distinct answer: the candidate's marker token, the answer's number, then a few sentences."""
    return f"{marker(candidate)} answer {k}. {BODY}"


@dataclass
class Call:
    step: str
    candidate: int
    t0: float  # seconds since the load began, client side: sent
    t1: float  # answered
    ok: bool = True

    @property
    def ms(self) -> float:
        return (self.t1 - self.t0) * 1000


@dataclass
class Candidate:
    index: int
    session_id: int | None = None
    sent: list[str] = field(default_factory=list)  # answer texts the server confirmed it graded
    finished: bool = False


@dataclass
class LoadResult:
    users: int
    questions: int
    candidates: list[Candidate]
    calls: list[Call] = field(default_factory=list)
    # One per model answer: (first token seen, last token seen, final answer seen), seconds since start.
    windows: list[tuple[float, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def graded_during_generation(self) -> list[tuple[Call, int]]:
        """(grade call, model answer number) for every other candidate's grade request sent after a model
        answer's first token arrived and whose grade was on screen before its last token: grading ran while
        the LLM generated. Were grading serialised behind the LLM (one worker for both events, a shared lock),
        a grade requested mid-generation could only finish after the generation: this list would be empty."""
        return [(c, i) for c in self.calls if c.step == "answer" and c.ok and c.candidate != 0
                for i, (first, last, _) in enumerate(self.windows) if first < c.t0 and c.t1 < last]


def has_grade(out) -> bool:
    """Whether an /answer output carries its grade (outputs: chat, sources, result, answer box)."""
    return isinstance(out, (list, tuple)) and len(out) > 2 and isinstance(out[2], dict) and bool(out[2].get("grade"))


# -- the server -------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve_ui(env: dict, log_path: Path, start_timeout: float = START_TIMEOUT):
    """`coach ui` on a free loopback port; yields its URL once the port answers; always stopped after."""
    port = free_port()
    env = {**env, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*coach_command(), "ui", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`coach ui` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"`coach ui` did not open port {port} in {start_timeout:.0f}s:\n"
                                   f"{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc, timeout=15)


def log_problems(log_path: Path) -> list[str]:
    text = log_path.read_text()
    return [f"the server log has a traceback:\n{text[-3000:]}"] if "Traceback" in text else []


# -- the candidates ---------------------------------------------------------------------------------


def run_load(url: str, users: int = 8, questions: int = 3, *, call_timeout: float = 120,
             deadline_s: float = 600, model_answers: bool = True) -> LoadResult:
    """Run `users` candidates at once against the UI at `url`; returns what each call took and did."""
    from gradio_client import Client

    result = LoadResult(users, questions, [Candidate(i) for i in range(users)])
    lock = threading.Lock()
    t_zero = time.monotonic()
    deadline = t_zero + deadline_s
    # in_flight[k]: model answer k+1's first token has arrived (or there will be none): answer main k+1.
    in_flight = [threading.Event() for _ in range(questions)]
    if not model_answers:
        for event in in_flight:
            event.set()
    all_connected = threading.Barrier(users)

    def now() -> float:
        return time.monotonic() - t_zero

    def left() -> float:
        return max(0.1, min(call_timeout, deadline - time.monotonic()))

    def record(step: str, i: int, t0: float, ok: bool = True, t1: float | None = None) -> None:
        with lock:
            result.calls.append(Call(step, i, t0, now() if t1 is None else t1, ok))

    def fail(i: int, what: str) -> None:
        with lock:
            result.errors.append(f"candidate {i}: {what}")

    def call(client, step: str, i: int, *args, api_name: str):
        t0 = now()
        try:
            out = client.submit(*args, api_name=api_name).result(timeout=left())
        except BaseException:
            record(step, i, t0, ok=False)
            raise
        record(step, i, t0)
        return out

    def poll(job, step: str, i: int, t0: float, watch):
        """Wait for a streaming job, calling watch(outputs so far) at every poll; its result."""
        stop_at = time.monotonic() + left()
        try:
            while not job.done():
                watch(job.outputs())
                if time.monotonic() > stop_at:
                    job.cancel()
                    raise TimeoutError(f"no {step} in {call_timeout:.0f}s")
                time.sleep(0.01)
            return job.result(timeout=5)
        except BaseException:
            record(step, i, t0, ok=False)
            raise

    def answer(client, i: int, text: str):
        """Submit an answer; the call is timed to when its grade is on screen, not to the end of the
        model's critique and follow-up that stream after it (those wait for the model by design)."""
        t0 = now()
        shown: list[float] = []

        def watch(outs) -> None:
            if not shown and any(has_grade(out) for out in outs):
                shown.append(now())

        out = poll(client.submit(text, api_name="/answer"), "answer", i, t0, watch)
        record("answer", i, t0, t1=shown[0] if shown else now())
        return out

    def model_answer(client, i: int, k: int, turn_id: int) -> None:
        """Candidate i's model answer to its last answer, timed to its first and last streamed token."""
        t0 = now()
        job = client.submit(api_name="/model_answer")
        arrived: list[float] = []  # when each streamed output was first seen
        firsts: list[float] = []

        def watch(outs) -> None:
            if len(outs) > len(arrived):
                arrived.extend([now()] * (len(outs) - len(arrived)))
                if len(arrived) >= 2 and not firsts:  # output 0 is the empty draft; then tokens
                    firsts.append(arrived[1])
                    record("model answer: first token", i, t0, t1=arrived[1])
                    in_flight[k].set()

        out = poll(job, "model answer", i, t0, watch)
        first = firsts[0] if firsts else None
        done = now()
        record("model answer", i, t0, t1=done)
        payload = out[2] if isinstance(out, (list, tuple)) else None
        if not (isinstance(payload, dict) and payload.get("answer")):
            raise AssertionError(f"model answer {k + 1} has no answer: {str(out)[:300]}")
        if (payload.get("turn") or {}).get("turn_id") != turn_id:
            raise AssertionError(f"model answer {k + 1} is for turn {payload.get('turn')}, not {turn_id}")
        # The generation ended after the last token was seen: the latest arrival of a token seen strictly
        # before the final output (one seen in the same poll as the final may be later than the LLM's end).
        n_out = len(job.outputs())
        final_seen = arrived[-1] if len(arrived) == n_out else done
        tokens = [t for t in arrived[1:n_out - 1] if t < final_seen]
        if first is not None and tokens:
            with lock:
                result.windows.append((first, max(tokens), done))

    def candidate(i: int) -> None:
        me = result.candidates[i]
        try:
            t0 = now()
            client = Client(url, verbose=False, analytics_enabled=False)
            record("connect", i, t0)
            all_connected.wait(timeout=left())  # every session starts at once
            _, _, started, _ = call(client, "start", i, [], "any", "practice", questions, api_name="/start")
            if not (isinstance(started, dict) and started.get("session_id")):
                raise AssertionError(f"start gave no session: {str(started)[:300]}")
            me.session_id = started["session_id"]
            turn = started["turn"]
            for k in range(1, 2 * questions + 2):  # main questions and their follow-ups, bounded
                if turn is None:
                    break
                main = turn["number"] - 1 if turn["kind"] == "main" else None
                if i != 0 and main is not None and main < questions and not in_flight[main].wait(left()):
                    raise TimeoutError(f"model answer {main + 1} never started")
                text = answer_text(i, k)
                _, _, graded, _ = answer(client, i, text)
                grade = graded.get("grade") if isinstance(graded, dict) else None
                if grade is None:
                    raise AssertionError(f"answer {k} was not graded: {str(graded)[:300]}")
                if graded.get("session_id") != me.session_id or grade.get("answer") != text:
                    raise AssertionError(f"answer {k} came back for session {graded.get('session_id')} "
                                         f"with answer {grade.get('answer')!r}")
                if graded["turn"]["turn_id"] != turn["turn_id"]:
                    raise AssertionError(f"answer {k} was graded for turn {graded['turn']} not {turn}")
                me.sent.append(text)
                if i == 0 and model_answers and main is not None and main < questions:
                    model_answer(client, i, main, turn["turn_id"])
                turn = graded["next"]
            if turn is not None:
                raise AssertionError(f"still a question after {len(me.sent)} answers: {turn}")
            _, _, ended, _ = call(client, "end", i, api_name="/end")
            if not (isinstance(ended, dict) and ended.get("session_id") == me.session_id):
                raise AssertionError(f"end gave {str(ended)[:300]}")
            me.finished = True
        except Exception as e:  # noqa: BLE001 - counted and reported by the caller
            fail(i, f"{type(e).__name__}: {e}")
            all_connected.abort()
        finally:
            if i == 0:
                for event in in_flight:  # nobody waits for a model answer that will not come
                    event.set()

    threads = [threading.Thread(target=candidate, args=(i,), daemon=True, name=f"candidate-{i}")
               for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        result.errors.append(f"{sum(t.is_alive() for t in threads)} candidate(s) still running after {deadline_s:.0f}s")
    result.seconds = now()
    return result


# -- checks and report ------------------------------------------------------------------------------


def verify_store(db_path: Path, result: LoadResult) -> list[str]:
    """Problems found in coach.db: each sent answer stored exactly once in its own session, graded (the
    grade of that very text), no other candidate's marker in a session, every session finished."""
    problems: list[str] = []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = db.execute("""
            SELECT a.id, a.text, t.session_id, g.id, json_extract(g.grade, '$.answer')
            FROM answers a JOIN turns t ON t.id = a.turn_id LEFT JOIN grades g ON g.answer_id = a.id""").fetchall()
        finished = dict(db.execute("SELECT id, finished_at FROM sessions").fetchall())
    finally:
        db.close()
    by_session: dict[int, list[str]] = {}
    for answer_id, text, session_id, grade_id, graded_text in rows:
        by_session.setdefault(session_id, []).append(text)
        if grade_id is None:
            problems.append(f"answer {answer_id} ({text[:30]!r}) has no grade")
        elif graded_text != text:
            problems.append(f"answer {answer_id}'s grade is of {graded_text!r:.40}, not {text[:30]!r}")
    sessions = [c.session_id for c in result.candidates]
    if len(set(sessions)) != len(sessions):
        problems.append(f"candidates share sessions: {sessions}")
    for c in result.candidates:
        stored = by_session.get(c.session_id, [])
        for text in c.sent:
            if stored.count(text) != 1:
                problems.append(f"candidate {c.index}'s {text[:24]!r} is stored {stored.count(text)} times "
                                f"in its session {c.session_id}")
        for text in stored:
            others = set(MARKER.findall(text)) - {marker(c.index)}
            if others or text not in c.sent:
                problems.append(f"session {c.session_id} of candidate {c.index} holds {text[:40]!r}")
        if c.session_id is not None and not finished.get(c.session_id):
            problems.append(f"session {c.session_id} of candidate {c.index} is not finished")
    stray = set(by_session) - set(sessions)
    if stray:
        problems.append(f"answers in sessions no candidate started: {sorted(stray)}")
    return problems


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(result: LoadResult) -> str:
    rows = [(LABELS.get(step, step), [c.ms for c in result.calls if c.step == step and c.ok]) for step in STEPS]
    during = result.graded_during_generation()
    sent_during = [c.ms for c in result.calls if c.step == "answer" and c.ok and c.candidate != 0
                   and any(first < c.t0 < last for first, last, _ in result.windows)]
    rows.append(("answer, sent while the LLM generated", sent_during))
    lines = [(f"{result.users} candidates x {result.questions} questions in {result.seconds:.1f} s "
              f"({sum(len(c.sent) for c in result.candidates)} answers, follow-ups included)"),
             f"{'step':40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    for step, ms in rows:
        if ms:
            lines.append(f"{step:40} {len(ms):4d} {percentile(ms, .5):8.0f} {percentile(ms, .95):8.0f} "
                         f"{max(ms):8.0f}")
    generation = [last - first for first, last, _ in result.windows]
    if generation:
        lines.append(f"LLM generation (first to last token): {', '.join(f'{g:.1f}' for g in generation)} s; "
                     f"grades requested and answered within it: {len(during)}")
    lines.append(f"errors: {len(result.errors)}")
    lines += [f"  {e}" for e in result.errors[:20]]
    return "\n".join(lines)


def check(result: LoadResult, db_path: Path, log_path: Path, model_answers: bool = True) -> list[str]:
    problems = [f"error: {e}" for e in result.errors]
    problems += verify_store(db_path, result)
    problems += log_problems(log_path)
    for c in result.candidates:
        if len(c.sent) < result.questions:
            problems.append(f"candidate {c.index} answered {len(c.sent)} of {result.questions} questions")
    if model_answers and not result.graded_during_generation():
        problems.append("no grade requested during an LLM generation was answered before the generation "
                        "ended: grading waits for the model")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when every check passes, 1 otherwise. Starts its own `coach ui` on a free "
               "127.0.0.1 port with a temporary COACH_HOME (or --home); COACH_LLM_THREADS etc. pass through.")
    parser.add_argument("--users", type=int, default=8, help="simulated candidates at once (default 8)")
    parser.add_argument("--questions", type=int, default=3, help="main questions per session (default 3)")
    parser.add_argument("--corpus", help="corpus folder for the server (default: the bundled corpus)")
    parser.add_argument("--home", help="COACH_HOME for the server (default: a new temporary folder)")
    parser.add_argument("--timeout", type=float, default=600, help="deadline for the whole load, s (default 600)")
    parser.add_argument("--call-timeout", type=float, default=120, help="deadline per UI call, s (default 120)")
    parser.add_argument("--no-model-answer", action="store_true",
                        help="skip the model answers (and the check that grading does not wait for them)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.questions < 1:
        parser.error("--users and --questions must be at least 1")

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-ui-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_") or k == "COACH_LLM_THREADS"}
    env["COACH_HOME"] = str(home)
    if args.corpus:
        env["COACH_CORPUS"] = str(Path(args.corpus).resolve())
    log_path = home / "coach-ui.log"
    home.mkdir(parents=True, exist_ok=True)
    print(f"starting `coach ui` (home {home}) ...", flush=True)
    with serve_ui(env, log_path) as url:
        print(f"serving on {url}; {args.users} candidates start now", flush=True)
        result = run_load(url, args.users, args.questions, call_timeout=args.call_timeout,
                          deadline_s=args.timeout, model_answers=not args.no_model_answer)
    print(report(result))
    problems = check(result, home / "coach.db", log_path, model_answers=not args.no_model_answer)
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        print(f"{len(problems)} check(s) failed; the server log and coach.db are in {home}")
        return 1
    print("all checks passed")
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
