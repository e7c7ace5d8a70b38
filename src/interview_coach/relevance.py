"""Which sentences of the retrieved notes answer a question: the features of a (question, sentence) pair and
the small trained head that scores them for the extractive answer.

The head is a logistic regression over a few features of each pair (MiniLM cosines we compute anyway, the
question's words, where the sentence sits, its length), fitted by training/train_relevance.py on bank
questions whose key points say which note sentences answer them. Numpy only at run time; the weights are
a JSON file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .embeddings import embed_array
from .errors import ModelUnavailableError
from .resources import relevance_head_file

# In this order; the names are written into the weights file.
FEATURES = ("cosine", "source_cosine", "question_words", "first_source", "source_rank",
            "position", "log_words", "symbols")
RETRAIN = "retrain it with `python training/train_relevance.py` or reinstall the package"


@dataclass(frozen=True)
class Candidate:
    """A whole sentence of a numbered source, as the extractive answer may quote it."""

    source: int      # the source's [n], 1 = best retrieved
    position: float  # where in its source the sentence sits, 0 = first, 1 = last
    text: str


def features(embeddings, question: str, candidates: list[Candidate]):
    """One row of FEATURES per candidate."""
    import numpy as np

    from .extractive import question_word_share  # extractive imports this module

    vectors = embed_array(embeddings, [c.text for c in candidates])
    query = np.asarray(embeddings.embed_query(question), dtype="float32")
    cosine = vectors @ query
    sources = sorted({c.source for c in candidates})
    centroid = {n: vectors[[i for i, c in enumerate(candidates) if c.source == n]].mean(axis=0) for n in sources}
    share = question_word_share(question, [c.text for c in candidates])
    return np.array([[
        cosine[i],
        float(centroid[c.source] @ query),  # how much the whole source is about the question
        share[i],
        float(c.source == sources[0]),
        (c.source - 1) / max(1, len(sources) - 1) if len(sources) > 1 else 0.0,
        c.position,
        math.log(1 + len(c.text.split())),
        sum(not (ch.isalnum() or ch.isspace()) for ch in c.text) / max(1, len(c.text)),  # formula-like
    ] for i, c in enumerate(candidates)], dtype="float32")


@dataclass(frozen=True)
class RelevanceHead:
    weights: tuple[float, ...]  # one per FEATURES entry
    bias: float

    @classmethod
    def read(cls, path: Path | None = None) -> "RelevanceHead":
        path = path or relevance_head_file()
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            head = cls(tuple(float(w) for w in raw["weights"]), float(raw["bias"]))
            if len(head.weights) != len(FEATURES):
                raise ValueError(f"{len(head.weights)} weights for {len(FEATURES)} features")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelUnavailableError(f"the relevance head {path} is missing or unreadable ({err}); {RETRAIN}") \
                from None
        return head

    def to_dict(self) -> dict:
        return {"weights": list(self.weights), "bias": self.bias}

    def scores(self, embeddings, question: str, candidates: list[Candidate]):
        """Log-odds that each candidate answers the question."""
        import numpy as np

        return features(embeddings, question, candidates) @ np.asarray(self.weights, dtype="float32") + self.bias
