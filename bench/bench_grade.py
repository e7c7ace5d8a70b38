"""Benchmark grading latency without the LLM on the labelled graded answers; prints numbers, asserts nothing.

Cold = the first answer to each question (its note sentences are embedded then); warm = later answers.

Usage: .venv/bin/python bench/bench_grade.py [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

from interview_coach.coach import Coach  # noqa: E402
from interview_coach.settings import Settings  # noqa: E402

DATASET = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "graded_answers.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data directory with (or for) the bundled index; default a temp dir")
    args = parser.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-grade-"))
    coach = Coach(Settings.load({}, home=home))
    coach.ingest()
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    coach.grade(rows[0]["question_id"], "warm-up answer about nothing in particular")  # load models once

    cold, warm, seen = [], [], set()
    for row in rows:
        start = time.perf_counter()
        coach.grade(row["question_id"], row["answer"])
        (warm if row["question_id"] in seen else cold).append(time.perf_counter() - start)
        seen.add(row["question_id"])
    every = cold + warm
    print(f"grading {len(every)} answers without the LLM: p50 {statistics.median(every) * 1000:.0f} ms, "
          f"p95 {sorted(every)[int(0.95 * (len(every) - 1))] * 1000:.0f} ms")
    print(f"  first answer per question (cold cache): p50 {statistics.median(cold) * 1000:.0f} ms; "
          f"later answers: p50 {statistics.median(warm) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
