"""Pick the note sentences that best answer a question: relevance scoring, question-focused excerpts
for the model's prompt, and the cited extractive answer used when the model's answer fails.

Retrieval (retrieval.py) and verification (verification.py) are not done here.
"""

from __future__ import annotations

import re

from .embeddings import embed_array
from .relevance import Candidate, RelevanceHead
from .text import content_words, plain, split_sentences, stem, words
from .verification import with_citations

EXTRACTIVE_SENTENCES = 3
SOURCE_BONUS = 0.02  # per rank: earlier-ranked sources win ties, so the answer leans on the best match


def relevance(embeddings, question: str, sentences: list[str]):
    """Cosine to the question plus a lexical term for the question's own words."""
    import numpy as np

    # MiniLM alone ranks "two errors trade off" above "the EER is ..."; the question's own words
    # (a lexical term, as in hybrid retrieval) pull the defining sentence up.
    vectors = embed_array(embeddings, sentences)
    query = np.array(embeddings.embed_query(question), dtype="float32")
    return vectors @ query + 0.5 * np.array(question_word_share(question, sentences))


def question_word_share(question: str, sentences: list[str]) -> list[float]:
    """For each sentence, the share of the question's content words (stemmed) it uses."""
    asked = {stem(w) for w in content_words(question)}
    return [len(asked & {stem(w) for w in words(s)}) / max(1, len(asked)) for s in sentences]


def excerpts(embeddings, question: str, texts: list[str], limit: int) -> list[str]:
    """Each text cut down to its sentences closest to the question (reading order kept), about
    `limit` characters long."""
    out = []
    for text in texts:
        sentences = [s for s in split_sentences(text) if any(ch.isalnum() for ch in s)]
        if len(text) <= limit or len(sentences) <= 1:
            out.append(text)
            continue
        scores = relevance(embeddings, question, sentences)
        keep, used = set(), 0
        for i in sorted(range(len(sentences)), key=lambda i: -scores[i]):
            if keep and used + len(sentences[i]) > limit:
                continue
            keep.add(i)
            used += len(sentences[i]) + 1
        out.append(" ".join(sentences[i] for i in sorted(keep)))
    return out


def candidates(numbered_texts: list[tuple[int, str]]) -> list[Candidate]:
    """The whole sentences of each numbered source that an extractive answer may quote."""
    out = []
    for number, text in numbered_texts:
        sentences = note_sentences(text)
        out += [Candidate(number, i / max(1, len(sentences) - 1), s) for i, s in enumerate(sentences)
                if _is_whole_sentence(s)]
    return out


def extract(embeddings, question: str, numbered_texts: list[tuple[int, str]], n: int = EXTRACTIVE_SENTENCES,
            head: RelevanceHead | None = None) -> str:
    """The `n` sentences of the sources that best answer the question by the trained relevance head (the
    cosine-and-words relevance without one), each cited `[source number]`: true by construction.
    `numbered_texts` are (source number, text), best source first."""
    import numpy as np

    found = candidates(numbered_texts)
    if not found:
        return ""
    if head is not None:
        scores = head.scores(embeddings, question, found)
    else:
        count = len(numbered_texts)
        scores = relevance(embeddings, question, [c.text for c in found]) + \
            np.array([SOURCE_BONUS * (count - c.source) for c in found])
    picked = sorted(np.argsort(-scores)[:n], key=lambda i: (found[i].source, i))  # each source in reading order
    return " ".join(with_citations(found[i].text, [found[i].source]) for i in picked)


def _is_whole_sentence(sentence: str) -> bool:
    # Chunks overlap mid-sentence, so a piece that starts in lower case is a fragment; a formula cut by the
    # sentence splitter ("Π_{k=l+1.", "Var(q") leaves a bracket open; a lead-in ("Common choices:",
    # "Two phases of inference with a KV cache:") introduces a list and says nothing on its own.
    return (len(sentence.split()) >= 6 and (sentence[0].isupper() or sentence[0].isdigit())
            and not sentence.rstrip().endswith(":") and _balanced(sentence))


_PAIRS = {")": "(", "]": "[", "}": "{"}


def _balanced(text: str) -> bool:
    stack = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS and (not stack or stack.pop() != _PAIRS[ch]):
            return False
    return not stack


# -- notes as a person reads them --------------------------------------------------------------------
# Notes wrap their lines and open paragraphs with a bold run-in heading ("4. **Windowing.** Multiply…");
# split as they are, a sentence ends at every line break and "** Multiply…" starts the next.
_BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+•]\s|\d{1,3}[.)]\s|\|)")
_RUN_IN = re.compile(r"(\*\*|__)([^*_\n]{1,80}?)[.:]\1")


def note_blocks(text: str) -> list[str]:
    """A note's markdown as plain blocks: headings (without their #), list items and paragraphs, each on one
    line; a run-in heading becomes "Windowing: Multiply…"."""
    return [block for _, block in _blocks(text)]


def note_sentences(text: str) -> list[str]:
    """The whole sentences of a note's text, as plain text (headings left out)."""
    return [s for heading, block in _blocks(text) if not heading for s in split_sentences(block)]


def _blocks(text: str) -> list[tuple[bool, str]]:
    """(is a heading, plain text) for each block of a note's markdown."""
    blocks: list[list] = []
    joined = False  # the next line continues the current block
    for line in text.splitlines():
        if not line.strip():
            joined = False
            continue
        heading = line.lstrip().startswith("#")
        if blocks and joined and not _BLOCK_START.match(line):
            blocks[-1][1] += " " + line.strip()
        else:
            blocks.append([heading, line.strip()])
        joined = not heading  # a heading is a block of its own
    return [(heading, clean) for heading, block in blocks if (clean := plain(_RUN_IN.sub(r"\2:", block)))]


def whole_excerpt(excerpt: str, source_text: str = "") -> str:
    """An excerpt shown to the candidate: the whole sentence of the source it comes from, as plain text.
    The grader quotes sentence pieces split at line breaks and bold markers ("** Token ids index…",
    "…the running average of squared"); without the source, the piece itself, cleaned."""
    piece = plain(excerpt).strip(" *_")
    if not piece:
        return ""
    for sentence in note_sentences(source_text):
        if piece in sentence:
            return sentence
    return piece
