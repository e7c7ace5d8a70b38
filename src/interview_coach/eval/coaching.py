"""Coaching suite: the chat model's own work on questions it was never trained on, adapted vs base.

- `coach ask` on held-out bank questions (the coaching split's test questions) and on questions written
  independently of the training data (eval/datasets/coaching_questions.jsonl): how often the model's own
  verified answer is shown, faithfulness of what is shown, how often it answers the question, latency.
- Critiques and follow-ups for the graded answers to held-out questions: the share of model-written
  critique sentences kept after verification, and how often its follow-up is asked.
- Generation speed with and without the adapter.

"Answers the question" is a proxy: the shown answer cites a chunk of a note that answers the question and
is close to the question (cosine >= ANSWERS_COSINE, fixed before any measurement). Training lives in
training/; the coaching logic in answering.py and critique.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..coaching import coach_split
from ..embeddings import embed_array
from ..verification import CITATION
from .data import DATASETS_DIR
from .stats import bootstrap_ci, mean, percentile

QUESTIONS_FILE = DATASETS_DIR / "coaching_questions.jsonl"
GRADED_FILE = DATASETS_DIR / "graded_answers.jsonl"
ANSWERS_COSINE = 0.4
SPEED_PROMPT = "Explain, in about one hundred words, how gradient descent trains a neural network."
TARGETS = {"shown_by_model": 0.60, "shown_faithfulness": 0.95, "answers_question": 0.90,
           "critique_sentences_kept": 0.70, "ask_p50_s": 3.0, "first_token_p50_s": 1.0, "speed_ratio": 0.9}


@dataclass(frozen=True)
class HeldOutQuestion:
    question: str
    notes: tuple[str, ...]
    origin: str          # "bank-test" | "independent"


def held_out_questions(corpus, path: Path = QUESTIONS_FILE) -> list[HeldOutQuestion]:
    out = [HeldOutQuestion(q.question, tuple(q.notes), "bank-test") for q in corpus.questions
           if coach_split(q.id) == "test"]
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append(HeldOutQuestion(row["question"], tuple(row["notes"]), "independent"))
    return out


def held_out_answers(path: Path = GRADED_FILE) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if coach_split(r["question_id"]) == "test"]


def _plain(text: str) -> str:
    return " ".join(CITATION.sub("", text).split())


def _answers(coach, item: HeldOutQuestion, answer) -> bool:
    cited = {answer.sources[n - 1].chunk.doc_id for s in answer.sentences if s.supported for n in s.citations
             if 0 < n <= len(answer.sources)}
    if not cited & set(item.notes) or not answer.answer.strip():
        return False
    vectors = embed_array(coach.embeddings, [_plain(answer.answer), item.question])
    return float(vectors[0] @ vectors[1]) >= ANSWERS_COSINE


def ask_metrics(coach, items: list[HeldOutQuestion], progress=None, desc: str = "") -> tuple[dict, list]:
    rows = []
    if not items:
        return {"n": 0}, rows
    coach.ask(items[0].question)  # warm-up: loads the model; not timed
    for item in (progress(items, desc=desc) if progress else items):
        first: list[float] = []
        start = time.perf_counter()
        answer = coach.ask(item.question, on_token=lambda _: first or first.append(time.perf_counter()))
        seconds = time.perf_counter() - start
        rows.append({"question": item.question, "origin": item.origin, "by_model": not answer.fallback,
                     "faithfulness": answer.faithfulness, "answers": _answers(coach, item, answer),
                     "seconds": seconds, "first_token_s": (first[0] - start) if first else seconds,
                     "answer": answer.answer, "model_answer": answer.model_answer})
    metrics = _summarise(rows, ("by_model", "faithfulness", "answers"))
    metrics.update(ask_p50_s=round(percentile([r["seconds"] for r in rows], 50), 2),
                   first_token_p50_s=round(percentile([r["first_token_s"] for r in rows], 50), 2))
    for origin in ("bank-test", "independent"):
        part = [r for r in rows if r["origin"] == origin]
        if part:
            metrics[origin] = _summarise(part, ("by_model", "faithfulness", "answers"))
    return metrics, rows


def _summarise(rows: list[dict], keys: tuple[str, ...]) -> dict:
    columns = {k: [float(r[k]) for r in rows] for k in keys}
    cis = bootstrap_ci(columns)
    names = {"by_model": "shown_by_model", "faithfulness": "shown_faithfulness", "answers": "answers_question"}
    out = {"n": len(rows)}
    for k in keys:
        out[names.get(k, k)] = round(mean(columns[k]), 3)
        out[names.get(k, k) + "_ci"] = [round(v, 3) for v in cis[k]]
    return out


def critique_metrics(coach, answers: list[dict], progress=None, desc: str = "") -> tuple[dict, list]:
    rows = []
    for r in (progress(answers, desc=desc) if progress else answers):
        grade = coach.grade(r["question_id"], r["answer"])
        written = coach.coaching.critique(grade)
        follow = coach.coaching.follow_up(grade, r["answer"])
        rows.append({"question_id": r["question_id"], "level": r.get("level", ""), "written": len(written.sentences),
                     "kept": written.kept, "by_model": written.by_model, "critique": written.model_text,
                     "follow_up_by_model": follow.by_model, "follow_up": follow.model_text,
                     "follow_up_rejected": follow.rejected})
    if not rows:
        return {"n": 0}, rows
    written = sum(r["written"] for r in rows)
    kept_share = [r["kept"] / r["written"] for r in rows if r["written"]]
    return {"n": len(rows), "critique_sentences_written": written,
            "critique_sentences_kept": round(sum(r["kept"] for r in rows) / written, 3) if written else 0.0,
            "critique_sentences_kept_ci": [round(v, 3) for v in bootstrap_ci({"k": kept_share})["k"]],
            "critique_shown_by_model": round(mean([float(r["by_model"]) for r in rows]), 3),
            "follow_up_by_model": round(mean([float(r["follow_up_by_model"]) for r in rows]), 3)}, rows


def _generation_rate(chat_model, tokens: int) -> float | None:
    """Tokens a second after the first token, one generation. On llama.cpp the end of text is banned, so
    every model writes exactly `tokens` tokens and the adapter's cost is compared on equal work."""
    from ..llm import Message

    pieces, first = 0, None
    llama = chat_model.llama() if hasattr(chat_model, "llama") else None
    if llama is not None:
        stream = (c["choices"][0]["text"] for c in llama.create_completion(
            SPEED_PROMPT, max_tokens=tokens, temperature=0.0, top_k=1, stream=True,
            logit_bias={llama.token_eos(): -100.0}))
    else:
        stream = chat_model.stream([Message("user", SPEED_PROMPT)], max_tokens=tokens)
    for _ in stream:
        pieces += 1
        first = first or time.perf_counter()
    return (pieces - 1) / (time.perf_counter() - first) if first and pieces > 1 else None


