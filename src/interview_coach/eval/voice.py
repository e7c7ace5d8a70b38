"""How well speech is heard: word error rate and jargon recall of a transcript against the text that was said.

Leaves out the transcriber itself (transcribe.py) and the audio (bench/bench_voice.py speaks with espeak-ng).
"""

from __future__ import annotations

import re

from ..transcribe import domain_terms

# A number is the same word however it is written ("one percent", "1%"), as in Whisper's own English
# normaliser; otherwise writing small counts as words (spoken_text.py) would count as errors.
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven",
                                                  "eight", "nine", "ten"))}


def normalise_words(text: str) -> list[str]:
    """Lower case words without punctuation; hyphens, underscores and slashes split words; zero to ten as
    figures."""
    text = re.sub(r"[-_/]", " ", text.lower()).replace("%", " percent")
    return [_NUMBER_WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?(?:\.[0-9]+)?", text)]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on normalise_words of both."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def pooled_wer(references: list[str], hypotheses: list[str]) -> float:
    """Word error rate over a set of answers: all edits over all reference words (long answers weigh more)."""
    sizes = [len(normalise_words(r)) for r in references]
    edits = [word_error_rate(r, h) * n for r, h, n in zip(references, hypotheses, sizes)]
    return sum(edits) / max(1, sum(sizes))


def jargon_recall(reference: str, hypothesis: str) -> tuple[int, int]:
    """(jargon terms of the reference found in the hypothesis, jargon terms in the reference)."""
    heard = f" {' '.join(normalise_words(hypothesis))} "
    terms = [" ".join(normalise_words(t)) for t in domain_terms([reference], limit=100)]
    terms = [t for t in terms if t]
    return sum(f" {t} " in heard for t in terms), len(terms)
