"""Which rubric an answer is graded against: a bank question's key points and misconceptions, a
follow-up's points from the note section that answers it, or points from the notes' own answers.

Matching an answer to the rubric and scoring are left to grading.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .corpus import Misconception
from .embeddings import embed_array
from .errors import UsageError
from .text import answer_sentences, content_words

# The note sections that state an answer; headings, formulas and pitfall lists are not answers.
ANSWER_SECTIONS = ("Short answer", "Saying it in an interview")
_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.M)


class Against:
    """What a grade was measured against (stored with each grade; code branches on these)."""

    BANK = "bank"                  # the bank question itself
    CLOSEST_BANK = "closest-bank"  # free text close enough to one bank question
    FOLLOW_UP = "follow-up"        # a follow-up: points from its parent question's notes
    NOTES = "notes"                # free text: points from the notes' own answers
    UNCOVERED = "uncovered"        # the notes do not cover the topic: nothing to grade against


@dataclass
class Rubric:
    question: str
    against: str
    points: list[str]
    misconceptions: list[Misconception] = field(default_factory=list)
    question_id: str | None = None  # the bank question (or a follow-up's parent)
    note_ids: list[str] = field(default_factory=list)  # notes to cite first
    follow_ups: list[str] = field(default_factory=list)


def note_sections(body: str) -> dict[str, str]:
    """A note's `## ` sections by heading."""
    parts = _SECTION.split(body)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def answer_claims(text: str) -> list[str]:
    """Sentences of a note section that can be key points: whole statements of six or more words, not
    run-in labels ("Bias vs variance:") or quotes' stage directions."""
    out = []
    for sentence in answer_sentences(text.replace('"', " ")):
        sentence = sentence.strip(" '")
        if len(sentence.split()) >= 6 and not sentence.endswith(":") and len(content_words(sentence)) >= 4:
            out.append(sentence)
    return out


class RubricBuilder:
    """Collaborators: the corpus (bank and notes), the embeddings and the retriever (`search(q, k=)`)."""

    # Cosine at which free text is graded against the closest bank question. Lower finds the bank question
    # more often (eval/datasets/question_paraphrases.jsonl) but grades a short question ("What is PCA?")
    # against a bigger one's key points: strong answers lost 9 points on average (README, session 26).
    CLOSE_QUESTION = 0.75
    # A note sentence must be this close to the question to be a key point; with none, the notes do not cover
    # it. (A separate bar of 0.5 for coverage called "My model gets 98% on validation but does terribly in
    # production" uncovered though a sentence reached 0.45: community dev, session 30.)
    POINT_RELEVANCE = 0.45
    MAX_POINTS = 4
    SIMILAR_POINTS = 0.85   # two candidate points closer than this say the same thing
    RELATED_QUESTION = 0.6  # bank questions this close lend their misconceptions to free text

    def __init__(self, corpus, embeddings, retriever):
        self.corpus = corpus
        self.embeddings = embeddings
        self.retriever = retriever
        self._bank_vectors = None
        self._notes = {d.id: d for d in corpus.notes}

    def bank_matrix(self):
        if self._bank_vectors is None:
            self._bank_vectors = embed_array(self.embeddings, [q.question for q in self.corpus.questions])
        return self._bank_vectors

    def bank_similarities(self, texts: list[str]):
        """(texts, bank questions) cosine matrix: how free text is compared with the bank."""
        return embed_array(self.embeddings, texts) @ self.bank_matrix().T

    def build(self, question: str, parent: str | None = None) -> Rubric:
        question = " ".join((question or "").split())
        if not question:
            raise UsageError("no question given; pass a bank id (see `coach questions`) or the question text")
        bank = self.corpus.question(question)
        if bank is not None:
            return self._from_bank(bank, bank.question, Against.BANK)
        if len(question.split()) == 1 and "-" in question:
            raise UsageError(f"no bank question with id {question!r}; see `coach questions`")
        parent_q = self.corpus.question(parent) if parent else None
        if parent_q is not None:
            if question == parent_q.question:
                return self._from_bank(parent_q, question, Against.BANK)
            rubric = self._from_notes(question, list(parent_q.notes), Against.FOLLOW_UP)
            if rubric.points:
                rubric.question_id = parent_q.id
                return rubric
        sims = self.bank_similarities([question])[0]
        best = int(sims.argmax())
        if sims[best] >= self.CLOSE_QUESTION:
            return self._from_bank(self.corpus.questions[best], question, Against.CLOSEST_BANK)
        note_ids = list(dict.fromkeys(r.chunk.doc_id for r in self.retriever.search(question, k=6)))
        rubric = self._from_notes(question, note_ids[:3], Against.NOTES)
        if not rubric.points:
            return Rubric(question, Against.UNCOVERED, [], note_ids=note_ids[:3])
        related = [self.corpus.questions[i] for i in map(int, (-sims).argsort()[:3])
                   if sims[i] >= self.RELATED_QUESTION and set(self.corpus.questions[i].notes) & set(rubric.note_ids)]
        rubric.misconceptions = [m for q in related for m in q.misconceptions]
        rubric.follow_ups = [f for q in related[:1] for f in q.follow_ups]
        return rubric

    @staticmethod
    def _from_bank(bank, question: str, against: str) -> Rubric:
        return Rubric(question, against, list(bank.key_points), list(bank.misconceptions), bank.id,
                      list(bank.notes), list(bank.follow_ups))

    def _candidates(self, note_ids: list[str], against: str) -> list[tuple[str, str]]:
        """(note id, sentence) pairs that may become key points."""
        out = []
        for note_id in note_ids:
            doc = self._notes.get(note_id)
            if doc is not None:
                sections = note_sections(doc.body)
                # A follow-up is usually answered in the note's body or its pitfalls, not its summary.
                names = list(sections) if against == Against.FOLLOW_UP else ANSWER_SECTIONS
                for name in names:
                    if name in sections and name != "Formulas":
                        out += [(note_id, s) for s in answer_claims(sections[name])]
        if not out:  # the user's own notes: whatever the retriever finds in them
            for r in self.retriever.search(" ".join(note_ids), k=4):
                if r.chunk.doc_id in note_ids and "pitfall" not in r.chunk.heading.lower():
                    out += [(r.chunk.doc_id, s) for s in answer_claims(r.chunk.text)]
        return out

    def _from_notes(self, question: str, note_ids: list[str], against: str) -> Rubric:
        candidates = self._candidates(note_ids, against)
        if not candidates:
            return Rubric(question, against, [], note_ids=note_ids)
        vectors = embed_array(self.embeddings, [s for _, s in candidates] + [question])
        sims = vectors[:-1] @ vectors[-1]
        order = [int(i) for i in (-sims).argsort()]
        chosen: list[int] = []
        for i in order:
            if sims[i] < self.POINT_RELEVANCE or len(chosen) == self.MAX_POINTS:
                break
            if all(float(vectors[i] @ vectors[j]) < self.SIMILAR_POINTS for j in chosen):
                chosen.append(i)
        used = list(dict.fromkeys(candidates[i][0] for i in chosen))
        return Rubric(question, against, [candidates[i][1] for i in chosen], note_ids=used)