def interleaved_tokens_per_second(models: dict, rounds: int = 6, tokens: int = 128) -> dict[str, float]:
    """Median speed of each model over `rounds` rounds that take turns, so a slow spell of the machine
    hits every model alike (measured one after the other, the same two models ranged 0.83-0.93x)."""
    rates: dict[str, list[float]] = {name: [] for name in models}
    for turn in range(rounds + 1):  # the first round loads and warms up
        for name, chat_model in models.items():
            rate = _generation_rate(chat_model, tokens)
            if turn and rate:
                rates[name].append(rate)
    return {name: round(sorted(r)[len(r) // 2], 1) if r else 0.0 for name, r in rates.items()}


def base_coach(coach):
    """The same coach with the base model (no adapter): same index, embedder, judge and corpus."""
    from ..coach import Coach

    return Coach(replace(coach.settings, llm_adapter="none"), embeddings=coach.embeddings, judge=coach.judge,
                 corpus=coach.corpus)


def evaluate_coaching(coach, progress: Callable | None = None, limit: int | None = None) -> tuple[dict, dict]:
    from .data import spread

    # Only what this corpus can answer: a user's own corpus has other notes and questions.
    notes = {d.id for d in coach.corpus.documents}
    bank = {q.id for q in coach.corpus.questions}
    questions = [q for q in held_out_questions(coach.corpus) if set(q.notes) & notes]
    answers = [r for r in held_out_answers() if r["question_id"] in bank]
    if limit:
        questions, answers = spread(questions, limit), spread(answers, limit)
    metrics, details = {"questions": len(questions), "answers": len(answers)}, {}
    if not questions and not answers:
        metrics["note"] = "no held-out question or graded answer belongs to this corpus: nothing to measure"
        return metrics, details
    models = {"adapted": coach}
    if coach.settings.llm_backend == "llamacpp" and not coach.settings.llm_model and \
            coach.settings.llm_adapter.lower() != "none":
        models["base"] = base_coach(coach)
    for name, c in models.items():
        ask, ask_rows = ask_metrics(c, questions, progress, f"coaching ({name}: ask)")
        crit, crit_rows = critique_metrics(c, answers, progress, f"coaching ({name}: critique)")
        metrics[name] = {"ask": ask, "critique": crit}
        details[name] = {"ask": ask_rows, "critique": crit_rows}
    speeds = interleaved_tokens_per_second({name: c.chat_model for name, c in models.items()})
    for name, speed in speeds.items():
        metrics[name]["tokens_per_s"] = speed
    if speeds.get("base"):
        metrics["speed_ratio"] = round(speeds["adapted"] / speeds["base"], 3)
    metrics["targets"] = TARGETS
    metrics["targets_not_met"] = targets_not_met(metrics)
    return metrics, details


def targets_not_met(metrics: dict) -> list[str]:
    a = metrics.get("adapted", {})
    ask, crit = a.get("ask", {}), a.get("critique", {})
    checks = {"shown_by_model": ask.get("shown_by_model", 0) >= TARGETS["shown_by_model"],
              "shown_faithfulness": ask.get("shown_faithfulness", 0) >= TARGETS["shown_faithfulness"],
              "answers_question": ask.get("answers_question", 0) >= TARGETS["answers_question"],
              "critique_sentences_kept": crit.get("critique_sentences_kept", 0) >= TARGETS["critique_sentences_kept"],
              "ask_p50_s": ask.get("ask_p50_s", 99) <= TARGETS["ask_p50_s"],
              "first_token_p50_s": ask.get("first_token_p50_s", 99) <= TARGETS["first_token_p50_s"]}
    if "speed_ratio" in metrics:
        checks["speed_ratio"] = metrics["speed_ratio"] >= TARGETS["speed_ratio"]
    return [name for name, ok in checks.items() if not ok]
