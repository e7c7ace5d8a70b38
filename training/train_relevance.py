"""Fit the relevance head that picks the extractive answer's sentences (src/interview_coach/relevance.py).

For every bank question, the sources our retrieval returns are cut into the whole sentences an extractive
answer may quote (`extractive.candidates`). A sentence *answers* the question when it states one of the
question's hand-written key points: at least LABEL_SHARE of the key point's content words (stemmed) are in
it. A logistic regression over `relevance.features` learns to rank such sentences first.

Splits are by question (`coaching.coach_split`, the coaching model's split). The regularisation is
chosen on dev: the best precision among the heads whose answers stay as close to the question as the old
ranker's (`coach eval coaching`'s "answers the question" cosine), and the test questions are only scored, against the cosine-and-words
relevance the fallback used before. Writes src/interview_coach/models/relevance/: head.json and
MODEL_CARD.md. About two minutes on 2 CPU cores; needs an index (`coach ingest`).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from interview_coach.answering import without_injections
from interview_coach.coach import Coach
from interview_coach.coaching import coach_split
from interview_coach.embeddings import embed_array
from interview_coach.eval.coaching import ANSWERS_COSINE
from interview_coach.eval.stats import bootstrap_ci
from interview_coach.extractive import EXTRACTIVE_SENTENCES, SOURCE_BONUS, candidates, relevance
from interview_coach.relevance import FEATURES, RelevanceHead, features
from interview_coach.resources import relevance_head_file
from interview_coach.settings import Settings
from interview_coach.text import content_words, stem

LABEL_SHARE = 0.5
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
SEED = 15


@dataclass
class Question:
    id: str
    split: str
    question: str
    key_points: list[str]
    sentences: list[str]  # the candidates
    rows: object          # relevance.features, one row per candidate
    baseline: object      # the old relevance score of each candidate
    labels: list[int]     # 1 = states a key point
    covers: list[set]     # which key points each candidate states


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def states(sentence: str, key_point: str) -> bool:
    point = stems(key_point)
    return bool(point) and len(point & stems(sentence)) / len(point) >= LABEL_SHARE


def build(coach: Coach, limit: int | None = None) -> list[Question]:
    import numpy as np

    out = []
    for q in tqdm(coach.corpus.questions[:limit], desc="questions"):
        hits = coach.search(q.question, k=coach.settings.answer_sources)  # what Answerer.retrieve returns
        numbered = [(n, without_injections(hit.chunk.text)[0]) for n, hit in enumerate(hits, 1)]
        found = candidates(numbered)
        if len(found) <= EXTRACTIVE_SENTENCES:
            continue  # nothing to choose
        covers = [{k for k, point in enumerate(q.key_points) if states(c.text, point)} for c in found]
        baseline = relevance(coach.embeddings, q.question, [c.text for c in found]) + \
            np.array([SOURCE_BONUS * (len(numbered) - c.source) for c in found])
        out.append(Question(q.id, coach_split(q.id), q.question, list(q.key_points), [c.text for c in found],
                            features(coach.embeddings, q.question, found), baseline,
                            [int(bool(c)) for c in covers], covers))
    return out


def picked(scores) -> list[int]:
    import numpy as np

    return list(np.argsort(-np.asarray(scores))[:EXTRACTIVE_SENTENCES])


def per_question(questions: list[Question], score, embeddings) -> dict[str, list[float]]:
    """precision: share of the picked sentences that state a key point; key points: share of the question's
    key points stated by a picked sentence; any: a picked sentence states one; close: the picked sentences
    together are as close to the question as `coach eval coaching` asks of an answer."""
    out = {"precision": [], "key_points": [], "any": [], "close": []}
    for q in questions:
        top = picked(score(q))
        out["precision"].append(sum(q.labels[i] for i in top) / len(top))
        stated = set().union(*(q.covers[i] for i in top))
        out["key_points"].append(len(stated) / max(1, len(q.key_points)))
        out["any"].append(float(bool(stated)))
        vectors = embed_array(embeddings, [" ".join(q.sentences[i] for i in sorted(top)), q.question])
        out["close"].append(float(vectors[0] @ vectors[1] >= ANSWERS_COSINE))
    return out


def summary(columns: dict[str, list[float]]) -> dict:
    cis = bootstrap_ci(columns)
    return {name: {"mean": round(sum(v) / len(v), 3), "ci": [round(x, 3) for x in cis[name]]}
            for name, v in columns.items()}


def fit(questions: list[Question], c: float) -> RelevanceHead:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([q.rows for q in questions])
    y = np.concatenate([q.labels for q in questions])
    model = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(x, y)
    return RelevanceHead(tuple(round(float(w), 6) for w in model.coef_[0]), round(float(model.intercept_[0]), 6))


def head_scores(head: RelevanceHead):
    import numpy as np

    return lambda q: q.rows @ np.asarray(head.weights) + head.bias


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=relevance_head_file().parent,
                        help="folder for head.json and MODEL_CARD.md (default: the package's)")
    parser.add_argument("--limit", type=int, help="the first N bank questions only (smoke tests)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    coach = Coach(Settings.load())
    if not coach.index.all_chunks():
        coach.ingest()
    questions = build(coach, args.limit)
    split = {name: [q for q in questions if q.split == name] for name in ("train", "dev", "test")}
    if not all(split.values()):
        raise SystemExit(f"every split needs questions, got {({k: len(v) for k, v in split.items()})}: "
                         "use more of the bank (a larger --limit)")
    print("questions:", {k: len(v) for k, v in split.items()},
          "candidates:", sum(len(q.labels) for q in questions), "answering:", sum(sum(q.labels) for q in questions))

    def mean(values):
        return sum(values) / len(values)

    before = mean(per_question(split["dev"], lambda q: q.baseline, coach.embeddings)["close"])
    choices = []
    for c in C_GRID:
        head = fit(split["train"], c)
        dev = per_question(split["dev"], head_scores(head), coach.embeddings)
        choices.append((mean(dev["close"]) >= before, mean(dev["precision"]), -c, head))
        print(f"C={c}: dev precision@{EXTRACTIVE_SENTENCES} {mean(dev['precision']):.3f}, "
              f"close to the question {mean(dev['close']):.3f} (before {before:.3f})")
    *_, head = max(choices, key=lambda t: t[:3])  # ties: the stronger regularisation
    c = C_GRID[[choice[3] for choice in choices].index(head)]

    metrics = {}
    for name in ("dev", "test"):
        metrics[name] = {"questions": len(split[name]),
                         "head": summary(per_question(split[name], head_scores(head), coach.embeddings)),
                         "cosine_and_words": summary(per_question(split[name], lambda q: q.baseline,
                                                                  coach.embeddings))}
    args.out.mkdir(parents=True, exist_ok=True)
    record = {**head.to_dict(), "features": list(FEATURES), "C": c, "label_share": LABEL_SHARE, "seed": SEED, "metrics": metrics,
              "minutes": round((time.perf_counter() - start) / 60, 1)}
    (args.out / "head.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    (args.out / "MODEL_CARD.md").write_text(model_card(record, split), encoding="utf-8")
    print(json.dumps({"C": c, **metrics}, indent=1))
    print(f"wrote {args.out / 'head.json'}")


def model_card(record: dict, split: dict) -> str:
    def row(name: str, which: str) -> str:
        m = record["metrics"][name][which]
        return " | ".join(f"{m[k]['mean']:.3f} ({m[k]['ci'][0]:.3f}-{m[k]['ci'][1]:.3f})"
                          for k in ("precision", "key_points", "any", "close"))

    lines = [
        "# Interview Coach relevance head",
        "",
        "Ranks the whole sentences of the retrieved notes by how well they answer a question; the extractive",
        f"answer (`coach ask` when the model's answer does not hold up) quotes the top {EXTRACTIVE_SENTENCES}.",
        "",
        f"- **Model:** a logistic regression over {len(FEATURES)} features of each (question, sentence) pair "
        f"({', '.join(FEATURES)}); `src/interview_coach/relevance.py`.",
        "  Tried and not kept, as they did worse on dev: the element-wise product of the two MiniLM embeddings "
        "(384 more features, raw or standardised), our judgement model's probabilities for (sentence, question), "
        "and a pairwise ranking loss.",
        "- **Data:** every bank question's retrieved sources, cut into candidate sentences; a sentence answers "
        f"the question when it holds at least {LABEL_SHARE:.0%} of one hand-written key point's content words.",
        "- **Splits, by question** (`coaching.coach_split`): "
        + ", ".join(f"{k} {len(v)}" for k, v in split.items())
        + f" questions. The regularisation (C = {record['C']}) was chosen on dev (the best precision among heads whose "
        "answers stay as close to the question as before); test was only scored.",
        f"- **Training:** `python training/train_relevance.py` (seed {record['seed']}, {record['minutes']} minutes on 2 CPU cores).",
        "",
        f"## Metrics (top {EXTRACTIVE_SENTENCES} sentences; 95% bootstrap CIs over questions)",
        "",
        ("| split | ranker | precision (picked sentences that state a key point) | key points stated "
         f"| any key point stated | close to the question (cosine >= {ANSWERS_COSINE}) |"),
        "|---|---|---|---|---|---|",
    ]
    for name in ("dev", "test"):
        lines.append(f"| {name} | head | {row(name, 'head')} |")
        lines.append(f"| {name} | cosine + question words (before) | {row(name, 'cosine_and_words')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
