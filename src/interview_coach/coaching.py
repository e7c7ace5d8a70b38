"""What the chat model is told when it coaches: a grade turned into numbered facts (the only things a
critique may say), and the split rule that keeps whole questions out of the coaching model's training.

Generating, verifying and falling back live in critique.py; the prompts themselves in prompts.yaml.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .text import plain

MAX_COVERED = 2
MAX_MISSED = 2
MAX_WRONG = 2
QUOTE_CHARS = 160


@dataclass(frozen=True)
class Fact:
    n: int          # the [n] a critique sentence cites
    kind: str       # "wrong" | "contradicted" | "covered" | "missed" (code branches on these)
    text: str
    # What a sentence citing this fact is verified against, when not the whole text: a covered point
    # without the candidate's words, which show what they said, not what is true ("it doesn't need
    # non-max suppression" must not make "duplicates are removed with NMS" look like a flipped negation).
    basis: str = ""

    @property
    def evidence(self) -> str:
        return self.basis or self.text


def coach_split(question_id: str) -> str:
    """train / dev / test by question id (about 80/10/10), so test questions are never trained on."""
    bucket = int(hashlib.sha1(("coach:" + question_id).encode("utf-8")).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def _quote(text: str) -> str:
    text = " ".join(plain(text or "").split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"


def _sentence(text: str) -> str:
    text = " ".join(plain(text or "").split()).rstrip()
    return text if not text or text[-1] in ".!?" else text + "."


def grade_facts(grade) -> list[Fact]:
    """The grade's findings as numbered facts, most important first: wrong claims, then what the notes
    state otherwise, then covered points (with the candidate's words), then missed points (with the note)."""
    facts: list[tuple[str, ...]] = []  # (kind, text) or (kind, text, basis)
    for w in grade.wrong[:MAX_WRONG]:
        facts.append(("wrong", f'The candidate said "{_quote(w.sentence)}", which is a common mistake. '
                               f"Correct: {_sentence(w.excerpt)}"))
    for c in grade.check_this[:1]:
        facts.append(("contradicted", f'The candidate said "{_quote(c.sentence)}", but the notes say: '
                                      f"{_sentence(c.excerpt)}"))
    for p in grade.covered[:MAX_COVERED]:
        point = _sentence(p.point)
        evidence = f' (the candidate said: "{_quote(p.evidence)}")' if p.evidence else ""
        facts.append(("covered", f"Covered: {point[:-1]}{evidence}.", f"Covered: {point}"))
    for p in grade.missed[:MAX_MISSED]:
        note = f" The notes say: {_sentence(p.excerpt)}" if p.excerpt else ""
        facts.append(("missed", f"Missed: {_sentence(p.point)}{note}"))
    return [Fact(n, *fact) for n, fact in enumerate(facts, 1)]


def weakest_point(grade) -> str:
    """What a follow-up should probe: the first missed point, else the first wrong claim's correction."""
    if grade.missed:
        return _sentence(grade.missed[0].point)
    if grade.wrong:
        return _sentence(grade.wrong[0].excerpt)
    return ""


# -- the messages each coaching job sends: training (training/train_coach_model.py) and the coach use
# these same functions, so the model is trained on exactly the prompts it is later given.
ANSWER_WORDS = 60  # a candidate's answer is cut to this many words in the follow-up prompt


def critique_messages(question: str, score: int, facts: list[Fact]):
    from .prompts import render

    return render("critique", question=question, score=score, facts=facts)


def follow_up_messages(question: str, answer: str, weak_point: str):
    from .prompts import render

    said = " ".join(plain(answer or "").split())
    cut = said.split(" ")
    if len(cut) > ANSWER_WORDS:
        said = " ".join(cut[:ANSWER_WORDS]) + " …"
    return render("follow_up", question=question, answer=said or "(no answer)",
                  weak_point=weak_point or "a deeper aspect of the question")
