"""Markdown-aware chunking: split a document at headings, then by size with overlap.

Each chunk carries stable metadata (its id depends only on the document id, heading path and position);
embedding and storage are left to the index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from .corpus import Document, slugify

HEADER_LEVELS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    source: str
    title: str
    track: str
    kind: str
    heading: str  # heading path below the title, e.g. "How it works > Masks"
    index: int
    text: str
    content_hash: str

    @property
    def search_text(self) -> str:
        """What is embedded and BM25-indexed: the title and heading give a bare paragraph its topic."""
        return search_text(self.title, self.heading, self.text)

    def metadata(self) -> dict:
        return {
            "doc_id": self.doc_id, "source": self.source, "title": self.title, "track": self.track,
            "kind": self.kind, "heading": self.heading, "index": self.index, "content_hash": self.content_hash,
        }

    @classmethod
    def from_record(cls, chunk_id: str, text: str, metadata: dict) -> "Chunk":
        return cls(
            id=chunk_id, doc_id=metadata["doc_id"], source=metadata["source"], title=metadata["title"],
            track=metadata["track"], kind=metadata["kind"], heading=metadata.get("heading", ""),
            index=int(metadata.get("index", 0)), text=text, content_hash=metadata.get("content_hash", ""),
        )


@dataclass
class Citation:
    """A chunk as a `[n]` marker cites it: the one plain shape for citations in answers, grades and the
    store (which keeps grades as JSON)."""

    n: int
    id: str                      # chunk id in the index
    source: str                  # path of the note
    title: str = ""
    text: str = ""
    heading: str = ""

    @classmethod
    def of(cls, n: int, chunk: "Chunk") -> "Citation":
        return cls(n, chunk.id, chunk.source, chunk.title, chunk.text, chunk.heading)


@dataclass
class CitedNote:
    """One entry of a sources list: a note, its number, and each passage of it that was cited."""

    n: int
    source: str
    title: str
    passages: list[Citation] = field(default_factory=list)


class CitationBook:
    """Numbers cited notes across a whole session (or one answer): one number per note, handed out in order
    of first citation and never reused, so a `[n]` shown earlier keeps opening the note it cited, the list
    has no gaps and no note twice."""

    def __init__(self):
        self.notes: list[CitedNote] = []
        self._by_source: dict[str, CitedNote] = {}

    def add(self, citations) -> dict[int, int]:
        """Enter citations numbered by one grade or answer; returns {their n: the book's n}."""
        numbers = {}
        for c in citations:
            note = self._by_source.get(c.source)
            if note is None:
                note = self._by_source[c.source] = CitedNote(len(self.notes) + 1, c.source, c.title)
                self.notes.append(note)
            if all(p.id != c.id for p in note.passages):
                note.passages.append(c)
            numbers[c.n] = note.n
        return numbers


def search_text(title: str, heading: str, text: str) -> str:
    return "\n".join(part for part in (title, heading, text) if part)


TAIL_SHARE = 0.35  # a last piece shorter than this share of the chunk size joins the piece before it


def merge_tail(pieces: list[str], chunk_size: int) -> list[str]:
    """The pieces of a section with a short last piece joined to the one before it (without the text the two
    overlap in). Alone, such a tail is a fragment ("Var(q [3].") that retrieval ranks above the whole
    explanation and that answers cannot quote."""
    pieces = [p.strip() for p in pieces if p.strip()]
    if len(pieces) < 2 or len(pieces[-1]) >= TAIL_SHARE * chunk_size:
        return pieces
    before, tail = pieces[-2], pieces[-1]
    shared = next((n for n in range(min(len(before), len(tail)), 0, -1) if before.endswith(tail[:n])), 0)
    return pieces[:-2] + [before + ("" if shared else "\n") + tail[shared:]]


LEAD_IN_CHARS = 200  # a last line ending in ":" and no longer than this introduces what follows it


def carry_lead_ins(pieces: list[str]) -> list[str]:
    """The pieces of a section with a lead-in line ("Common choices:", "**Boosting.** Fit weak learners one
    after another:") that ends one piece moved to the start of the next, where its list is. Alone at the
    end of a piece it is a heading fragment that answers quote ("Two phases of inference: [1].")."""
    pieces = list(pieces)
    for i in range(len(pieces) - 1):
        text = pieces[i].rstrip()
        if not text.endswith(":"):
            continue
        # The lead-in is the last line, or the last sentence of a long last line ("… rank 3. Remedies:").
        cut = max(text.rfind("\n"), text.rfind(". ") + 1)
        lead, body = text[cut:].strip(), text[:cut].rstrip()
        if not body or len(lead) > LEAD_IN_CHARS:
            continue
        pieces[i] = body
        if lead not in pieces[i + 1][:len(lead) + LEAD_IN_CHARS]:  # the overlap may have copied it already
            pieces[i + 1] = lead + "\n" + pieces[i + 1].lstrip()
    return pieces


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    sections = MarkdownHeaderTextSplitter(HEADER_LEVELS, strip_headers=True).split_text(doc.body)
    sizer = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks: list[Chunk] = []
    seen_paths: dict[str, int] = {}
    for section in sections:
        headings = [section.metadata[name] for _, name in HEADER_LEVELS if name in section.metadata]
        # The top heading usually repeats the title; keep the path below it.
        if headings and headings[0].strip().lower() == doc.title.strip().lower():
            headings = headings[1:]
        heading = HEADING_SEPARATOR.join(h.strip() for h in headings)
        base = slugify(heading) or "intro"
        # A repeated heading path in one document gets a suffix so ids stay unique and stable.
        seen_paths[base] = seen_paths.get(base, 0) + 1
        if seen_paths[base] > 1:
            base = f"{base}-{seen_paths[base]}"
        pieces = carry_lead_ins(merge_tail(sizer.split_text(section.page_content), chunk_size))
        for i, piece in enumerate(pieces):
            digest = hashlib.sha256(search_text(doc.title, heading, piece).encode()).hexdigest()[:16]
            chunks.append(Chunk(
                id=f"{doc.id}::{base}::{i}", doc_id=doc.id, source=doc.source, title=doc.title,
                track=doc.track, kind=doc.kind, heading=heading, index=i, text=piece, content_hash=digest,
            ))
    return chunks
