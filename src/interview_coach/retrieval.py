"""Hybrid retrieval: BM25 (exact terms such as `MFCC`) and vector search (paraphrases), fused by
reciprocal rank fusion, with an optional track filter. Returns plain ScoredChunk dataclasses, or
LangChain Documents through `NotesRetriever`.

Answer generation (answering.py) and verification (verification.py) are not done here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .chunking import Chunk
from .errors import IndexMissingError, UsageError
from .index import Index
from .text import search_tokens as tokenize

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
    """Loads all chunks once for BM25; the vector side queries Chroma with the query embedding."""

    def __init__(self, index: Index):
        self.index = index
        self.settings = index.settings
        self._chunks: dict[str, Chunk] | None = None
        self._bm25 = None
        self._order: list[str] = []
        self._collection = None
        self._load_lock = threading.Lock()  # several UI tabs may search before the first load ends

    def reload(self) -> None:
        """Forget the loaded chunks and BM25 model: the next search sees what was ingested since."""
        with self._load_lock:
            self._chunks = None

    def _ensure_loaded(self) -> None:
        with self._load_lock:
            if self._chunks is not None:
                return
            from rank_bm25 import BM25Okapi

            chunks = self.index.all_chunks()
            if not chunks:
                raise IndexMissingError("the index is empty; run `coach ingest` to build it")
            self._order = [c.id for c in chunks]
            self._bm25 = BM25Okapi([tokenize(c.search_text) for c in chunks])
            self._collection = self.index.collection()
            self._chunks = {c.id: c for c in chunks}  # last: it marks the load complete

    @property
    def chunks(self) -> dict[str, Chunk]:
        self._ensure_loaded()
        return self._chunks

    def bm25_ranking(self, query: str, track: str | None, limit: int) -> list[str]:
        self._ensure_loaded()
        tokens = tokenize(query)
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        out = []
        for i in ranked:
            if scores[i] <= 0 or len(out) >= limit:
                break
            cid = self._order[i]
            if track is None or self._chunks[cid].track == track:
                out.append(cid)
        return out

    def vector_ranking(self, query: str, track: str | None, limit: int) -> list[str]:
        self._ensure_loaded()
        vector = self.index.embeddings.embed_query(query)
        result = self._collection.query(
            query_embeddings=[vector], n_results=min(limit, len(self._chunks)),
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
        self._ensure_loaded()
        if track and not any(c.track == track for c in self._chunks.values()):
            tracks = sorted({c.track for c in self._chunks.values()})
            raise UsageError(f"no notes in track {track!r}; tracks: {', '.join(tracks)}")
        pool = max(self.settings.candidate_pool, k)
        vector = self.vector_ranking(query, track, pool) if mode in ("hybrid", "vector") else []
        bm25 = self.bm25_ranking(query, track, pool) if mode in ("hybrid", "bm25") else []
        fused = reciprocal_rank_fusion([r for r in (vector, bm25) if r], self.settings.rrf_k)
        v_rank = {cid: i for i, cid in enumerate(vector, 1)}
        b_rank = {cid: i for i, cid in enumerate(bm25, 1)}
        best = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        return [ScoredChunk(self._chunks[cid], fused[cid], v_rank.get(cid), b_rank.get(cid)) for cid in best]

    def as_langchain(self, k: int | None = None, track: str | None = None) -> "NotesRetriever":
        return NotesRetriever(retriever=self, k=k or self.settings.default_k, track=track)


class NotesRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever: Documents carrying our chunk metadata (id,
    score and each retriever's rank), so the coach composes with LangChain chains."""

    retriever: HybridRetriever
    k: int = 5
    track: str | None = None

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=r.chunk.text, id=r.chunk.id,
                         metadata={**r.chunk.metadata(), "id": r.chunk.id, "score": r.score,
                                   "vector_rank": r.vector_rank, "bm25_rank": r.bm25_rank})
                for r in self.retriever.search(query, k=self.k, track=self.track)]
