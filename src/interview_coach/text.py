"""Small text utilities shared by verification, the judge and the grader: sentences, words, a light
stemmer, numbers. Deliberately rule-based: no model, deterministic, fast.

Anything semantic (similarity, support) is left to embeddings and the judge.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:[_'][a-z0-9]+)*")
_NUMBER = re.compile(r"(?<![a-z_])(\d+(?:[.,]\d+)?(?:e-?\d+)?)(?:\s*%)?")
_MARKER = re.compile(r"^\s*(\[\d+(?:\s*,\s*\d+)*\]\s*)+")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been being both but by
can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not of off on once only or other
our out over own same she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would
you your it's i'm uses use used using one which way thing things get gets make makes made much many
often usually typically called known given instead rather whereas e g eg ie via per each every
""".split())


# Search terms for BM25: a narrower word pattern than _WORD (apostrophes split words) and only the
# words that are pure noise in a query, so "not" and "more" still match the notes that use them.
QUERY_STOPWORDS = frozenset("""
a an and are as at be by can do does for from how i in is it of on or the this to was we what when
where which who why with you your vs versus explain describe tell me about
""".split())


_SEARCH_WORD = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
MIN_PART = 3  # camelCase parts shorter than this ("Re" + "LU") are noise, not words


def search_tokens(text: str) -> list[str]:
    """BM25 terms of a note: lower-case words, and the parts of a camelCase compound as well, so that
    "BatchNorm" is found by "batchnorm" and by "batch norm"."""
    tokens = []
    for word in _SEARCH_WORD.findall(text):
        low = word.lower()
        if low in QUERY_STOPWORDS:
            continue
        tokens.append(low)
        parts = _CAMEL_PART.findall(word) if "_" not in word else []
        if len(parts) > 1:
            tokens.extend(p.lower() for p in parts if len(p) >= MIN_PART and p.lower() not in QUERY_STOPWORDS)
    return tokens


def query_tokens(text: str) -> list[str]:
    """BM25 terms of a query: its search_tokens plus each pair of neighbouring words joined, since people
    type "batch norm" or "layer norm" for the notes' "BatchNorm" and "LayerNorm"."""
    tokens = search_tokens(text)
    words_ = [w.lower() for w in _SEARCH_WORD.findall(text) if w.lower() not in QUERY_STOPWORDS]
    joined = [a + b for a, b in zip(words_, words_[1:]) if a.isalpha() and b.isalpha()]
    return tokens + [j for j in joined if j not in tokens]


_per_thread = threading.local()


def _segmenter():
    """One pysbd Segmenter per thread: a Segmenter keeps the text it is splitting on itself, so two threads
    sharing one (two users graded at once in the UI) got each other's sentences about a third of the time."""
    segmenter = getattr(_per_thread, "segmenter", None)
    if segmenter is None:
        import pysbd

        segmenter = _per_thread.segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def split_sentences(text: str) -> list[str]:
    """Sentences, with a citation marker that follows a full stop kept on the sentence before it."""
    return list(_sentences(text))


_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)*\]]*\s*$")
_SENTENCE_START = re.compile(r"\s*[-*#>\"'\u201c\[(]*\s*[A-Z0-9]")
MAX_MENDED = 8  # pieces one mended sentence may join: an unclosed "(" in prose must not swallow a paragraph


def _mend_parentheses(pieces: list[str]) -> list[str]:
    """Join the pieces pysbd cuts inside a formula: with two parenthesised groups in a text it takes them
    for list markers and splits "(p - y)" and "sigma'(z)" apart. A piece continues into the next when it
    leaves a "(" open (unless a sentence plainly ends and the next begins there) or when the next starts
    with "(" and this one ends no sentence. pysbd's pieces (clean=False) are the text's own slices,
    whitespace included, so joining them restores the text as written."""
    out: list[str] = []
    joined = 0
    for piece in pieces:
        if out and joined < MAX_MENDED and (
                (out[-1].count("(") > out[-1].count(")")
                 and not (_SENTENCE_END.search(out[-1]) and _SENTENCE_START.match(piece)))
                or (piece.startswith("(") and not _SENTENCE_END.search(out[-1]))):
            out[-1] += piece
            joined += 1
        else:
            out.append(piece)
            joined = 1
    return out


