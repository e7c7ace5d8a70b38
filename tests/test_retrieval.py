"""Hybrid retrieval on the real embedder and Chroma, plus fusion logic."""

import pytest

from interview_coach.errors import UsageError
from interview_coach.index import Index
from interview_coach.retrieval import HybridRetriever, reciprocal_rank_fusion
from interview_coach.text import query_tokens, search_tokens


def test_rrf_matches_the_formula():
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert max(scores, key=scores.get) == "a"


def test_tokenize_keeps_subscripted_symbols():
    assert search_tokens("Why divide by sqrt(d_k)?") == ["divide", "sqrt", "d_k"]
    # A query also asks for its neighbouring words joined ("batch norm" -> "batchnorm"); never with a symbol.
    assert query_tokens("Why divide by sqrt(d_k)?") == ["divide", "sqrt", "d_k", "dividesqrt"]


@pytest.fixture
def retriever(settings, embeddings):
    Index(settings, embeddings).ingest()
    return HybridRetriever(Index(settings, embeddings))


@pytest.mark.slow
def test_attention_question_finds_attention_note(retriever):
    results = retriever.search("why divide by sqrt(d_k)?", k=3)
    assert results[0].chunk.doc_id == "attention"
    assert results[0].score >= results[1].score >= results[2].score


@pytest.mark.slow
def test_track_filter_and_modes(retriever):
    results = retriever.search("normalisation of activations", k=5, track="transformers")
    assert results and all(r.chunk.track == "transformers" for r in results)
    bm25_only = retriever.search("AdamW decoupled weight decay", k=2, mode="bm25")
    assert bm25_only[0].chunk.doc_id == "optimisers" and bm25_only[0].vector_rank is None
    with pytest.raises(UsageError, match="no notes in track 'cooking'"):
        retriever.search("anything", track="cooking")
    with pytest.raises(UsageError, match="empty"):
        retriever.search("   ")
