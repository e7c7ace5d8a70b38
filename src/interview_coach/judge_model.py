"""The "model" judge: our trained MiniLM cross-encoder, which reads (passage, statement) and says
supports / contradicts / neither, applied to sliding windows of each source.

Training lives in training/train_judge.py; the heuristic judge it replaced stays in judge.py.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelUnavailableError
from .judge import Judge, Reason, Verdict, register_judge
from .resources import grading_judge_dir, judge_model_dir
from .settings import Settings, native_bf16, offline_environment
from .text import content_words, plain, split_sentences, stem

LABELS = ("supports", "contradicts", "neither")
BUNDLED_JUDGE = judge_model_dir()
GRADING_JUDGE = grading_judge_dir()  # the previous judge's weights: they still read misconceptions better
WEIGHTS_FILE = "trained.safetensors"
CONFIG_FILE = "judge.json"
RETRAIN_HINT = "run `make train-judge` to rebuild it, or reinstall interview-coach"

# A window is this many consecutive sentences; a longer sentence is cut into pieces of this many
# characters so that a 100k-character passage is read whole, never silently truncated.
WINDOW_SENTENCES = 2
WINDOW_CHARS = 600


def windows(text: str) -> list[str]:
    """Sliding windows of WINDOW_SENTENCES sentences (stride one) over plain text."""
    pieces: list[str] = []
    for sentence in split_sentences(plain(text)):
        while len(sentence) > WINDOW_CHARS:
            cut = sentence.rfind(" ", 0, WINDOW_CHARS)
            cut = cut if cut > WINDOW_CHARS // 2 else WINDOW_CHARS
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    if len(pieces) <= WINDOW_SENTENCES:
        return [" ".join(pieces)] if pieces else []
    return [" ".join(pieces[i:i + WINDOW_SENTENCES]) for i in range(len(pieces) - WINDOW_SENTENCES + 1)]


def closest_windows(statements: list[str], texts: list[str], keep: int) -> list[list[int]]:
    """Per statement, the indices (in order) of the `keep` windows sharing the most of its content words,
    each word weighted by how rare it is among these windows (IDF). All of them when there are no more.
    On the dev split, with each premise placed among three chunks of its note, this chooses as well as
    MiniLM cosine did (balanced accuracy 0.764 against 0.761, and 0.762 reading every window) at no
    embedding cost, which was two thirds of a verification."""
    if len(texts) <= keep:
        return [list(range(len(texts)))] * len(statements)
    terms = [{stem(w) for w in content_words(t)} for t in texts]
    frequency = Counter(term for window in terms for term in window)
    weight = {term: math.log((len(texts) + 1) / (n + 0.5)) for term, n in frequency.items()}
    out = []
    for statement in statements:
        asked = {stem(w) for w in content_words(statement)}
        scores = [sum(weight[t] for t in asked & window) for window in terms]
        ranked = sorted(range(len(texts)), key=lambda j: -scores[j])  # stable: ties keep passage order
        out.append(sorted(ranked[:keep]))
    return out


@dataclass(frozen=True)
class JudgeConfig:
    """What training wrote beside the weights: thresholds chosen on the dev split, and the shape."""

    support_threshold: float
    contradict_threshold: float
    max_length: int
    base_model: str

    @classmethod
    def read(cls, folder: Path) -> "JudgeConfig":
        try:
            raw = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            return cls(float(raw["support_threshold"]), float(raw["contradict_threshold"]),
                       int(raw["max_length"]), str(raw["base_model"]))
        except FileNotFoundError:
            raise ModelUnavailableError(f"no trained judge at {folder} (missing {CONFIG_FILE}); {RETRAIN_HINT}") from None
        except (ValueError, KeyError, TypeError):
            raise ModelUnavailableError(f"the trained judge at {folder} has a corrupt {CONFIG_FILE}; {RETRAIN_HINT}") from None


def base_model_path() -> Path:
    """The MiniLM folder the judge was trained from: always the installed package's, whatever
    COACH_EMBEDDING_MODEL says, because the trained layers only fit these frozen ones."""
    from .embeddings import embedding_model_path

    return embedding_model_path(Settings(embedding_model=""))


class JudgeModel:
    """Base MiniLM from the installed package plus our trained layers; probabilities per pair."""

    # Small batches run faster on a CPU, and not for less padding (length-sorted batches of 32 gain 2%):
    # on 2 AVX2 cores, fp32, 12 pairs took 285 ms at 4 against 335 at 32, 240 pairs 5.7 s against 6.9.
    BATCH = 4
    CACHE = 8192  # (window, statement) pairs kept

    def __init__(self, folder: Path = BUNDLED_JUDGE, bf16: bool | None = None):
        self.folder = folder
        self.config = JudgeConfig.read(folder)
        self.bf16 = native_bf16() if bf16 is None else bf16
        if not (folder / WEIGHTS_FILE).is_file():
            raise ModelUnavailableError(f"no trained judge weights at {folder / WEIGHTS_FILE}; {RETRAIN_HINT}")
        self._model = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], object] = OrderedDict()

    def _load(self):
        with self._lock:
            if self._model is None:
                self._model = load_cross_encoder(self.folder, self.config.max_length)
        return self._model

    def probabilities(self, pairs: list[tuple[str, str]]):
        """(n, 3) array of P(supports), P(contradicts), P(neither) for (premise, statement) pairs.
        Recent pairs are cached: verification asks about the cited sources after asking about all."""
        import numpy as np

        out = np.zeros((len(pairs), len(LABELS)), dtype="float32")
        todo = [i for i, pair in enumerate(pairs) if pair not in self._cache]
        if todo:
            model = self._load()
            fresh = list(dict.fromkeys(pairs[i] for i in todo))
            with self._lock, self._precision():
                probs = model.predict(fresh, batch_size=self.BATCH, apply_softmax=True, show_progress_bar=False)
                for pair, row in zip(fresh, np.asarray(probs, dtype="float32").reshape(len(fresh), len(LABELS))):
                    self._cache[pair] = row
                while len(self._cache) > self.CACHE:
                    self._cache.popitem(last=False)
        for i, pair in enumerate(pairs):
            out[i] = self._cache[pair]
        return out

    def _precision(self):
        """bf16 autocast where the CPU does bf16 natively (see native_bf16), fp32 elsewhere."""
        if not self.bf16:
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)


def load_cross_encoder(folder: Path, max_length: int):
    """A CrossEncoder on the base MiniLM with our trained weights put over it."""
    offline_environment()
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import CrossEncoder
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the base has no classifier yet: that warning is expected
    try:
        model = CrossEncoder(str(base_model_path()), num_labels=len(LABELS), max_length=max_length,
                             device="cpu", local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    try:
        trained = load_file(str(folder / WEIGHTS_FILE))
    except Exception as error:  # safetensors raises its own types for a damaged file
        raise ModelUnavailableError(f"the trained judge weights at {folder} cannot be read ({type(error).__name__}); "
                                    f"{RETRAIN_HINT}") from None
    target = model.model.state_dict()
    wrong = [k for k, v in trained.items() if k not in target or target[k].shape != v.shape]
    if wrong or not any(k.startswith("classifier.") for k in trained):
        raise ModelUnavailableError(f"the trained judge at {folder} does not fit the installed MiniLM "
                                    f"({len(wrong)} tensors differ); {RETRAIN_HINT}")
    with torch.no_grad():
        for name, value in trained.items():
            target[name].copy_(value.to(target[name].dtype))
    model.model.eval()
    return model


class CrossEncoderJudge(Judge):
    """Each claim against the windows of the contexts: the best `supports` and the strongest
    `contradicts` decide (as SummaC and MiniCheck aggregate), in one batched call. A claim is read only
    against its TOP_WINDOWS closest windows when there are more: a grade checks every sentence against
    six chunks, and the cross-encoder costs a few ms a pair on 2 cores."""

    TOP_WINDOWS = 4

    def __init__(self, model: JudgeModel):
        self.model = model

    def check(self, claims: list[str], contexts: list[str]) -> list[Verdict]:
        return self.check_each([(claim, contexts) for claim in claims])

    def check_each(self, items: list[tuple[str, list[str]]]) -> list[Verdict]:
        """All items in one batched call to the model (verification asks about each sentence's own
        citations at once: one call instead of one per sentence)."""
        groups: dict[tuple[str, ...], list[int]] = {}  # items that share their contexts share the windows
        for n, (_, contexts) in enumerate(items):
            groups.setdefault(tuple(contexts), []).append(n)
        verdicts: list[Verdict | None] = [None] * len(items)
        asked: list[tuple[int, list[tuple[str, int]], str, list[int]]] = []
        for contexts, group in groups.items():
            spans = [(w, i) for i, context in enumerate(contexts) if context and context.strip()
                     for w in windows(context)]
            statements = {n: plain(items[n][0] or "") for n in group}
            for n in group:
                if not spans:
                    verdicts[n] = Verdict(items[n][0], False, 0.0, "no context to check against", code=Reason.NO_CONTEXT)
                elif not any(ch.isalnum() for ch in statements[n]):
                    verdicts[n] = Verdict(items[n][0], False, 0.0, "the statement is empty", code=Reason.NOT_IN_SOURCES)
            todo = [n for n in group if verdicts[n] is None]
            chosen = closest_windows([statements[n] for n in todo], [w for w, _ in spans], self.TOP_WINDOWS)
            asked += [(n, spans, statements[n], js) for n, js in zip(todo, chosen)]
        probs = self.model.probabilities([(spans[j][0], statement) for _, spans, statement, js in asked for j in js])
        start = 0
        for n, spans, _, js in asked:
            verdicts[n] = self._verdict(items[n][0], probs[start:start + len(js)], [spans[j] for j in js])
            start += len(js)
        return verdicts

    def _verdict(self, claim: str, probs, spans: list[tuple[str, int]]) -> Verdict:
        config = self.model.config
        best, worst = int(probs[:, 0].argmax()), int(probs[:, 1].argmax())
        support, contradiction = float(probs[best, 0]), float(probs[worst, 1])
        # The best window's support decides alone: also requiring it to beat the strongest contradiction
        # (from any window) cost 0.08 balanced accuracy on the dev split.
        if support >= config.support_threshold:
            return Verdict(claim, True, support, "", spans[best][0], spans[best][1],
                           code=Reason.SUPPORTED, contradiction=contradiction)
        if contradiction >= config.contradict_threshold:
            return Verdict(claim, False, support, "the sources state otherwise", spans[worst][0], spans[worst][1],
                           code=Reason.CONTRADICTED, contradiction=contradiction)
        return Verdict(claim, False, support, "no source passage states this", spans[best][0], spans[best][1],
                       code=Reason.NOT_IN_SOURCES, contradiction=contradiction)


@register_judge("default")
@register_judge("model")
def _model(settings: Settings, embeddings, chat_model) -> Judge:
    folder = Path(settings.judge_model).expanduser() if settings.judge_model else BUNDLED_JUDGE
    return CrossEncoderJudge(JudgeModel(folder))
