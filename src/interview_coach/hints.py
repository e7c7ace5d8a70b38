"""Hints: one nudge toward a key point the candidate has not reached yet, without giving it away: where the
notes cover it (the section heading of the note) and a few of the point's own terms to think about.

Which turn is hinted, and how many hints it has had, is interview.py's business; no model is used here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import content_words, stem

_HEADING = re.compile(r"^(#{2,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
MAX_TERMS = 2


@dataclass
class Hint:
    text: str
    point: int | None   # index of the key point it nudges toward (None: a follow-up, which has no rubric)
    heading: str        # the note section that covers it ("" when no note does)
    title: str          # that note's title


def sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) for each `##`-or-deeper section of a note's markdown body."""
    marks = list(_HEADING.finditer(body))
    return [(m.group(2), body[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(body)])
            for i, m in enumerate(marks)]


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def best_section(target: str, notes) -> tuple[str, str]:
    """(heading, note title) of the section of `notes` (corpus Documents) sharing most words with `target`."""
    wanted = _stems(target)
    best, best_overlap = ("", ""), -1
    for note in notes:
        for heading, text in sections(note.body):
            overlap = len(wanted & _stems(f"{heading} {text}"))
            if overlap > best_overlap:
                best, best_overlap = (heading, note.title), overlap
    return best


def terms(point: str, question: str, limit: int = MAX_TERMS) -> list[str]:
    """Words of the key point that the question does not already use, longest first: something to think
    about that names no relation, so the point itself stays the candidate's to make."""
    asked = _stems(question)
    seen, out = set(), []
    for w in sorted(content_words(point), key=len, reverse=True):
        s = stem(w)
        if s not in asked and s not in seen and len(w) > 3:
            seen.add(s)
            out.append(w)
    return out[:limit]


def nudge(question: str, key_points, notes, given: int) -> Hint:
    """The hint after `given` earlier hints on this turn: each one moves on to the next key point."""
    points = list(key_points or ())
    index = given % len(points) if points else None
    target = points[index] if points else question
    heading, title = best_section(target, notes)
    parts = []
    if points:
        parts.append(f"Key point {index + 1} of {len(points)}:")
    if heading:
        parts.append(f"your notes cover it under “{heading}” in “{title}”.")
    else:
        parts.append("think about what your notes say on this topic.")
    words = terms(target, question) if points else []
    if words:
        parts.append(f"Think about {' and '.join(words)}: how do they come into your answer?")
    text = " ".join(parts)
    return Hint(text[0].upper() + text[1:], index, heading, title)
