"""Delivery feedback for a spoken answer, from its word timings: pace (words per minute), filler words
per minute, pauses over two seconds, and speaking time against a target.

It judges how the answer was said, never what it says (that is grading.py's job); pure functions, no model.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

# Always fillers, whatever surrounds them (Whisper spells them several ways).
HESITATIONS = {"um", "umm", "uh", "uhm", "uhh", "erm", "er", "hmm", "mm"}
# "like" and "you know" are fillers only when punctuation follows them, as Whisper writes a filler ("it's,
# like, the point", "the threshold moves, you know."); "models like BERT" and "you know the answer" are words.
LONG_PAUSE_S = 2.0
# A conceptual answer takes one to two minutes aloud.
TARGET_S = (60.0, 120.0)
# Conversational English runs at about 120-160 words a minute; outside 110-170 listeners notice.
PACE_WPM = (110.0, 170.0)
# More than about three fillers a minute starts to sound unsure.
FILLERS_PER_MIN_OK = 3.0
_PUNCT = ".,;:!?\"'()…"


@dataclass
class Pause:
    start: float    # when the silence began (end of the word before it), seconds
    seconds: float  # its length


@dataclass
class Delivery:
    words: int
    speaking_s: float          # first word's start to last word's end
    wpm: float
    fillers: int
    fillers_per_min: float
    filler_words: dict[str, int] = field(default_factory=dict)   # {"um": 2, "like": 1}
    long_pauses: list[Pause] = field(default_factory=list)       # pauses over LONG_PAUSE_S
    target_s: tuple[float, float] = TARGET_S
    length: str = "on target"  # "short" | "on target" | "long"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["target_s"] = list(self.target_s)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Delivery:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["long_pauses"] = [Pause(**p) for p in data.get("long_pauses", [])]
        known["target_s"] = tuple(data.get("target_s", TARGET_S))
        return cls(**known)

    def summary(self) -> str:
        """One line, e.g. '142 words/min · 2 fillers (1.6/min: um 1, like 1) · 1 pause over 2 s · spoke 1:15
        (target 1:00-2:00)'."""
        kinds = ", ".join(f"{w} {n}" for w, n in sorted(self.filler_words.items(), key=lambda x: (-x[1], x[0])))
        fillers = f"{self.fillers} filler{'s' * (self.fillers != 1)} ({self.fillers_per_min:.1f}/min" + (
            f": {kinds})" if kinds else ")")
        pauses = len(self.long_pauses)
        low, high = self.target_s
        return (f"{self.wpm:.0f} words/min · {fillers} · {pauses} pause{'s' * (pauses != 1)} over "
                f"{LONG_PAUSE_S:g} s · spoke {clock(self.speaking_s)} (target {clock(low)}-{clock(high)})")

    def advice(self) -> list[str]:
        """Short, actionable notes on what is outside the usual ranges (empty when all is well)."""
        notes = []
        if self.words and self.wpm < PACE_WPM[0]:
            notes.append(f"Pace {self.wpm:.0f} words/min is slow; aim for {PACE_WPM[0]:.0f}-{PACE_WPM[1]:.0f}.")
        elif self.wpm > PACE_WPM[1]:
            notes.append(f"Pace {self.wpm:.0f} words/min is fast; slow down to {PACE_WPM[1]:.0f} or less.")
        if self.fillers_per_min > FILLERS_PER_MIN_OK:
            said = ", ".join(f'"{w}"' for w in sorted(self.filler_words))
            notes.append(f"{self.fillers_per_min:.1f} fillers a minute ({said}); pause silently instead.")
        if self.long_pauses:
            notes.append(f"{len(self.long_pauses)} pause(s) over {LONG_PAUSE_S:g} s; a short 'let me think' "
                         "keeps the interviewer with you.")
        if self.length == "short":
            notes.append(f"{clock(self.speaking_s)} is short for a conceptual answer; add a mechanism or an example.")
        elif self.length == "long":
            notes.append(f"{clock(self.speaking_s)} is long; lead with the answer and stop after "
                         f"{clock(self.target_s[1])}.")
        return notes


def clock(seconds: float) -> str:
    """85.2 -> '1:25'."""
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _fields(word) -> tuple[str, float, float]:
    """(text, start, end) from a transcribe.Word or its dict form."""
    if isinstance(word, dict):
        return str(word["word"]), float(word["start"]), float(word["end"])
    return str(word.word), float(word.start), float(word.end)


def _core(text: str) -> str:
    return text.strip().strip(_PUNCT).lower()


def _set_off(token: str, ends: str) -> bool:
    """The token is followed by one of the punctuation marks in `ends`."""
    return token.strip()[-1:] in ends


def count_fillers(tokens: list[str]) -> dict[str, int]:
    """{filler: count} over word tokens as Whisper writes them (with their punctuation). A run of the same
    hesitation counts once: prompted Whisper can loop ("uh, uh, uh, uh, ...") where one was said."""
    counts: dict[str, int] = {}
    i = 0
    while i < len(tokens):
        core = _core(tokens[i])
        nxt = _core(tokens[i + 1]) if i + 1 < len(tokens) else ""
        if core in HESITATIONS:
            if i == 0 or _core(tokens[i - 1]) != core:
                counts[core] = counts.get(core, 0) + 1
        elif core == "like" and _set_off(tokens[i], ",;"):
            counts["like"] = counts.get("like", 0) + 1
        elif core == "you" and nxt == "know" and _set_off(tokens[i + 1], ",;.?!"):
            counts["you know"] = counts.get("you know", 0) + 1
            i += 1
        i += 1
    return counts


def long_pauses(words, threshold: float = LONG_PAUSE_S) -> list[Pause]:
    """Silences between consecutive words longer than `threshold` seconds."""
    timed = [_fields(w) for w in words]
    return [Pause(round(prev_end, 2), round(start - prev_end, 2))
            for (_, _, prev_end), (_, start, _) in itertools.pairwise(timed) if start - prev_end > threshold]


def measure(words, target_s: tuple[float, float] = TARGET_S, verbatim=None) -> Delivery:
    """Delivery metrics from timed words (transcribe.Word or {"word", "start", "end"}), in time order.
    Fillers are counted in `verbatim` (the words as said, fillers kept) when given, else in `words`."""
    words = [w for w in words if _core(_fields(w)[0])]
    timed = [_fields(w) for w in words]
    if not timed:
        return Delivery(0, 0.0, 0.0, 0, 0.0, target_s=target_s, length="short")
    speaking = max(timed[-1][2] - timed[0][1], 0.0)
    minutes = speaking / 60 if speaking > 0 else None
    fillers = count_fillers([_fields(w)[0] for w in verbatim] if verbatim else [t for t, _, _ in timed])
    n_fillers = sum(fillers.values())
    low, high = target_s
    return Delivery(
        words=len(timed), speaking_s=round(speaking, 2),
        wpm=round(len(timed) / minutes, 1) if minutes else 0.0,
        fillers=n_fillers, fillers_per_min=round(n_fillers / minutes, 2) if minutes else 0.0,
        filler_words=fillers, long_pauses=long_pauses(words), target_s=target_s,
        length="short" if speaking < low else "long" if speaking > high else "on target")
