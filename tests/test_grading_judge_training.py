"""training/train_grading_judge.py rebuilds a grader's judge that loads and reads pairs, measures the
grader's rule before and after on held-out questions, and refuses a bad data folder in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from interview_coach.judge_data import MISCONCEPTIONS_DIR, load_misconception_sentences

pytestmark = pytest.mark.slow
SCRIPT = str(REPO / "training" / "train_grading_judge.py")


def run(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=600)


def test_the_script_rebuilds_a_grading_judge_that_loads(tmp_path):
    from interview_coach.judge_model import JudgeModel

    lines = {}
    for item in load_misconception_sentences():
        lines.setdefault(item.split, []).append(item.id)
    keep = {ids[0] for ids in lines.values()} | {lines["train"][1]}
    data = tmp_path / "data"
    data.mkdir()
    rows = [line for path in sorted(MISCONCEPTIONS_DIR.glob("*.jsonl")) for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["id"] in keep]
    (data / "batch-1.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"

    done = run("--data", str(data), "--out", str(out), "--epochs", "0.5")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "metrics.json").read_text())
    for split in ("dev", "test"):
        for when in ("before", "after"):
            assert report[when][split]["n_misconceptions"] == 1
            assert 0.0 <= report[when][split]["recall_says"] <= 1.0
    assert report["data"]["misconceptions"] == {"train": 2, "dev": 1, "test": 1}
    assert "train_grading_judge.py --out" in (out / "MODEL_CARD.md").read_text()
    probs = JudgeModel(out).probabilities([("Random forests are boosting.", "A random forest is bagging.")])
    assert probs.shape == (1, 3) and abs(float(probs.sum()) - 1.0) < 1e-3


def test_a_bad_data_folder_is_one_line(tmp_path):
    done = run("--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"error: no misconception sentences in {tmp_path}; expected *.jsonl files"]
    (tmp_path / "bad.jsonl").write_text('{"id": "x"}\n')
    done = run("--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "missing or malformed field" in done.stderr
