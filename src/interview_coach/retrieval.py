"""Hybrid retrieval: BM25 (exact terms such as `MFCC`; the persisted SQLite FTS5 index of lexical.py) and
vector search (paraphrases), fused by reciprocal rank fusion, with an optional track filter. Returns plain
ScoredChunk dataclasses, or LangChain Documents through `NotesRetriever`.

Answer generation (answering.py) and verification (verification.py) are not done here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .chunking import Chunk
from .errors import IndexMissingError, UsageError
from .index import Index
from .lexical import LexicalIndex, StoredChunks
from .text import query_tokens

MODES = ("hybrid", "vector", "bm25")


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float
    vector_rank: int | None = None  # 1-based rank in each retriever, None if it did not return the chunk
    bm25_rank: int | None = None

    @property
    def id(self) -> str:
        return self.chunk.id

    def to_dict(self) -> dict:
        c = self.chunk
        return {"id": c.id, "source": c.source, "title": c.title, "score": round(self.score, 6),
                "text": c.text, "track": c.track, "heading": c.heading, "doc_id": c.doc_id}


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """score(d) = sum over rankings of 1 / (k + rank of d), ranks 1-based."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


class HybridRetriever:
    """BM25 from the persisted lexical index (lexical.py), vectors from Chroma with the query embedding.
    Chunks are read by id from the lexical index, so a process never loads every chunk into memory."""

    def __init__(self, index: Index, lexical: LexicalIndex | None = None):
        self.index = index
        self.settings = index.settings
        self.lexical = lexical or LexicalIndex.for_index(index)
        self._collection = None
        self._size = 0
        self._tracks: list[str] = []
        self._version: str | None = None  # the index version synced to; None: sync before the next search
        self._load_lock = threading.Lock()  # several UI tabs may search before the first load ends

    def reload(self) -> None:
        """Sync again before the next search: it then sees what was ingested since."""
        with self._load_lock:
            self._version = None

    def reload_if_changed(self) -> None:
        """Reload when another process (or a coach sharing the Chroma server) has ingested since the load:
        one cheap version check per search, so a long-lived UI never serves a stale or deleted collection."""
        if self._version is not None and self.index.version() != self._version:
            self.reload()

    def version(self) -> str:
        """The index version searches read now, synced first to what was ingested since the last load:
        a cache of search results is valid while this stays the same."""
        self.reload_if_changed()
        self._ensure_loaded()
        return self._version

    def _ensure_loaded(self) -> None:
        with self._load_lock:
            if self._version is not None:
                return
            self.lexical.sync(self.index)  # a no-op when the persisted index is already in step
            size = self.lexical.count()
            if not size:
                raise IndexMissingError("the index is empty; run `coach ingest` to build it")
            self._size, self._tracks = size, self.lexical.tracks()
            self._collection = self.index.collection()
            self._version = self.lexical.synced_version()  # last: it marks the load complete

    @property
    def chunks(self) -> Mapping[str, Chunk]:
        self._ensure_loaded()
        return StoredChunks(self.lexical)

    def bm25_ranking(self, query: str, track: str | None, limit: int) -> list[str]:
        self._ensure_loaded()
        return self.lexical.search(query_tokens(query), track, limit)

    def vector_ranking(self, query: str, track: str | None, limit: int) -> list[str]:
        self._ensure_loaded()
        vector = self.index.embeddings.embed_query(query)
        with self.index.server_errors():
            result = self._collection.query(
                query_embeddings=[vector], n_results=min(limit, self._size),
                where={"track": track} if track else None, include=[])
        return list(result["ids"][0])

    def search(self, query: str, k: int | None = None, track: str | None = None,
               mode: str = "hybrid") -> list[ScoredChunk]:
        query = (query or "").strip()
        if not query:
            raise UsageError("the search query is empty; type what you are looking for")
        if mode not in MODES:
            raise UsageError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        k = self.settings.default_k if k is None else k
        if k < 1:
            raise UsageError("k must be at least 1")
        self.reload_if_changed()
        self._ensure_loaded()
        if track and track not in self._tracks:
            raise UsageError(f"no notes in track {track!r}; tracks: {', '.join(self._tracks)}")
        pool = max(self.settings.candidate_pool, k)
        vector = self.vector_ranking(query, track, pool) if mode in ("hybrid", "vector") else []
        bm25 = self.bm25_ranking(query, track, pool) if mode in ("hybrid", "bm25") else []
        fused = reciprocal_rank_fusion([r for r in (vector, bm25) if r], self.settings.rrf_k)
        v_rank = {cid: i for i, cid in enumerate(vector, 1)}
        b_rank = {cid: i for i, cid in enumerate(bm25, 1)}
        # A vector hit the lexical index does not hold (written by an ingest still under way) is skipped.
        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))
        stored = self.lexical.get(ranked[:k])
        if len(stored) < min(k, len(ranked)):
            stored = self.lexical.get(ranked)
        best = [cid for cid in ranked if cid in stored][:k]
        return [ScoredChunk(stored[cid], fused[cid], v_rank.get(cid), b_rank.get(cid)) for cid in best]

    def as_langchain(self, k: int | None = None, track: str | None = None) -> NotesRetriever:
        return NotesRetriever(retriever=self, k=k or self.settings.default_k, track=track)


class NotesRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever: Documents carrying our chunk metadata (id,
    score and each retriever's rank), so the coach composes with LangChain chains."""

    retriever: HybridRetriever
    k: int = 5
    track: str | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=r.chunk.text, id=r.chunk.id,
                         metadata={**r.chunk.metadata(), "id": r.chunk.id, "score": r.score,
                                   "vector_rank": r.vector_rank, "bm25_rank": r.bm25_rank})
                for r in self.retriever.search(query, k=self.k, track=self.track)]
