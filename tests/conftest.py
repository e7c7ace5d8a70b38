"""Shared fixtures: a private copy of the fixture corpus, a data dir, and one real embedding model per session."""

from __future__ import annotations

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
    """Settings whose home holds an index of the whole bundled corpus, built once per test run (~1 min)."""
    from interview_coach.index import Index

    settings = Settings.load({}, home=tmp_path_factory.mktemp("bundled-home"))
    Index(settings, embeddings=embeddings).ingest()
    return settings


@pytest.fixture(scope="session")
def bundled_coach(bundled_settings, embeddings):
    """A Coach on the bundled corpus and index with the real models (LLM loaded on first use)."""
    from interview_coach.coach import Coach

    return Coach(bundled_settings, embeddings=embeddings)


@pytest.fixture(scope="session")
def held_out_grades(bundled_coach) -> dict:
    """(question id, answer) -> Grade for every test-split graded answer (the calibration never saw these
    questions), graded once per run (a little over a minute) for test_grading.py and test_eval_quality.py."""
    from interview_coach.eval.data import load_graded

    return {(r.question_id, r.answer): bundled_coach.grade(r.question_id, r.answer)
            for r in load_graded() if r.split == "test"}


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
