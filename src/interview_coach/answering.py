"""Answer a question from the notes: retrieve, quote numbered sources as data, generate with `[n]`
markers, verify every sentence, and fall back to an extractive answer when the model's fails.

Retrieval, prompts and the support decision live in their own modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .chunking import Chunk
from .embeddings import embed_array
from .errors import IndexMissingError, UsageError
from .prompts import render
from .text import content_words, split_sentences, stem, words
from .verification import SentenceCheck, faithfulness, verify


@dataclass
class Source:
    n: int                       # the [n] marker that cites it
    chunk: Chunk
    score: float = 0.0

    def to_dict(self) -> dict:
        c = self.chunk
        return {"n": self.n, "id": c.id, "source": c.source, "title": c.title, "heading": c.heading,
                "text": c.text}


@dataclass
class Answer:
    question: str
    answer: str                  # the answer shown, with [n] markers
    sources: list[Source]
    sentences: list[SentenceCheck]
    faithfulness: float          # supported sentences / sentences
    mode: str = "rag"            # "rag" | "closed-book"
    fallback: bool = False       # True when the extractive answer replaced the model's
    model_answer: str = ""       # what the model said, before any fallback
    model_sentences: list[SentenceCheck] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "answer": self.answer,
            "citations": [{"n": s.n, "id": s.chunk.id, "source": s.chunk.source, "title": s.chunk.title}
                          for s in self.sources],
            "sentences": [s.to_dict() for s in self.sentences],
            "faithfulness": round(self.faithfulness, 4),
            "mode": self.mode,
            "fallback": self.fallback,
            "model_answer": self.model_answer,
            "notices": self.notices,
        }


# Lines in a note that try to steer the model. They are dropped from what the model sees (and from
# extractive answers): notes are data, never instructions.
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|preceding)\s+"
    r"(instructions?|prompts?|messages?|rules?)|you\s+are\s+now\b|new\s+instructions?\s*:|system\s+prompt\s*:",
    re.IGNORECASE)


def without_injections(text: str) -> tuple[str, int]:
    """The text without instruction-like sentences, and how many were removed."""
    kept, removed = [], 0
    for sentence in split_sentences(text):
        if _INJECTION.search(sentence):
            removed += 1
        else:
            kept.append(sentence)
    return " ".join(kept), removed


class Answerer:
    """question -> hybrid retrieval -> numbered sources -> model -> verification -> Answer."""

    FALLBACK_BELOW = 0.5     # when fewer than half of the model's sentences hold up, answer extractively
    EXTRACTIVE_SENTENCES = 3

    def __init__(self, coach):
        self.coach = coach
        self.settings = coach.settings

    def clean_question(self, question: str) -> tuple[str, list[str]]:
        question = " ".join((question or "").split())
        if not question:
            raise UsageError("the question is empty; ask something, e.g. coach ask \"what is the equal error rate?\"")
        notices = []
        limit = self.settings.max_question_chars
        if len(question) > limit:
            notices.append(f"the question was {len(question):,} characters; only the first {limit:,} were used")
            question = question[:limit]
        return question, notices

    def retrieve(self, question: str) -> list[Source]:
        results = self.coach.search(question, k=self.settings.answer_sources)
        return [Source(n, r.chunk, r.score) for n, r in enumerate(results, 1)]

    def ask(self, question: str, *, closed_book: bool = False, on_token: Callable[[str], None] | None = None) -> Answer:
        question, notices = self.clean_question(question)
        sources = self.retrieve(question)
        if not sources:
            raise IndexMissingError("the index is empty; run `coach ingest` first")
        texts, removed = zip(*(without_injections(s.chunk.text) for s in sources))
        if sum(removed):
            notices.append(f"ignored {sum(removed)} instruction-like sentence(s) found inside the notes")
        if closed_book:
            messages = render("closed_book", question=question)
        else:
            # The model reads the most relevant sentences of each source, not whole chunks: prompt
            # processing (~250 tokens/s on 2 cores) dominates the time to the first token.
            excerpts = self.excerpts(question, list(texts))
            messages = render("answer", question=question,
                              sources=[{"n": s.n, "title": s.chunk.title, "text": t} for s, t in zip(sources, excerpts)])
        model_answer = self._generate(messages, on_token).strip()

        judge = self.coach.judge
        with self.coach.model_lock:
            model_checks = verify(model_answer, list(texts), judge, require_citations=not closed_book,
                                  question=question)
        answer = Answer(question, model_answer, sources, model_checks, faithfulness(model_checks),
                        mode="closed-book" if closed_book else "rag", model_answer=model_answer,
                        model_sentences=model_checks, notices=notices)
        if not closed_book and faithfulness(model_checks) < self.FALLBACK_BELOW:
            extract = self.extractive(question, sources, list(texts))
            with self.coach.model_lock:
                checks = verify(extract, list(texts), judge, question=question)
            if checks and faithfulness(checks) > faithfulness(model_checks):
                answer.answer, answer.sentences, answer.faithfulness = extract, checks, faithfulness(checks)
                answer.fallback = True
                answer.notices.append("the model's answer did not hold up against the notes; "
                                      "showing the most relevant sentences from the notes instead")
        return answer

    def _generate(self, messages, on_token) -> str:
        pieces = []
        with self.coach.model_lock:
            for piece in self.coach.chat_model.stream(messages, max_tokens=self.settings.answer_max_tokens,
                                                      temperature=0.0):
                pieces.append(piece)
                if on_token:
                    on_token(piece)
        return "".join(pieces)

    def excerpts(self, question: str, texts: list[str]) -> list[str]:
        """Each text cut down to its sentences closest to the question (reading order kept), about
        `source_excerpt_chars` long."""
        limit = self.settings.source_excerpt_chars
        out = []
        for text in texts:
            sentences = [s for s in split_sentences(text) if any(ch.isalnum() for ch in s)]
            if len(text) <= limit or len(sentences) <= 1:
                out.append(text)
                continue
            scores = self._relevance(question, sentences)
            keep, used = set(), 0
            for i in sorted(range(len(sentences)), key=lambda i: -scores[i]):
                if keep and used + len(sentences[i]) > limit:
                    continue
                keep.add(i)
                used += len(sentences[i]) + 1
            out.append(" ".join(sentences[i] for i in sorted(keep)))
        return out

    def _relevance(self, question: str, sentences: list[str]):
        """Cosine to the question plus a lexical term for the question's own words."""
        import numpy as np

        # MiniLM alone ranks "two errors trade off" above "the EER is ..."; the question's own words
        # (a lexical term, as in hybrid retrieval) pull the defining sentence up.
        with self.coach.model_lock:
            vectors = embed_array(self.coach.embeddings, sentences)
            query = np.array(self.coach.embeddings.embed_query(question), dtype="float32")
        asked = {stem(w) for w in content_words(question)}
        overlap = np.array([len(asked & {stem(w) for w in words(s)}) / max(1, len(asked)) for s in sentences])
        return vectors @ query + 0.5 * overlap

    def extractive(self, question: str, sources: list[Source], texts: list[str]) -> str:
        """The sentences of the sources closest to the question, each cited: true by construction."""
        import numpy as np

        candidates = [(s.n, clean) for s, text in zip(sources, texts) for sentence in split_sentences(text)
                      if (clean := _plain(sentence)) and _is_whole_sentence(clean)]
        if not candidates:
            return ""
        # Earlier-ranked sources get a small bonus so the answer leans on the best match.
        scores = self._relevance(question, [c[1] for c in candidates]) + \
            np.array([0.02 * (len(sources) - n) for n, _ in candidates])
        picked = sorted(np.argsort(-scores)[: self.EXTRACTIVE_SENTENCES],
                        key=lambda i: (candidates[i][0], i))  # keep each source's sentences in reading order
        return " ".join(_cite(candidates[i][1], candidates[i][0]) for i in picked)


def _plain(sentence: str) -> str:
    """A note sentence without markdown decoration (bullets, bold, heading marks)."""
    sentence = re.sub(r"\*\*|__|`", "", sentence).strip()
    return re.sub(r"^([-*+>]|#+|\d+\.)\s+", "", sentence).strip()


def _is_whole_sentence(sentence: str) -> bool:
    # Chunks overlap mid-sentence, so a piece that starts in lower case is a fragment.
    return len(sentence.split()) >= 6 and (sentence[0].isupper() or sentence[0].isdigit())


def _cite(sentence: str, n: int) -> str:
    sentence = sentence.strip()
    if sentence and sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]."