# pysbd takes about 1.5 ms a line (it compiles regular expressions per call), and the same note text is
# split again by every grade, verification and training pass that reads it.
@lru_cache(maxsize=16384)
def _sentences(text: str) -> tuple[str, ...]:
    pieces = [p.strip() for p in _mend_parentheses(_segmenter().segment(text.strip()))] if text.strip() else []
    sentences: list[str] = []
    for piece in pieces:
        lead = _MARKER.match(piece)
        if lead and sentences:
            sentences[-1] = f"{sentences[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end():].strip()
        if piece:
            sentences.append(piece)
    return tuple(sentences)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=50000)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'queries'/'query', 'scaled'/'scale', 'layers'/'layer'."""
    w = word.lower()
    if len(w) <= 3 or any(ch.isdigit() for ch in w):
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", ""),
                         ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + repl
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]  # scale/scaled/scaling all end as "scal"
    return w


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and not w.isdigit() and len(w) > 1]


def numbers(text: str) -> set[str]:
    """Numbers written with digits, normalised ('1,000' -> '1000', '0.50' -> '0.5')."""
    out = set()
    for raw in _NUMBER.findall(text.lower()):
        value = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", raw) else raw.replace(",", ".")
        if "e" in value:
            value = repr(float(value))  # 1e-4 and 0.0001 are one number
        if "." in value:
            value = value.rstrip("0").rstrip(".") or "0"
        out.add(value)
    return out


_LIST_MARKER = re.compile(r"^\s*(?:[-*+•>]|\d{1,3}[.)]|\(?[a-z]\))\s+", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__|`|\$)")  # a lone * is usually multiplication
_HEADING = re.compile(r"^\s*#{1,6}\s+")


def plain(text: str) -> str:
    """Text as a person reads it: no list marker, heading hashes, emphasis, code ticks or `$` around
    formulas, one space between words. Candidates answer in markdown; what they claim does not change."""
    text = _HEADING.sub("", _LIST_MARKER.sub("", text))
    return " ".join(_EMPHASIS.sub("", text).split())


_LATEX_COMMANDS = [
    (re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\sqrt\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)\b"), ""),
    (re.compile(r"\\(?:cdot|times)\b"), " x "),
    (re.compile(r"\\(?:le|leq)\b"), " <= "),
    (re.compile(r"\\(?:ge|geq)\b"), " >= "),
    (re.compile(r"\\(?:approx|sim)\b"), " ~ "),
    (re.compile(r"\\(?:text|mathrm|mathbf|mathcal|operatorname|hat|bar|tilde)\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\^\{([^{}]*)\}"), r"^(\1)"),
    (re.compile(r"_\{([^{}]*)\}"), r"_\1"),
]
# \, and \; are spaces, \( \) \[ \] delimit maths; \lambda\sum -> lambda sum
_LATEX_SPACE = re.compile(r"\\[,;:! ()\[\]]|\\([A-Za-z]+)(?=\\[A-Za-z])")
_LATEX_NAME = re.compile(r"\\([A-Za-z]+)")  # what is left: \eta -> eta, \log -> log
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
_TABLE_PIPE = re.compile(r"(?<!\|)\|(?!\|)")  # a cell border, not half of "||"


def answer_sentences(text: str) -> list[str]:
    """A candidate's answer as plain sentences: markdown headings, list items and table rows each become
    a sentence, emphasis, code ticks and LaTeX-ish markup are read as plain text, and a sentence said
    twice counts once (pasting an answer many times must not change its grade)."""
    lines = []
    for line in (text or "").splitlines():
        if _FENCE.match(line) or _TABLE_RULE.match(line):
            continue
        for _ in range(4):  # inner commands first: \frac{a}{\sqrt{b}} needs two passes
            before = line
            for pattern, repl in _LATEX_COMMANDS:
                line = pattern.sub(repl, line)
            if line == before:
                break
        line = _LATEX_NAME.sub(r"\1", _LATEX_SPACE.sub(lambda m: f"{m.group(1) or ''} ", line))
        if line.lstrip().startswith("|"):
            # A table row: its cells read as one sentence. Elsewhere a pipe is maths: KL(P || Q), |x|.
            line = _TABLE_PIPE.sub(" , ", line)
        line = plain(line.strip(" ,"))
        line = line.strip(" ,")
        if line:
            # A list item or heading ends where its line ends, whether or not it has a full stop.
            lines.append(line if line[-1] in ".!?:;" else line + ".")
    seen: set[str] = set()
    out = []
    for sentence in split_sentences(" ".join(lines)):
        key = " ".join(words(sentence))
        if key and key not in seen and any(ch.isalnum() for ch in sentence):
            seen.add(key)
            out.append(sentence)
    return out
