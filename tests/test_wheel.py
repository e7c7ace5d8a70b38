"""A plain (non-editable) install works: build the wheel from a copy of the checkout, install it into a fresh
environment that cannot see the source tree, and run `coach` from a folder outside the repository.

The fresh environment borrows the test venv's third-party packages through a .pth line (reinstalling torch
and friends would take minutes); a plain path line does not run the venv's own .pth files, so the editable
install's `__editable__` path to src/ stays hidden and interview_coach can only come from the wheel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, free_port, stop

from interview_coach.resources import BUNDLED_DATA

pytestmark = pytest.mark.slow

BUILD_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
UI_START_TIMEOUT = 120  # import, a no-op ingest of the fixture corpus and warm-up on 2 busy cores


def copy_checkout(target: Path) -> Path:
    """What the build reads, copied, so that building leaves no build/ or egg-info in the working tree."""
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    target.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(REPO / "src", target / "src", ignore=junk)
    for source in BUNDLED_DATA.values():
        shutil.copytree(REPO / source, target / source, ignore=junk)
    return target


def run(cmd: list, cwd: Path, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{cmd} exited with {result.returncode}:\n"
                                    f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh environment holding only the built wheel (plus a path to the test venv's dependencies)."""
    root = tmp_path_factory.mktemp("wheel")
    source = copy_checkout(root / "source")
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", root / "dist", source], root)
    wheel = next((root / "dist").glob("interview_coach-*.whl"))
    env_dir = root / "env"
    run([sys.executable, "-m", "venv", "--without-pip", env_dir], root)
    python = env_dir / "bin" / "python"
    run([*pip, "--python", python, "install", "--no-deps", "--no-index", "-q", wheel], root)
    # After the install, so that pip never sees the editable interview-coach through this path.
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root).stdout.strip()
    Path(site, "coach_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


@pytest.fixture
def outside(tmp_path) -> tuple[Path, dict]:
    """A working directory outside the repository and an environment with no COACH_* or PYTHONPATH."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    drop = ("COACH_", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(COACH_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")
    return workdir, env


PROBE = """
import json, sys
import interview_coach
from interview_coach import resources
from interview_coach.eval.data import BUNDLED
from interview_coach.judge_data import load_pairs
from interview_coach.settings import Settings
print(json.dumps({
    "module": interview_coach.__file__, "path": sys.path, "default_corpus": str(Settings.load({}).corpus_dir),
    "resources": [str(p) for p in (resources.corpus_dir(), resources.eval_datasets_dir(), resources.judge_data_dir(),
                                   resources.prompts_file(), resources.judge_model_dir(), *BUNDLED.values())],
    "judge_pairs": len(load_pairs()),
}))
"""


def test_package_and_its_data_come_from_the_wheel(installed, outside):
    workdir, env = outside
    probe = json.loads(run([installed / "bin" / "python", "-c", PROBE], workdir, env).stdout)
    package = Path(probe["module"]).parent
    assert package.is_relative_to(installed), probe["module"]
    assert str(REPO / "src") not in probe["path"]
    assert Path(probe["default_corpus"]) == package / "data" / "corpus"
    for path in map(Path, probe["resources"]):
        assert path.is_relative_to(package) and path.exists(), path
    assert (package / "models" / "judge" / "trained.safetensors").stat().st_size > 1_000_000
    assert (package / "models" / "grading_judge" / "trained.safetensors").stat().st_size > 1_000_000
    assert probe["judge_pairs"] > 100


def test_help_and_the_bundled_question_bank(installed, outside):
    workdir, env = outside
    coach = installed / "bin" / "coach"
    assert "ingest" in run([coach, "--help"], workdir, env).stdout
    questions = json.loads(run([coach, "questions", "--json"], workdir, env).stdout)
    assert len(questions) > 300  # the whole bundled bank, not the fixture's handful


def test_ingest_then_eval_on_the_bundled_dataset(installed, outside, corpus_dir, tmp_path):
    workdir, env = outside
    env = {**env, "COACH_CORPUS": str(corpus_dir)}  # the fixture corpus: seconds, not minutes, to embed
    coach = installed / "bin" / "coach"
    report = json.loads(run([coach, "ingest", "--json"], workdir, env).stdout)
    assert report["documents"] == 5 and report["chunks"] > 0
    metrics = json.loads(run([coach, "eval", "retrieval", "--limit", "2", "--json", "--out", tmp_path / "report"],
                             workdir, env).stdout)
    assert metrics["retrieval"]["hybrid"]["n"] == 2
    used = json.loads((tmp_path / "report" / "details.json").read_text())["meta"]["datasets"]["retrieval"]
    assert Path(used).is_relative_to(installed) and Path(used).name == "retrieval_queries.jsonl"


def fetch_page(url: str, proc: subprocess.Popen, log: Path) -> str:
    """The page at url once the server answers (bounded); fails with the server's log if it dies first."""
    deadline = time.monotonic() + UI_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"`coach ui` exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
        if time.monotonic() > deadline:
            pytest.fail(f"`coach ui` did not answer in {UI_START_TIMEOUT}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def test_ui_serves_its_app(installed, outside, corpus_dir, tmp_path):
    workdir, env = outside
    env = {**env, "COACH_CORPUS": str(corpus_dir)}
    port, log = free_port(), tmp_path / "coach-ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([installed / "bin" / "coach", "ui", "--port", str(port)], cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        page = fetch_page(f"http://127.0.0.1:{port}/", proc, log)
    finally:
        stop(proc)
    # Gradio embeds the built Blocks' config in the page: the app's title and its tabs.
    assert '"title":"Interview Coach"' in page
    assert '"type":"tabitem"' in page
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
