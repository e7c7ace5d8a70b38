"""The Coach: wires each component once from Settings, lazily, and offers the library's verbs
(search, ask, grade, ingest) to the CLI, the UI and the eval harness.

It holds no per-user state (sessions live in interview.py and the store) and no model locks: each
model guards itself, so the verbs are safe to call from several threads.
"""

from __future__ import annotations

import threading
from functools import cached_property

from .settings import Settings


class Coach:
    """Components are built on first use and shared; pass fakes in for fast unit tests."""

    def __init__(self, settings: Settings, *, embeddings=None, chat_model=None, judge=None, corpus=None,
                 grader=None, answerer=None):
        self.settings = settings
        self._given = {"embeddings": embeddings, "chat_model": chat_model, "judge": judge, "corpus": corpus,
                       "grader": grader, "answerer": answerer}
        self._ingest_lock = threading.Lock()  # one ingest at a time (UI library tab, CLI)

    def _provided(self, name: str):
        return self._given.get(name)

    @cached_property
    def embeddings(self):
        from .embeddings import load_embeddings

        return self._provided("embeddings") or load_embeddings(self.settings)

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
        from .corpus import load_valid_corpus

        return self._provided("corpus") or load_valid_corpus(self.settings.corpus_dir)

    @cached_property
    def chat_model(self):
        from .llm import load_chat_model

        return self._provided("chat_model") or load_chat_model(self.settings)

    @cached_property
    def judge(self):
        from .judge import load_judge

        return self._provided("judge") or load_judge(self.settings, embeddings=self.embeddings,
                                                     chat_model=lambda: self.chat_model)

    @cached_property
    def answerer(self):
        from .answering import Answerer

        from .relevance import RelevanceHead

        return self._provided("answerer") or Answerer(self.retriever, self.chat_model, self.judge,
                                                      self.embeddings, self.settings,
                                                      relevance_head=RelevanceHead.read())

    @cached_property
    def judgement_model(self):
        """The cross-encoder the grader reads misconceptions in answers with (models/grading_judge: the
        previous judge, which does that better than the current one on the grading dev split); None when
        its files are missing, and the grader falls back to cosine rules."""
        from .judge_model import GRADING_JUDGE

        return self._trained_weights(GRADING_JUDGE)

    def _trained_weights(self, folder):
        """A judge_model.JudgeModel of the trained weights in `folder`, or None when its files are missing.
        When the configured judge holds these very weights, one copy serves both."""
        from .errors import ModelUnavailableError
        from .judge_model import JudgeModel

        loaded = getattr(self.judge, "model", None)
        if isinstance(loaded, JudgeModel) and loaded.folder == folder:
            return loaded
        try:
            return JudgeModel(folder)
        except ModelUnavailableError:
            return None

    @cached_property
    def grader(self):
        from .grading import Grader

        return self._provided("grader") or Grader(self.corpus, self.embeddings, self.sentence_judge, self.retriever,
                                                  support_model=self.judgement_model,
                                                  contradiction_judge=self.contradiction_judge)

    @cached_property
    def contradiction_judge(self):
        """The trained judge (models/judge, whatever COACH_JUDGE says) that confirms a sentence the grader
        would show as stated otherwise by the notes; None when its files are missing (the heuristic's
        flags then stand alone)."""
        from .judge_model import BUNDLED_JUDGE, CrossEncoderJudge

        model = self._trained_weights(BUNDLED_JUDGE)
        return CrossEncoderJudge(model) if model is not None else None

    @cached_property
    def sentence_judge(self):
        """The judge the grader reads an answer's sentences with: the heuristic, whatever COACH_JUDGE says,
        because the grade's calibration was fitted on its objections (the trained judge reads key points
        through `judgement_model`)."""
        from .judge import EvidenceJudge

        return EvidenceJudge(self.embeddings)

    @cached_property
    def coaching(self):
        """The model-written critique and follow-up (critique.py), verified before they are shown."""
        from .critique import Coaching

        return Coaching(self.chat_model, self.judge, self.embeddings, self.settings.critique_max_tokens)

    def ingest(self, paths=(), progress=None, forget=()):
        """Index the corpus (and user folders), then make retrieval see the new chunks."""
        with self._ingest_lock:
            report = self.index.ingest(paths, progress=progress, forget=forget)
            self.retriever.reload()
        return report

    def reload_index(self) -> None:
        self.retriever.reload()

    def search(self, query: str, k: int | None = None, track: str | None = None, mode: str = "hybrid"):
        return self.retriever.search(query, k=k, track=track, mode=mode)

    def ask(self, question: str, *, closed_book: bool = False, on_token=None):
        """Answer from the notes (or closed-book), every sentence verified. Returns answering.Answer."""
        return self.answerer.ask(question, closed_book=closed_book, on_token=on_token)

    def grade(self, question: str, answer: str, parent: str | None = None):
        """Grade `answer` to a bank question id or free text (`parent`: the bank id a follow-up belongs
        to). Returns grading.Grade."""
        return self.grader.grade(question, answer, parent=parent)
