"""Answer a question from the notes: retrieve, quote numbered sources as data, generate with `[n]`
markers, verify every sentence, and fall back to an extractive answer when the model's fails.

Retrieval, prompts and the support decision live in their own modules.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Callable

from .chunking import Chunk, Citation
from .errors import IndexMissingError, UsageError
from .extractive import excerpts, extract
from .prompts import render
from .text import split_sentences
from .verification import SentenceCheck, faithfulness, verify, with_citations


@dataclass
class Source:
    n: int                       # the [n] marker that cites it
    chunk: Chunk
    score: float = 0.0

    @property
    def citation(self) -> Citation:
        return Citation.of(self.n, self.chunk)

    def to_dict(self) -> dict:
        return asdict(self.citation)


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
            "citations": [{k: v for k, v in s.to_dict().items() if k in ("n", "id", "source", "title")}
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


NOT_COVERED = re.compile(r"^\W*the (notes|sources) do(es)? not (cover|answer|mention)", re.IGNORECASE)


def abstains(text: str) -> bool:
    """Whether the model said the notes do not cover the question (what the answer prompt asks it to say)."""
    return bool(NOT_COVERED.match(text or ""))


class Answerer:
    """question -> hybrid retrieval -> numbered sources -> model -> verification -> Answer.

    Collaborators are passed in: a retriever (`search(query, k=)`), a chat model, a judge, the
    embeddings (for excerpts and the extractive fallback) and the relevance head (which sentences the
    extractive fallback quotes). Each is safe to share between threads."""

    FALLBACK_BELOW = 0.5     # when fewer than half of the model's sentences hold up, answer extractively

    def __init__(self, retriever, chat_model, judge, embeddings, settings, relevance_head=None):
        self.retriever = retriever
        self.relevance_head = relevance_head  # picks the extractive answer's sentences; None: cosine and words
        self.chat_model = chat_model
        self.judge = judge
        self.embeddings = embeddings
        self.settings = settings

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
        results = self.retriever.search(question, k=self.settings.answer_sources)
        return [Source(n, r.chunk, r.score) for n, r in enumerate(results, 1)]

    def ask(self, question: str, *, closed_book: bool = False, on_token: Callable[[str], None] | None = None) -> Answer:
        question, notices = self.clean_question(question)
        sources = self.retrieve(question)
        if not sources:
            raise IndexMissingError("the index is empty; run `coach ingest` first")
        texts, removed = zip(*(without_injections(s.chunk.text) for s in sources))
        texts = list(texts)
        if sum(removed):
            notices.append(f"ignored {sum(removed)} instruction-like sentence(s) found inside the notes")
        model_answer = self.chat_model.chat(self._messages(question, sources, texts, closed_book),
                                            max_tokens=self.settings.answer_max_tokens, on_token=on_token).strip()
        model_checks = verify(model_answer, texts, self.judge, require_citations=not closed_book, question=question)
        answer = Answer(question, model_answer, sources, model_checks, faithfulness(model_checks),
                        mode="closed-book" if closed_book else "rag", model_answer=model_answer,
                        model_sentences=model_checks, notices=notices)
        if closed_book:
            return answer  # the closed-book demo shows the model's answer as it is, judged
        if abstains(model_answer) or faithfulness(model_checks) < self.FALLBACK_BELOW:
            self._fall_back(answer, sources, texts)
        else:
            self._keep_supported(answer)
        return answer

    @staticmethod
    def _keep_supported(answer: Answer) -> None:
        """Show the model's verified sentences only; say how many were dropped (model_sentences keeps all)."""
        kept = [c for c in answer.sentences if c.supported]
        dropped = len(answer.sentences) - len(kept)
        if dropped:
            answer.answer = " ".join(with_citations(c.text, c.citations) for c in kept)
            answer.sentences, answer.faithfulness = kept, faithfulness(kept)
            answer.notices.append(f"dropped {dropped} sentence(s) of the model's answer that the notes do not support")

    def as_runnable(self):
        """`ask` as a LangChain Runnable: question in, Answer out (composes with LangChain chains)."""
        from langchain_core.runnables import RunnableLambda

        return RunnableLambda(lambda question: self.ask(question), name="coach_ask")

    def _messages(self, question: str, sources: list[Source], texts: list[str], closed_book: bool):
        if closed_book:
            return render("closed_book", question=question)
        # The model reads the most relevant sentences of each source, not whole chunks: prompt
        # processing (~250 tokens/s on 2 cores) dominates the time to the first token.
        cut = excerpts(self.embeddings, question, texts, self.settings.source_excerpt_chars)
        return render("answer", question=question,
                      sources=[{"n": s.n, "title": s.chunk.title, "text": t} for s, t in zip(sources, cut)])

    def _fall_back(self, answer: Answer, sources: list[Source], texts: list[str]) -> None:
        """Replace a model answer that did not hold up with the notes' own best sentences, if they do better."""
        extract = self.extractive(answer.question, sources, texts)
        checks = verify(extract, texts, self.judge, question=answer.question)
        if checks and faithfulness(checks) > answer.faithfulness:
            answer.answer, answer.sentences, answer.faithfulness = extract, checks, faithfulness(checks)
            answer.fallback = True
            answer.notices.append("the model's answer did not hold up against the notes; "
                                  "showing the most relevant sentences from the notes instead")

    def extractive(self, question: str, sources: list[Source], texts: list[str]) -> str:
        """The sentences of the sources closest to the question, each cited: true by construction."""
        return extract(self.embeddings, question, [(s.n, t) for s, t in zip(sources, texts)],
                       head=self.relevance_head)
