"""Hybrid retrieval on the real embedder and Chroma, plus fusion logic."""

import pytest

from interview_coach.errors import UsageError
from interview_coach.index import Index
from interview_coach.retrieval import HybridRetriever, reciprocal_rank_fusion, tokenize


def test_rrf_matches_the_formula():
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert max(scores, key=scores.get) == "a"


def test_tokenize_keeps_subscripted_symbols():
    assert tokenize("Why divide by sqrt(d_k)?") == ["divide", "sqrt", "d_k"]


@pytest.fixture
def retriever(settings, embeddings, corpus_dir):
    # Distractors: audio notes that never name the exact term, so only BM25 knows where "MFCC" is.
    for i, topic in enumerate(["speaker embeddings with x-vectors", "speech recognition with CTC",
                               "audio augmentation with noise", "log-mel spectrogram front ends",
                               "voice activity detection", "sampling rates and resampling audio"]):
        (corpus_dir / "notes" / f"audio{i}.md").write_text(
            f"---\nid: audio{i}\ntitle: {topic.capitalize()}\ntrack: audio-speech\ntags: [audio]\n---\n"
            f"# {topic.capitalize()}\n\n## Short answer\nSpeech and audio systems: {topic}. Acoustic frames "
            f"of the waveform are turned into features for the model.\n")
    Index(settings, embeddings).ingest()
    return HybridRetriever(Index(settings, embeddings))


@pytest.mark.slow
def test_hybrid_finds_exact_term_that_vector_search_ranks_low(retriever):
    vector = retriever.vector_ranking("MFCC", None, 30)
    vector_docs = [retriever.chunks[c].doc_id for c in vector]
    assert vector_docs.index("mfcc") >= 2, vector_docs  # pure vector search does not put it on top
    hybrid = retriever.search("MFCC", k=3)
    assert hybrid[0].chunk.doc_id == "mfcc"
    assert hybrid[0].bm25_rank == 1


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
