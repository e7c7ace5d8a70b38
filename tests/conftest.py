"""Shared fixtures: a private copy of the fixture corpus, a data dir, and one real embedding model per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from interview_coach.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"
# ranx (a test-only reference for the ranking metrics) JIT-compiles every metric with numba on first use:
# about a minute on a fresh venv, for runs pure Python scores in milliseconds. Same code, interpreted.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")


def pytest_configure(config):
    """Under `pytest -n N` (pytest-xdist), each worker gets its own share of the CPUs. Every test's thread
    pools (torch, llama.cpp, Whisper, the servers and browsers it starts) then size themselves to that
    share instead of all of them spinning on the same cores."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker and count > 1 and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        share = cpus[int(worker.removeprefix("gw")) % len(cpus)::count] or cpus
        os.sched_setaffinity(0, share)
        os.environ["OMP_NUM_THREADS"] = str(len(share))  # read when torch loads, which is later


# The longest test files, longest first (`--durations=0` on 2 cores, seconds: 316, 266, 213, 178, 110, 106).
# `make test` hands files to its two workers in collection order (`--dist loadfile --no-loadscope-reorder`);
# xdist's default order, most tests first, left the one-test load test (3.5 minutes) for last, on one core
# while the other sat idle. Longest first leaves short files to even out the end.
LONGEST_FIRST = ("test_ui_browser.py", "test_coach_model.py", "test_ui_load.py", "test_grading.py",
                 "test_chroma_server.py", "test_interview.py")


def pytest_collection_modifyitems(items):
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@contextlib.contextmanager
def built_once(tmp_path_factory, name: str):
    """(folder, done) for something every test worker needs: without pytest-xdist a fresh folder; with it
    the run's folder shared by the workers, held under a lock, so the first worker builds it (then sets
    done) and the others wait and read it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield tmp_path_factory.mktemp(name), False
        return
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / name  # the run's temp root, one per run
    with FileLock(f"{shared}.lock"):
        shared.mkdir(exist_ok=True)
        yield shared, (shared / ".done").exists()
        (shared / ".done").touch()


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", target)
    return target


@pytest.fixture
def settings(tmp_path, corpus_dir) -> Settings:
    return Settings.load({}, home=tmp_path / "home", corpus_dir=corpus_dir)


@pytest.fixture(scope="session")
def embeddings():
    """The real all-MiniLM-L6-v2 from its registry package, loaded once for the whole run."""
    from interview_coach.embeddings import load_embeddings

    return load_embeddings(Settings.load({}))


@pytest.fixture
def coach_env(tmp_path, corpus_dir) -> dict:
    """Environment for running the real `coach` CLI in a subprocess against the fixture corpus."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(tmp_path / "home"), COACH_CORPUS=str(corpus_dir), HF_HUB_OFFLINE="1")
    return env


def coach_command() -> list[str]:
    return [sys.executable, "-m", "interview_coach.cli"]


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory, embeddings) -> Settings:
    """Settings whose home holds an index of the whole bundled corpus, built once per test run (~1 min);
    each worker reads its own copy (an embedded Chroma folder is not shared between processes)."""
    from interview_coach.index import Index

    with built_once(tmp_path_factory, "bundled-home") as (built, done):
        if not done:
            Index(Settings.load({}, home=built), embeddings=embeddings).ingest()
        home = tmp_path_factory.mktemp("bundled-home-copy")
        shutil.copytree(built, home, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".done"))
    return Settings.load({}, home=home)


@pytest.fixture(scope="session")
def bundled_coach(bundled_settings, embeddings):
    """A Coach on the bundled corpus and index with the real models (LLM loaded on first use)."""
    from interview_coach.coach import Coach

    return Coach(bundled_settings, embeddings=embeddings)


@pytest.fixture(scope="session")
def held_out_grades(tmp_path_factory, bundled_coach) -> dict:
    """(question id, answer) -> Grade for every test-split graded answer (the calibration never saw these
    questions), graded once per run (a little over a minute) for test_grading.py and test_eval_quality.py."""
    import pickle

    from interview_coach.eval.data import load_graded

    with built_once(tmp_path_factory, "held-out-grades") as (folder, done):
        if done:
            return pickle.loads((folder / "grades.pickle").read_bytes())
        grades = {(r.question_id, r.answer): bundled_coach.grade(r.question_id, r.answer)
                  for r in load_graded() if r.split == "test"}
        (folder / "grades.pickle").write_bytes(pickle.dumps(grades))
        return grades


# A third fixture question (on the fixture's optimisers note) for the UI tests that need a 3-question session.
ADAM_QUESTION = """\
- id: q-adam
  track: optimisation
  topic: optimisers
  difficulty: medium
  question: How does Adam differ from SGD with momentum?
  key_points:
    - Momentum keeps an average of past gradients.
    - Adam scales each parameter by a running average of squared gradients.
    - Adam corrects the bias of the first steps.
  follow_ups:
    - How is AdamW different from Adam with L2 regularisation?
  notes: [optimisers]
  sources: [src-fixture]
"""


def free_port() -> int:
    """A loopback port nothing listens on (bound and released at once; the OS does not reuse it soon)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server started by a test, killing it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
