"""The persisted lexical (SQLite FTS5) index: reused across instances, in step with incremental ingest, and
ranking an exact term first. Hash vectors stand in for the embedder: only the BM25 side is under test."""

from __future__ import annotations

import hashlib

from interview_coach.index import Index
from interview_coach.lexical import LexicalIndex
from interview_coach.retrieval import HybridRetriever

NEW_NOTE = ("# Zorblax decoding\n\nZorblax decoding keeps the best partial hypotheses at every step and "
            "prunes the rest, a cheaper cousin of beam search.\n")


class HashEmbeddings:
    """Deterministic unit-free vectors from the text's hash: fast, and irrelevant to BM25."""

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        return [b / 255 + 0.01 for b in hashlib.sha256(text.encode()).digest()[:16]]


def ingest(settings, *paths):
    return Index(settings, HashEmbeddings()).ingest(list(paths))


def bm25_ids(settings, query, k=5):
    return [r.id for r in HybridRetriever(Index(settings, HashEmbeddings())).search(query, k=k, mode="bm25")]


def lexical(settings):
    return LexicalIndex.for_index(Index(settings, HashEmbeddings()))


def test_persisted_index_is_reused_by_new_instances_without_rebuilding(settings, monkeypatch):
    report = ingest(settings)
    stored = lexical(settings)
    assert stored.path.is_file() and stored.path.parent == settings.index_dir
    assert stored.count() == report.chunks
    assert stored.synced_version() == Index(settings, HashEmbeddings()).version()
    stored.close()

    def refuse(*args, **kwargs):
        raise AssertionError("the lexical index was rebuilt from Chroma")
    monkeypatch.setattr(LexicalIndex, "_fetch", staticmethod(refuse))
    # A fresh Index, connection and retriever, as in a new process: nothing is read from Chroma.
    assert lexical(settings).sync(Index(settings, HashEmbeddings())) == 0
    assert bm25_ids(settings, "AdamW")[0].startswith("optimisers::")
    # A re-ingest with nothing changed saves the manifest again, and still re-reads nothing.
    assert ingest(settings).unchanged == report.documents


def test_incremental_ingest_adds_and_removes_a_file(settings, tmp_path, monkeypatch):
    ingest(settings)
    before = lexical(settings).count()
    assert bm25_ids(settings, "zorblax") == []

    reads = []
    original = LexicalIndex._fetch

    def counted(*args):
        got = original(*args)
        reads.append(len(got))
        return got
    monkeypatch.setattr(LexicalIndex, "_fetch", staticmethod(counted))
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "zorblax.md").write_text(NEW_NOTE, encoding="utf-8")
    added = ingest(settings, folder)
    assert added.added == 1
    new_chunks = lexical(settings).count() - before
    assert new_chunks >= 1 and reads == [new_chunks]  # only the new file's chunks were read
    hits = bm25_ids(settings, "zorblax partial hypotheses")
    assert hits and all("zorblax" in cid for cid in hits[:new_chunks])

    (folder / "zorblax.md").unlink()
    assert ingest(settings).removed == 1
    assert bm25_ids(settings, "zorblax") == []
    assert lexical(settings).count() == before


def test_an_edited_note_is_searchable_by_its_new_terms_only(settings, corpus_dir):
    ingest(settings)
    note = corpus_dir / "notes" / "mfcc.md"
    note.write_text(note.read_text().replace("MFCC", "Quuxcepstra"), encoding="utf-8")
    ingest(settings)
    assert bm25_ids(settings, "quuxcepstra")[0].startswith("mfcc::")
    assert not any(cid.startswith("mfcc::") for cid in bm25_ids(settings, "MFCC"))


def test_exact_term_query_ranks_its_chunk_first(settings):
    ingest(settings)
    retriever = HybridRetriever(Index(settings, HashEmbeddings()))
    top = retriever.search("AdamW decoupled weight decay", k=3, mode="bm25")
    assert top[0].chunk.doc_id == "optimisers" and top[0].bm25_rank == 1 and top[0].vector_rank is None
    assert "AdamW" in top[0].chunk.text
    # Track filtering happens in the query, and query syntax is never FTS5 syntax.
    assert all(r.chunk.track == "audio-speech" for r in retriever.search("features", track="audio-speech",
                                                                          mode="bm25"))
    assert retriever.search('NOT "near" (cepstral* OR -mel)', k=1, mode="bm25")[0].chunk.doc_id == "mfcc"
    assert retriever.chunks[top[0].id] == top[0].chunk and len(retriever.chunks) == lexical(settings).count()


def test_a_corrupted_index_file_is_rebuilt(settings):
    report = ingest(settings)
    stored = lexical(settings)
    stored.close()
    stored.path.write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        stored.path.with_name(stored.path.name + suffix).unlink(missing_ok=True)
    assert bm25_ids(settings, "AdamW")[0].startswith("optimisers::")
    assert lexical(settings).count() == report.chunks


def test_chunks_lost_from_chroma_are_indexed_once_ingest_repairs_them(settings):
    report = ingest(settings)
    index = Index(settings, HashEmbeddings())
    victim = next(cid for cid in lexical(settings).ids() if cid.startswith("attention::"))
    index.collection().delete(ids=[victim])
    stored = lexical(settings)
    stored.close()
    stored.path.unlink()  # a fresh build while the chunk is missing
    assert victim not in HybridRetriever(index).chunks
    assert ingest(settings).updated == 1  # re-embedded under the same file hash and chunk ids
    assert victim in lexical(settings).ids() and lexical(settings).count() == report.chunks


def test_compound_words_are_found_however_they_are_typed():
    from interview_coach.text import query_tokens, search_tokens

    note = search_tokens("BatchNorm and LayerNorm differ; RMSNorm skips the mean. ReLU is not split.")
    for typed in ("batch norm", "batchnorm", "BatchNorm", "layer norm", "rms norm"):
        assert set(query_tokens(typed)) & {"batchnorm", "layernorm", "rmsnorm"} & set(note), typed
    assert {"batch", "norm", "layer", "rms"} <= set(note)  # camelCase parts, for "batch normalisation" too
    assert "relu" in note and "re" not in note and "lu" not in note
    assert "batchnorm" in query_tokens("what is batch norm")
