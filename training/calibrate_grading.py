"""Fit the grading calibration on the dev split of eval/datasets/graded_answers.jsonl and report the test split.

What is fitted (and written to src/interview_coach/models/grading/calibration.json):
- the coverage -> score curve: monotone, piecewise linear from (0, 0), least squares against the reference
  scores of the dev answers without a central error (strong, brief, partial);
- P(central error): a logistic regression on Measures.wrongness_features() (share of claims the notes
  state otherwise, and how much closer the answer is to a listed misconception than to its correction),
  wrong vs strong/brief/partial dev answers;
- how much of the score that probability costs: a small grid, chosen by dev pairwise accuracy, then Spearman.

The split is by question (eval.data.grading_split), so no test question is seen while fitting. The test
figures printed at the end are the ones to report; `coach eval grading` prints the same.

    .venv/bin/python training/calibrate_grading.py [--dry-run] [--model-coverage]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

KNOTS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
FIT_LEVELS = ("strong", "brief", "partial")
PENALTY_GRID = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def fit_curve(coverage: np.ndarray, reference: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Monotone piecewise-linear least squares through (0, 0): non-negative slopes between KNOTS."""
    from scipy.optimize import nnls

    columns = [np.clip(coverage - a, 0.0, b - a) for a, b in zip(KNOTS, KNOTS[1:])]
    slopes, _ = nnls(np.stack(columns, axis=1), reference)
    scores = [0.0]
    for slope, (a, b) in zip(slopes, zip(KNOTS, KNOTS[1:])):
        scores.append(scores[-1] + slope * (b - a))
    return KNOTS, tuple(round(float(min(100.0, s)), 2) for s in scores)


def fit_wrongness(features: np.ndarray, is_wrong: np.ndarray) -> tuple[float, tuple[float, ...]]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0).fit(features, is_wrong)
    return float(model.intercept_[0]), tuple(round(float(w), 4) for w in model.coef_[0])


def flag_rates(rows, measures) -> dict[str, float]:
    """Share of answers per level with a misconception flagged outright (false flags on correct ones)."""
    out = {}
    for level in ("strong", "brief", "partial", "wrong"):
        chosen = [bool(m and m.wrong) for r, m in zip(rows, measures) if r.level == level]
        if chosen:
            out[level] = round(sum(chosen) / len(chosen), 3)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the fit without writing calibration.json")
    parser.add_argument("--model-coverage", action="store_true",
                        help="let the trained judgement model add key-point credit (slower; compare on dev)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from interview_coach.coach import Coach
    from interview_coach.eval.data import load_graded
    from interview_coach.eval.grading import question_bootstrap, score_grades, targets_met
    from interview_coach.grading import Calibration
    from interview_coach.judge_model import GRADING_JUDGE
    from interview_coach.resources import grading_calibration_file
    from interview_coach.settings import Settings

    coach = Coach(Settings.load())
    rows = load_graded()
    dev = [r for r in rows if r.split == "dev"]
    test = [r for r in rows if r.split == "test"]
    print(f"{len(rows)} graded answers: dev {len(dev)} ({len({r.question_id for r in dev})} questions), "
          f"test {len(test)} ({len({r.question_id for r in test})} questions)", file=sys.stderr)

    # The product's own grader, so the fit reads answers with the judges it grades with (the heuristic for
    # sentences, models/grading_judge for misconceptions), whatever COACH_JUDGE says.
    grader = coach.grader
    if grader.support_model is None:
        raise SystemExit(f"the grading judge is missing from {GRADING_JUDGE}; reinstall the package")
    grader.calibration = Calibration((0.0, 1.0), (0.0, 100.0))
    grader.model_coverage = args.model_coverage
    started = time.time()
    measures = {id(r): grader.assess(r.question_id, r.answer)[3] for r in tqdm(rows, desc="measuring")}
    seconds = time.time() - started

    def scores_for(calibration, chosen):
        grader.calibration = calibration
        return [0 if measures[id(r)] is None else grader.score(measures[id(r)])[0] for r in chosen]

    usable = [r for r in dev if measures[id(r)] is not None and not measures[id(r)].off_topic]
    labelled = [r for r in usable if r.level in FIT_LEVELS + ("wrong",)]
    bias, weights = fit_wrongness(np.array([measures[id(r)].wrongness_features() for r in labelled]),
                                  np.array([r.level == "wrong" for r in labelled]))
    fit = [r for r in usable if r.level in FIT_LEVELS]
    wrongness = Calibration(KNOTS, KNOTS, bias, weights).wrongness
    best = None
    for penalty in PENALTY_GRID:
        # The curve is fitted to what the score must be before the penalty, so that correct answers
        # (small P(central error)) still land on their reference score after it.
        kept = np.array([1.0 - penalty * wrongness(measures[id(r)].wrongness_features()) for r in fit])
        knots, curve = fit_curve(np.array([measures[id(r)].coverage for r in fit]),
                                 np.array([r.reference_score for r in fit]) / np.maximum(kept, 0.05))
        calibration = Calibration(knots, curve, bias, weights, penalty)
        metrics = score_grades(dev, scores_for(calibration, dev))
        key = (metrics["pairwise_accuracy"], metrics["spearman"])
        if best is None or key > best[0]:
            best = (key, calibration, metrics)
    _, calibration, dev_metrics = best

    test_scores = scores_for(calibration, test)
    test_metrics = score_grades(test, test_scores)
    test_metrics["ci95"] = question_bootstrap(test, test_scores)
    test_metrics["targets_met"] = targets_met(test_metrics)
    result = {**calibration.to_dict(), "fitted_on": "eval/datasets/graded_answers.jsonl, dev split (by question)",
              "model_coverage": args.model_coverage, "seconds_per_answer": round(seconds / len(rows), 3),
              "misconception_flags": {"dev": flag_rates(dev, [measures[id(r)] for r in dev]),
                                      "test": flag_rates(test, [measures[id(r)] for r in test])},
              "dev": dev_metrics, "test": test_metrics}
    print(json.dumps(result, indent=2))
    if not args.dry_run:
        path = grading_calibration_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
