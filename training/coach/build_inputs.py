"""Build the inputs the coaching model's targets are written for (training/coach/data/*_inputs.jsonl).

- answer_inputs.jsonl: every bank question with the numbered source excerpts our retrieval returns for
  it, exactly as the `answer` prompt shows them to the model.
- critique_inputs.jsonl: a question, a candidate answer (the graded answers of eval/datasets plus
  answers assembled from key points and misconceptions), and the numbered facts of its real grade, as the
  `critique` and `follow_up` prompts show them.

Run it after the corpus or retrieval changes (needs an index: `coach ingest`); then write targets for
new inputs. Seeded: the same corpus gives the same file.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from interview_coach.answering import without_injections
from interview_coach.coach import Coach
from interview_coach.coaching import coach_split, grade_facts, weakest_point
from interview_coach.extractive import excerpts
from interview_coach.settings import Settings

DATA = Path(__file__).parent / "data"
GRADED = Path(__file__).parents[2] / "eval" / "datasets" / "graded_answers.jsonl"
SYNTHETIC_PER_QUESTION = 1


def answer_inputs(coach: Coach) -> list[dict]:
    rows = []
    for q in tqdm(coach.corpus.questions, desc="retrieving"):
        sources = coach.answerer.retrieve(q.question)
        texts = [without_injections(s.chunk.text)[0] for s in sources]
        cut = excerpts(coach.embeddings, q.question, texts, coach.settings.source_excerpt_chars)
        rows.append({"id": q.id, "split": coach_split(q.id), "question": q.question,
                     "sources": [{"n": s.n, "title": s.chunk.title, "text": t} for s, t in zip(sources, cut)]})
    return rows


def candidate_answers(coach: Coach, rng: random.Random) -> list[dict]:
    """(question id, answer, origin): the graded answers, plus some assembled from key points and a
    misconception so the critique data sees every kind of grade."""
    out = []
    for line in GRADED.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append({"question_id": r["question_id"], "answer": r["answer"], "origin": f"graded:{r['level']}"})
    for q in coach.corpus.questions:
        for _ in range(SYNTHETIC_PER_QUESTION):
            points = list(q.key_points)
            rng.shuffle(points)
            said = points[:rng.choice((1, 1, 2, 3))]
            if q.misconceptions and rng.random() < 0.4:
                said.insert(rng.randrange(len(said) + 1), rng.choice(q.misconceptions).claim)
            out.append({"question_id": q.id, "answer": " ".join(said), "origin": "assembled"})
    return out


def critique_inputs(coach: Coach, rng: random.Random) -> list[dict]:
    rows = []
    for i, c in enumerate(tqdm(candidate_answers(coach, rng), desc="grading")):
        grade = coach.grade(c["question_id"], c["answer"])
        facts = grade_facts(grade)
        if not facts:
            continue
        rows.append({"id": f"c{i:04d}", "question_id": c["question_id"], "split": coach_split(c["question_id"]),
                     "origin": c["origin"], "question": grade.question, "answer": c["answer"],
                     "score": grade.score, "facts": [asdict(f) for f in facts],
                     "weak_point": weakest_point(grade), "bank_follow_up": grade.follow_up or ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("answer", "critique"), help="build one file only")
    args = parser.parse_args()
    coach = Coach(Settings.load())
    DATA.mkdir(parents=True, exist_ok=True)
    builds = {"answer": lambda: answer_inputs(coach), "critique": lambda: critique_inputs(coach, random.Random(14))}
    for name, build in builds.items():
        if args.only and args.only != name:
            continue
        rows = build()
        path = DATA / f"{name}_inputs.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{path}: {len(rows)} rows")


if __name__ == "__main__":
    main()
