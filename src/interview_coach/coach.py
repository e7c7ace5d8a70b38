"""The Coach: builds each component once from Settings, lazily, and offers the library's verbs
(search, ask, grade) to the CLI, the UI and the eval harness.

It holds no per-user state; sessions live in interview.py and the store.
"""

from __future__ import annotations

import threading
from functools import cached_property

from .settings import Settings


class Coach:
    """Components are built on first use and shared; pass fakes in for fast unit tests."""

    def __init__(self, settings: Settings, *, embeddings=None, chat_model=None, judge=None):
        self.settings = settings
        self._embeddings = embeddings
        self._chat_model = chat_model
        self._judge = judge
        # llama.cpp and the embedder are not safe to call from several threads at once (the UI).
        self.model_lock = threading.RLock()

    @cached_property
    def embeddings(self):
        if self._embeddings is None:
            from .embeddings import load_embeddings

            self._embeddings = load_embeddings(self.settings)
        return self._embeddings

    @cached_property
    def index(self):
        from .index import Index

        return Index(self.settings, embeddings=self.embeddings)

    @cached_property
    def retriever(self):
        from .retrieval import HybridRetriever

        return HybridRetriever(self.index)

    @cached_property
    def corpus(self):
        from .corpus import load_corpus
        from .errors import CorpusError

        corpus = load_corpus(self.settings.corpus_dir)
        if corpus.problems:
            raise CorpusError(corpus.problems)
        return corpus

    @cached_property
    def chat_model(self):
        if self._chat_model is None:
            from .llm import load_chat_model

            self._chat_model = load_chat_model(self.settings)
        return self._chat_model

    @cached_property
    def judge(self):
        if self._judge is None:
            from .judge import load_judge

            self._judge = load_judge(self.settings, embeddings=self.embeddings, chat_model=lambda: self.chat_model)
        return self._judge

    @cached_property
    def answerer(self):
        from .answering import Answerer

        return Answerer(self)

    @cached_property
    def grader(self):
        from .grading import Grader

        return Grader(self)

    def ingest(self, paths=(), progress=None, forget=()):
        """Index the corpus (and user folders), then make retrieval see the new chunks."""
        with self.model_lock:
            report = self.index.ingest(paths, progress=progress, forget=forget)
            self.reload_index()
        return report

    def reload_index(self) -> None:
        # The BM25 side holds every chunk in memory; a cached_property is rebuilt on next use.
        self.__dict__.pop("retriever", None)

    def search(self, query: str, k: int | None = None, track: str | None = None, mode: str = "hybrid"):
        with self.model_lock:
            return self.retriever.search(query, k=k, track=track, mode=mode)

    def ask(self, question: str, *, closed_book: bool = False, on_token=None):
        """Answer from the notes (or closed-book), every sentence verified. Returns answering.Answer."""
        return self.answerer.ask(question, closed_book=closed_book, on_token=on_token)

    def grade(self, question: str, answer: str):
        """Grade `answer` to a bank question id or free text. Returns grading.Grade."""
        return self.grader.grade(question, answer)
