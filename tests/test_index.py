"""Incremental ingest on the real embedding model and a real Chroma under a temp directory."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from conftest import coach_command
from interview_coach.index import Index, Manifest
from interview_coach.retrieval import HybridRetriever

pytestmark = pytest.mark.slow


def counts(report):
    return (report.added, report.updated, report.removed, report.unchanged)


def top_doc(index, query):
    return HybridRetriever(index).search(query, k=1)[0].chunk.doc_id


def test_add_modify_delete_are_counted_and_searchable(settings, embeddings, corpus_dir):
    index = Index(settings, embeddings)
    first = index.ingest()
    assert counts(first) == (5, 0, 0, 0) and first.documents == 5 and first.rebuilt
    ids_before = sorted(c.id for c in index.all_chunks())
    again = Index(settings, embeddings).ingest()
    assert counts(again) == (0, 0, 0, 5) and not again.rebuilt
    assert sorted(c.id for c in index.all_chunks()) == ids_before  # ids stable across re-ingest

    (corpus_dir / "notes" / "dropout.md").write_text(
        "---\nid: dropout\ntitle: Dropout\ntrack: foundations\ntags: [regularisation]\n---\n"
        "# Dropout\n\n## Short answer\nDropout zeroes each activation with probability p during training "
        "and rescales the survivors by 1/(1-p), which acts like training an ensemble of thinned networks.\n")
    assert counts(Index(settings, embeddings).ingest()) == (1, 0, 0, 5)
    assert top_doc(Index(settings, embeddings), "randomly zeroing activations during training") == "dropout"

    mfcc = corpus_dir / "notes" / "mfcc.md"
    mfcc.write_text(mfcc.read_text() + "\n## Deltas\nDelta and delta-delta coefficients add the "
                    "trajectory of the cepstrum over neighbouring frames.\n")
    report = Index(settings, embeddings).ingest()
    assert counts(report) == (0, 1, 0, 5)
    hits = HybridRetriever(Index(settings, embeddings)).search("delta-delta coefficients trajectory", k=1)
    assert hits[0].chunk.id == "mfcc::deltas::0"

    (corpus_dir / "notes" / "dropout.md").unlink()
    report = Index(settings, embeddings).ingest()
    assert counts(report) == (0, 0, 1, 5) and report.documents == 5
    remaining = {c.doc_id for c in Index(settings, embeddings).all_chunks()}
    assert "dropout" not in remaining and "mfcc" in remaining


def test_user_folder_is_remembered_and_forgettable(settings, embeddings, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "kv.md").write_text("# KV cache\n\nThe KV cache stores keys and values of earlier tokens.")
    (folder / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    index = Index(settings, embeddings)
    report = index.ingest([folder])
    assert report.added == 6 and any("bad.txt" in s for s in report.skipped)
    assert counts(Index(settings, embeddings).ingest()) == (0, 0, 0, 6)  # remembered without the argument
    assert top_doc(Index(settings, embeddings), "KV cache keys values earlier tokens") == "mine/kv.md"
    report = Index(settings, embeddings).ingest(forget=[folder])
    assert counts(report) == (0, 0, 1, 5) and Index(settings, embeddings).status()["roots"] == []


def test_settings_change_rebuilds_into_a_new_collection(settings, embeddings):
    Index(settings, embeddings).ingest()
    old = Manifest.load(Index(settings, embeddings).manifest_path).collection
    smaller = settings.replace(chunk_size=200, chunk_overlap=20)
    report = Index(smaller, embeddings).ingest()
    assert report.rebuilt and report.added == 5
    manifest = Manifest.load(Index(smaller, embeddings).manifest_path)
    assert manifest.collection != old
    assert old not in [c.name for c in Index(smaller, embeddings).client.list_collections()]
    assert counts(Index(smaller, embeddings).ingest()) == (0, 0, 0, 5)


def test_killed_ingest_leaves_index_usable_and_next_ingest_repairs(settings, embeddings, tmp_path, coach_env):
    Index(settings, embeddings).ingest()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        paragraphs = "\n\n".join(
            f"## Part {j}\nTopic {i} part {j}: gradient noise, learning-rate warmup and batch size "
            f"interact; note {i}-{j} records one observation about training run {i * 7 + j}." for j in range(4))
        (folder / f"n{i:02d}.md").write_text(f"# Training note {i}\n\n{paragraphs}\n")
    manifest_path = settings.index_dir / "manifest.json"
    before = Manifest.load(manifest_path)
    env = {**coach_env, "COACH_INGEST_BATCH": "32"}  # several commits, so a kill lands between two
    proc = subprocess.Popen([*coach_command(), "ingest", str(folder), "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until at least one batch has been committed, then kill -9
        current = Manifest.load(manifest_path)
        if len(current.files) > len(before.files):
            break
        assert proc.poll() is None, "ingest finished before it could be interrupted"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = Manifest.load(manifest_path)
    assert len(before.files) < len(partial.files) < len(before.files) + 40

    # The interrupted index still answers.
    assert top_doc(Index(settings, embeddings), "why divide by sqrt(d_k)") == "attention"

    report = Index(settings, embeddings).ingest()
    assert report.documents == 45 and report.added == 45 - len(partial.files)
    index = Index(settings, embeddings)
    manifest = Manifest.load(manifest_path)
    stored = sorted(index.collection().get(include=[])["ids"])
    assert stored == sorted(cid for entry in manifest.files.values() for cid in entry["chunks"])
    assert counts(Index(settings, embeddings).ingest()) == (0, 0, 0, 45)


def test_lost_chunks_are_repaired(settings, embeddings):
    index = Index(settings, embeddings)
    index.ingest()
    victim = next(c.id for c in index.all_chunks() if c.doc_id == "attention")
    index.collection().delete(ids=[victim])
    report = Index(settings, embeddings).ingest()
    assert counts(report) == (0, 1, 0, 4)
    assert victim in {c.id for c in Index(settings, embeddings).all_chunks()}
