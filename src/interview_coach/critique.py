"""The parts of a turn the chat model writes: the critique of a graded answer and the follow-up question.

The critique may only say what the grade's numbered facts say (coaching.grade_facts): every sentence is
verified against the facts it cites, unsupported sentences are dropped, and when too few survive the
grader's deterministic feedback is shown instead. The follow-up is checked to be one on-topic question
that does not give the weak point away, else the bank's follow-up is asked. Grading is grading.py's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .coaching import Fact, critique_messages, follow_up_messages, grade_facts, weakest_point
from .embeddings import embed_array
from .judge import Reason
from .settings import Settings
from .text import content_words, split_sentences, stem
from .verification import SentenceCheck, verify, with_citations

FOLLOW_UP_TOKENS = 48
FOLLOW_UP_WORDS = (4, 35)
ON_TOPIC = 0.35      # cosine of the follow-up to the weak point or the question
GIVES_AWAY = 0.8     # share of the weak point's content words a follow-up may not repeat
# Words that credit the candidate. The judge checks what a sentence says, not who it credits, so "You
# correctly explained X [3]" passes against "Missed: X" unless praise must cite a covered point.
PRAISE = re.compile(r"\b(?:correctly|rightly|accurately|well done|good job|nice work|great job)\b"
                    r"|^\W*(?:good|great|nice|excellent)\b"
                    r"|\byou(?:'re| are| were) (?:right|correct)\b"
                    r"|\byou (?:also )?(?:covered|identified|explained|described|got|nailed|noted|defined)\b"
                    r"|\byour\b[^.]*\b(?:is|was|are|were) (?:right|correct|spot on)\b", re.IGNORECASE)
# Words that say the candidate said something: true of a covered point or a mistake, false of a missed one.
ATTRIBUTES = re.compile(r"\byou (?:also )?(?:said|mentioned|stated|noted|explained|described|covered|identified|"
                        r"defined|pointed out|wrote|gave)\b(?! (?:no|nothing|none)\b)", re.IGNORECASE)
# When the grade covers nothing, the model is steered away from the words it praises with (llama.cpp and
# transformers ban them; other backends rely on the check above). Capitalised words are banned only so.
PRAISE_WORDS = ("correctly", "rightly", "accurately", "identified", "Good", "Great", "Excellent", "Nice", "Well")


@dataclass
class WrittenCritique:
    text: str                     # what is shown: the model's kept sentences, or the grader's feedback
    by_model: bool                # True when the model's (verified) sentences are shown
    facts: list[Fact] = field(default_factory=list)
    sentences: list[SentenceCheck] = field(default_factory=list)  # every sentence the model wrote, checked
    model_text: str = ""          # what the model wrote, before checking

    @property
    def kept(self) -> int:
        return sum(s.supported for s in self.sentences)

    def to_dict(self) -> dict:
        return {"text": self.text, "by_model": self.by_model, "model_text": self.model_text,
                "kept": self.kept, "written": len(self.sentences),
                "facts": [{"n": f.n, "kind": f.kind, "text": f.text} for f in self.facts],
                "sentences": [s.to_dict() for s in self.sentences]}


@dataclass
class WrittenFollowUp:
    text: str | None              # the question asked next (None: no follow-up)
    by_model: bool
    model_text: str = ""
    rejected: str = ""            # why the model's question was not used ("" when it was)


class Coaching:
    """Model-written critique and follow-up, each verified before it is shown.
    Collaborators: a chat model, a judge and the embeddings, shared with the rest of the coach."""

    def __init__(self, chat_model, judge, embeddings, critique_tokens: int = Settings.critique_max_tokens):
        self.chat_model = chat_model
        self.judge = judge
        self.embeddings = embeddings
        self.critique_tokens = critique_tokens

    def critique(self, grade, on_token: Callable[[str], None] | None = None) -> WrittenCritique:
        facts = grade_facts(grade)
        if not facts or not grade.answer:
            return WrittenCritique(grade.feedback, False, facts)
        nothing_covered = not any(f.kind == "covered" for f in facts)
        written = self.chat_model.chat(critique_messages(grade.question, grade.score, facts),
                                       max_tokens=self.critique_tokens, on_token=on_token,
                                       avoid=PRAISE_WORDS if nothing_covered else ()).strip()
        checks = verify(written, [f.evidence for f in facts], self.judge, question=grade.question)
        no_praise_for_gaps(checks, facts)
        kept = [c for c in checks if c.supported]
        # Too few survivors means the model mostly said things the grade does not: the grader's words win.
        if not kept or len(kept) * 2 < len(checks):
            return WrittenCritique(grade.feedback, False, facts, checks, written)
        return WrittenCritique(" ".join(with_citations(c.text, c.citations) for c in kept), True, facts, checks, written)

    def follow_up(self, grade, answer: str, on_token: Callable[[str], None] | None = None) -> WrittenFollowUp:
        fallback = grade.follow_up
        if fallback is None:  # the grader decided this answer gets no follow-up (a follow-up's own answer)
            return WrittenFollowUp(None, False)
        weak = weakest_point(grade)
        written = self.chat_model.chat(follow_up_messages(grade.question, answer, weak),
                                       max_tokens=FOLLOW_UP_TOKENS, on_token=on_token).strip()
        question = next((s.strip() for s in split_sentences(written) if s.strip().endswith("?")), "")
        why = self._rejects(question, weak or grade.question, grade.question)
        if why:
            return WrittenFollowUp(fallback, False, written, why)
        return WrittenFollowUp(question, True, written)

    def _rejects(self, question: str, weak: str, asked: str) -> str:
        """Why a written follow-up may not be asked ("" when it may)."""
        if not question:
            return "not a question"
        count = len(question.split())
        if not FOLLOW_UP_WORDS[0] <= count <= FOLLOW_UP_WORDS[1]:
            return "too short or too long"
        vectors = embed_array(self.embeddings, [question, weak, asked])
        if max(float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])) < ON_TOPIC:
            return "off-topic"
        if " ".join(question.lower().split()) == " ".join(asked.lower().split()):
            return "repeats the question"
        point = {stem(w) for w in content_words(weak)}
        said = {stem(w) for w in content_words(question)}
        if len(point) >= 3 and len(point & said) >= GIVES_AWAY * len(point):
            return "gives the answer away"
        return ""


def no_praise_for_gaps(checks: list[SentenceCheck], facts: list[Fact]) -> None:
    """A sentence that credits the candidate must cite at least one covered point, and one that says the
    candidate made a point may not cite only missed ones: either is unsupported, however well its words
    match the fact. Marks such checks in place (training/coach/assemble.py holds the written targets to the
    same rule)."""
    for check in checks:
        if not check.supported:
            continue
        kinds = {facts[n - 1].kind for n in check.citations if 0 < n <= len(facts)}
        if PRAISE.search(check.text) and "covered" not in kinds:
            check.supported, check.code = False, Reason.PRAISES_A_GAP
            check.reason = "credits the candidate with a point the grade says was missed or wrong"
        elif ATTRIBUTES.search(check.text) and kinds and kinds <= {"missed"}:
            check.supported, check.code = False, Reason.PRAISES_A_GAP
            check.reason = "says the candidate made a point the grade says was missed"
