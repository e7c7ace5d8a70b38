"""Faithfulness suite: answer bank questions closed-book, with retrieval and verified; count supported sentences.
Leaves out the judge's own accuracy on labelled claims, which the judge suite (judge.py) measures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..judge import Reason
from .data import spread
from .stats import bootstrap_ci, mean

MODES = ("closed_book", "rag", "verified")
MODE_LABELS = {"closed_book": "closed-book (model alone)", "rag": "with retrieval (model's answer)",
               "verified": "retrieval + verification (shown)"}
MAX_EXAMPLES = 3  # hallucinated sentences shown per mode


def faithfulness_questions(corpus, question_ids: Sequence[str], limit: int | None = None) -> list:
    """The fixed question set: the bank questions whose ids are given (the graded answers' questions),
    in that order; if none is in this corpus (a user's own bank), its first questions."""
    wanted = list(dict.fromkeys(question_ids))
    by_id = {q.id: q for q in corpus.questions}
    chosen = [by_id[i] for i in wanted if i in by_id] or list(corpus.questions)[:8]
    return spread(chosen, limit) if limit else chosen


@dataclass
class ModeAnswer:
    """One answer in one mode, reduced to what the suite scores."""
    question_id: str
    question: str
    sentences: list              # [(text, supported, evidence, reason, score)]
    fallback: bool = False

    @property
    def faithfulness(self) -> float | None:
        if not self.sentences:
            return None
        return sum(s[1] for s in self.sentences) / len(self.sentences)


def _content_supported(check) -> bool:
    # Supported by ANY retrieved source, cited or not.
    return bool(check.content_supported)


def _content_reason(check) -> str:
    # A strict check's reason may be about citations; in the content modes what matters is the notes.
    if check.code in (Reason.NO_CITATION, Reason.INVALID_CITATION) or not check.reason:
        return "no retrieved note supports it"
    return check.reason


def _reduce(checks, supported: Callable, strict: bool = False) -> list:
    out = []
    for c in checks:
        ok = supported(c)
        reason = "" if ok else (c.reason if strict else _content_reason(c))
        out.append((c.text, ok, c.evidence, reason, float(c.score)))
    return out


def modes_from_answers(question, rag, closed) -> dict[str, ModeAnswer]:
    """The three modes from one retrieval answer and one closed-book answer (answering.Answer)."""
    return {
        # The model alone, its sentences checked against the notes retrieved for the question.
        "closed_book": ModeAnswer(question.id, question.question, _reduce(closed.model_sentences, _content_supported)),
        # The model's own answer with the notes in the prompt, before any fallback; citation not required.
        "rag": ModeAnswer(question.id, question.question, _reduce(rag.model_sentences, _content_supported)),
        # What the user is shown: strict support with a valid citation, after the extractive fallback.
        "verified": ModeAnswer(question.id, question.question, _reduce(rag.sentences, lambda c: c.supported, strict=True),
                               fallback=bool(rag.fallback)),
    }


def summarise_mode(answers: Sequence[ModeAnswer]) -> dict:
    scored = [a for a in answers if a.sentences]
    faith = [a.faithfulness for a in scored]
    hallucinated = [float(any(not s[1] for s in a.sentences)) for a in scored]
    ci = bootstrap_ci({"faithfulness": faith, "hallucination_rate": hallucinated})
    examples, seen = [], set()
    for a in answers:
        for text, supported, evidence, reason, score in a.sentences:
            # A small model repeats itself; show distinct sentences, one per question at most.
            if not supported and len(examples) < MAX_EXAMPLES and text not in seen and a.question_id not in seen:
                seen.update((text, a.question_id))
                examples.append({"question_id": a.question_id, "question": a.question, "sentence": text,
                                 "evidence": evidence, "reason": reason, "score": round(score, 4)})
    return {
        "faithfulness": round(mean(faith), 4),
        "hallucination_rate": round(mean(hallucinated), 4),
        "ci": {k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in ci.items()},
        "n": len(answers),
        "empty": len(answers) - len(scored),
        "sentences": sum(len(a.sentences) for a in answers),
        "unsupported_sentences": sum(not s[1] for a in answers for s in a.sentences),
        "fallback_rate": round(mean([float(a.fallback) for a in answers]), 4),
        "examples": examples,
    }


def evaluate_faithfulness(coach, questions: Sequence, progress: Callable | None = None) -> tuple[dict, dict]:
    """Two coach.ask calls per question (retrieval, closed-book) give all three modes.
    Returns ({mode: metrics}, details with each answer's sentences)."""
    per_mode: dict[str, list[ModeAnswer]] = {m: [] for m in MODES}
    for q in (progress(questions, desc="faithfulness (ask)") if progress else questions):
        rag = coach.ask(q.question)
        closed = coach.ask(q.question, closed_book=True)
        for mode, answer in modes_from_answers(q, rag, closed).items():
            per_mode[mode].append(answer)
    details = {"questions": [q.id for q in questions],
               "answers": {mode: [{"question_id": a.question_id, "faithfulness": a.faithfulness,
                                   "fallback": a.fallback,
                                   "sentences": [{"text": t, "supported": ok, "evidence": ev, "reason": r}
                                                 for t, ok, ev, r, _ in a.sentences]}
                                  for a in answers] for mode, answers in per_mode.items()}}
    return {mode: summarise_mode(answers) for mode, answers in per_mode.items()}, details
