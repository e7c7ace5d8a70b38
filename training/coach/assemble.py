"""Assemble the coaching model's training set: join the written targets to their inputs, check every
target with the judgement model, and write training/coach/data/examples.jsonl (the kept examples, each
with its split, task and chat messages) plus check_report.json (how many were kept, per task).

Run after writing new targets in training/coach/data/written/; `make train-coach-model` reads the
result. The check needs the embedder and the trained judge, not the chat model.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from interview_coach.coaching import Fact, critique_messages, follow_up_messages
from interview_coach.critique import no_praise_for_gaps
from interview_coach.embeddings import load_embeddings
from interview_coach.judge import load_judge
from interview_coach.prompts import render
from interview_coach.settings import Settings
from interview_coach.verification import verify

DATA = Path(__file__).parent / "data"
NOT_COVERED = "The notes do not cover this."
FOLLOW_UP_MAX_WORDS = 30


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def written(prefix: str) -> dict[str, dict]:
    out = {}
    for path in sorted((DATA / "written").glob(f"{prefix}_*.jsonl")):
        for row in read(path):
            out[row["id"]] = row
    return out


def answer_examples(judge) -> tuple[list[dict], Counter]:
    targets, counts, out = written("answers"), Counter(), []
    for row in tqdm(read(DATA / "answer_inputs.jsonl"), desc="checking answers", mininterval=5):
        target = (targets.get(row["id"]) or {}).get("answer", "").strip()
        if not target:
            counts["unwritten"] += 1
            continue
        if target != NOT_COVERED:
            checks = verify(target, [s["text"] for s in row["sources"]], judge, question=row["question"])
            if not checks or not all(c.supported for c in checks):
                counts["dropped"] += 1
                continue
        counts["kept"] += 1
        messages = render("answer", question=row["question"], sources=row["sources"])
        out.append({"id": row["id"], "question_id": row["id"], "split": row["split"], "task": "answer",
                    "messages": [asdict(m) for m in messages], "target": target})
    return out, counts


def critique_examples(judge) -> tuple[list[dict], Counter, Counter]:
    targets, critiques, follow_ups, out = written("critiques"), Counter(), Counter(), []
    for row in tqdm(read(DATA / "critique_inputs.jsonl"), desc="checking critiques", mininterval=5):
        target = targets.get(row["id"]) or {}
        facts = [Fact(**f) for f in row["facts"]]
        base = {"question_id": row["question_id"], "split": row["split"]}
        critique = (target.get("critique") or "").strip()
        if not critique:
            critiques["unwritten"] += 1
        else:
            checks = verify(critique, [f.text for f in facts], judge, question=row["question"])
            no_praise_for_gaps(checks, facts)
            if checks and all(c.supported for c in checks):
                critiques["kept"] += 1
                messages = critique_messages(row["question"], row["score"], facts)
                out.append({**base, "id": row["id"] + "-critique", "task": "critique",
                             "messages": [asdict(m) for m in messages], "target": critique})
            else:
                critiques["dropped"] += 1
        follow_up = " ".join((target.get("follow_up") or "").split())
        if not follow_up:
            follow_ups["unwritten"] += 1
        elif follow_up.endswith("?") and len(follow_up.split()) <= FOLLOW_UP_MAX_WORDS:
            follow_ups["kept"] += 1
            messages = follow_up_messages(row["question"], row["answer"], row["weak_point"])
            out.append({**base, "id": row["id"] + "-follow-up", "task": "follow_up",
                        "messages": [asdict(m) for m in messages], "target": follow_up})
        else:
            follow_ups["dropped"] += 1
    return out, critiques, follow_ups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", default="model", help="the judge that checks targets (default: our trained model)")
    args = parser.parse_args()
    settings = Settings.load(judge=args.judge)
    embeddings = load_embeddings(settings)
    judge = load_judge(settings, embeddings=embeddings)
    answers, answer_counts = answer_examples(judge)
    critiques, critique_counts, follow_up_counts = critique_examples(judge)
    examples = answers + critiques
    (DATA / "examples.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples),
                                         encoding="utf-8")
    report = {"judge": args.judge, "answer": dict(answer_counts), "critique": dict(critique_counts),
              "follow_up": dict(follow_up_counts),
              "examples": dict(Counter(f"{e['task']}:{e['split']}" for e in examples))}
    (DATA / "check_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
