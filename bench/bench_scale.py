"""Benchmark retrieval at 1k, 10k and 100k chunks; prints a table, asserts nothing.

For the bundled corpus (real embeddings) and for synthetic note-like corpora (sentences of the bundled notes
recombined with a fixed seed, about 10 chunks per note) it measures: the lexical (SQLite FTS5) index build,
a warm start on the persisted index, search p50/p95 of the lexical side and of hybrid search (k=5; the real query
embedding is timed on its own), and the searching process's resident memory. Each search runs in a fresh process, as a
`coach` command or the UI would. For comparison it times what the FTS5 index replaced (rank-bm25 rebuilt
from all chunks, scoring every chunk per query).

Embedding 100k chunks takes about an hour on 2 cores, so the synthetic corpora get random unit vectors in
Chroma (the vector search cost depends on the count, not the values); embedding throughput is measured on
a sample and extrapolated, and printed as such.

Usage: .venv/bin/python bench/bench_scale.py [--sizes 1000,10000,100000] [--queries N] [--bundled-home DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

from interview_coach.chunking import Chunk
from interview_coach.corpus import load_corpus
from interview_coach.index import Index, Manifest
from interview_coach.lexical import LexicalIndex
from interview_coach.settings import Settings
from interview_coach.text import search_tokens

REPO = Path(__file__).resolve().parents[1]
SEED = 16
CHUNKS_PER_NOTE = 10
DIM = 384  # all-MiniLM-L6-v2
OLD_QUERIES = 20  # rank-bm25 at 100k takes about a second a query


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def settings_for(home: Path) -> Settings:
    return Settings.load({}, home=home, corpus_dir=REPO / "corpus")


def queries(n: int) -> list[str]:
    rows = (REPO / "eval/datasets/retrieval_queries.jsonl").read_text().splitlines()
    return [json.loads(line)["query"] for line in rows][:n]


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB, from /proc."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


# -- the synthetic corpus ---------------------------------------------------------------------------
def _material() -> tuple[list, list[str], list[str], list[str]]:
    """The bundled notes' (title, track) pairs, headings, sentences and vocabulary."""
    docs = [d for d in load_corpus(REPO / "corpus").documents if d.kind == "note"]
    headings, sentences = [], []
    for d in docs:
        for line in d.body.splitlines():
            if line.startswith("#"):
                headings.append(line.lstrip("#").strip())
            elif line.strip() and not line.lstrip().startswith(("|", "```")):
                sentences.extend(s for s in re.split(r"(?<=[.!?])\s+", line.strip()) if len(s) > 20)
    vocabulary = sorted({w for s in sentences for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]+", s)})
    return [(d.title, d.track) for d in docs], headings, sentences, vocabulary


def synthetic_chunks(n: int) -> list[Chunk]:
    """n note-like chunks: real sentences recombined, with 1 word in 20 swapped for another corpus word so
    that chunks are not near-copies; ~700 characters each, 10 to a note, all from a fixed seed."""
    rng = random.Random(SEED)
    notes, headings, sentences, vocabulary = _material()
    chunks = []
    for i in range(n):
        note, part = divmod(i, CHUNKS_PER_NOTE)
        title, track = notes[note % len(notes)]
        text = []
        while sum(len(s) for s in text) < 650:
            words = rng.choice(sentences).split()
            text.append(" ".join(rng.choice(vocabulary) if rng.random() < 0.05 else w for w in words))
        chunks.append(Chunk(id=f"syn{note:05d}::part::{part}", doc_id=f"syn{note:05d}", source=f"syn{note:05d}.md",
                            title=f"{title} ({note})", track=track, kind="note", heading=rng.choice(headings),
                            index=part, text=" ".join(text), content_hash=f"{i:016x}"))
    return chunks


# -- workers (each in its own process) --------------------------------------------------------------
def build_synthetic(home: Path, n: int) -> dict:
    """Write n synthetic chunks with random unit vectors to Chroma plus a manifest, as an ingest would;
    then time the lexical index build and, for comparison, the rank-bm25 build and queries it replaced."""
    import numpy as np

    settings = settings_for(home)
    index = Index(settings)
    chunks = synthetic_chunks(n)
    fingerprint = index.fingerprint()
    name = f"coach_{fingerprint[:16]}"
    collection = index._collection(name, create=True)  # the bench writes what ingest would, minus embedding
    vectors = np.random.default_rng(SEED).standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = time.perf_counter()
    for s in range(0, n, 5000):
        batch = chunks[s:s + 5000]
        collection.add(ids=[c.id for c in batch], embeddings=vectors[s:s + 5000],
                       documents=[c.text for c in batch], metadatas=[c.metadata() for c in batch])
    chroma_s = time.perf_counter() - start
    files: dict[str, dict] = {}
    for c in chunks:
        files.setdefault(f"/synthetic/{c.source}", {"hash": c.doc_id, "doc_id": c.doc_id, "chunks": []})["chunks"].append(c.id)
    index.save_manifest(Manifest(fingerprint=fingerprint, collection=name, files=files, last_ingest="synthetic"))

    start = time.perf_counter()
    LexicalIndex.for_index(index).sync(index)
    lexical_s = time.perf_counter() - start
    return {"chroma_insert_s": chroma_s, "lexical_build_s": lexical_s, **old_bm25(index)}


def old_bm25(index: Index) -> dict:
    """What the FTS5 index replaced: every chunk read from Chroma and rank-bm25 built at each start; every
    chunk scored in Python per query."""
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    chunks = paged_chunks(index)
    bm25 = BM25Okapi([search_tokens(c.search_text) for c in chunks])
    build_s = time.perf_counter() - start
    times = []
    for q in queries(OLD_QUERIES):
        start = time.perf_counter()
        scores = bm25.get_scores(search_tokens(q))
        sorted(range(len(scores)), key=lambda i: -scores[i])[:30]
        times.append((time.perf_counter() - start) * 1000)
    return {"old_build_s": build_s, "old_p50_ms": statistics.median(times)}


def paged_chunks(index: Index) -> list[Chunk]:
    """Index.all_chunks in pages: the one `get` of every chunk that the old retriever made fails in
    Chroma past about 32k chunks ("too many SQL variables"), so at 10k it is as before and at 100k it
    is what the old retriever would have needed."""
    collection, chunks = index.collection(), []
    while True:
        batch = collection.get(include=["documents", "metadatas"], limit=5000, offset=len(chunks))
        if not batch["ids"]:
            break
        chunks += [Chunk.from_record(*record) for record in zip(batch["ids"], batch["documents"], batch["metadatas"])]
    return chunks


class PrecomputedQueries:
    """The real embedder, with each query's vector kept: hybrid search is timed without the query embedding,
    which does not depend on the corpus size and, on a machine shared with a busy process, swings from 15 ms
    to 500 ms (its two torch threads wait on each other); it is timed on its own."""

    def __init__(self, embeddings):
        self.embeddings, self.vectors = embeddings, {}

    def embed_query(self, text: str) -> list[float]:
        if text not in self.vectors:
            self.vectors[text] = self.embeddings.embed_query(text)
        return self.vectors[text]


def search(home: Path, n_queries: int) -> dict:
    """A fresh process on a built index: the start on the persisted lexical index, then lexical and hybrid
    search latency, then resident memory."""
    from interview_coach.embeddings import load_embeddings
    from interview_coach.retrieval import HybridRetriever

    settings = settings_for(home)
    embeddings = PrecomputedQueries(load_embeddings(settings))
    embeddings.embed_query("warm up")  # the model load is not search
    retriever = HybridRetriever(Index(settings, embeddings))
    retriever.index.client  # noqa: B018 - opening Chroma (~1 s) is the same before and after; not timed
    start = time.perf_counter()
    retriever.chunks  # noqa: B018 - the load: a version check, and a sync only if the index changed
    start_s = time.perf_counter() - start
    retriever.search("warm up", k=5)
    lexical_ms, hybrid_ms, embed_ms = [], [], []
    for q in queries(n_queries):
        start = time.perf_counter()
        retriever.bm25_ranking(q, None, settings.candidate_pool)
        lexical_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        embeddings.embed_query(q)  # real, and kept for the search below
        embed_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        retriever.search(q, k=5)
        hybrid_ms.append((time.perf_counter() - start) * 1000)
    rss, peak = rss_mb()
    return {"chunks": len(retriever.chunks), "start_s": start_s,
            "lexical_p50": statistics.median(lexical_ms), "lexical_p95": percentile(lexical_ms, 0.95),
            "hybrid_p50": statistics.median(hybrid_ms), "hybrid_p95": percentile(hybrid_ms, 0.95),
            "embed_p50": statistics.median(embed_ms),
            "rss_mb": rss, "peak_mb": peak}


def embed_throughput(n: int) -> float:
    """Real chunks/s of the embedder on n synthetic chunk texts (model load excluded)."""
    from interview_coach.embeddings import load_embeddings

    embeddings = load_embeddings(settings_for(Path(tempfile.mkdtemp(prefix="coach-scale-"))))
    embeddings.embed_documents(["warm up"])
    texts = [c.search_text for c in synthetic_chunks(n)]
    start = time.perf_counter()
    embeddings.embed_documents(texts)
    return n / (time.perf_counter() - start)


def bundled(home: Path) -> dict:
    """Ingest the bundled corpus with the real embedder, then time the lexical build on its own."""
    index = Index(settings_for(home))
    if not index.load_manifest().collection:
        index.ingest()
    index.client  # noqa: B018 - opening Chroma is not the lexical build
    lexical = LexicalIndex.for_index(index)
    lexical.close()
    lexical.path.unlink(missing_ok=True)  # a build from scratch, as after the first ingest
    start = time.perf_counter()
    LexicalIndex.for_index(index).sync(index)
    return {"lexical_build_s": time.perf_counter() - start, **old_bm25(index)}


# -- the driver ------------------------------------------------------------------------------------
def worker(*args: str) -> dict:
    """Run one worker in a fresh process; its last stdout line is its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--worker", *args], check=False, capture_output=True,
                          text=True)
    if done.returncode:
        sys.exit(f"worker {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(label: str, vectors: str, built: dict, searched: dict) -> str:
    return (f"| {label} | {searched['chunks']:,} | {vectors} | {built['lexical_build_s']:.1f} s | "
            f"{searched['start_s'] * 1000:.0f} ms | {searched['lexical_p50']:.1f} / {searched['lexical_p95']:.1f} | "
            f"{searched['hybrid_p50']:.1f} / {searched['hybrid_p95']:.1f} | {searched['embed_p50']:.1f} | "
            f"{searched['rss_mb']:.0f} MB "
            f"({searched['peak_mb']:.0f} peak) | {built['old_build_s']:.1f} s / {built['old_p50_ms']:.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--embed-sample", type=int, default=500)
    parser.add_argument("--bundled-home", help="reuse a home holding an index of the bundled corpus")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        jobs = {"build": lambda: build_synthetic(Path(rest[0]), int(rest[1])),
                "search": lambda: search(Path(rest[0]), int(rest[1])), "bundled": lambda: bundled(Path(rest[0])),
                "embed": lambda: {"per_s": embed_throughput(int(rest[0]))}}
        print(json.dumps(jobs[kind]()))
        return

    print(f"cores: {os.cpu_count()}  queries: {args.queries}  synthetic seed: {SEED}")
    lines = [("| corpus | chunks | vectors | lexical build | start (persisted) | lexical p50 / p95 ms | "
              "hybrid p50 / p95 ms (without the query embedding) | query embedding p50 ms | RSS of the searching process | "
              "before: rank-bm25 build / p50 |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    home = Path(args.bundled_home or tempfile.mkdtemp(prefix="coach-scale-bundled-"))
    built = worker("bundled", str(home))
    lines.append(row("bundled", "real", built, worker("search", str(home), str(args.queries))))
    print(lines[-1], flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        home = Path(tempfile.mkdtemp(prefix=f"coach-scale-{size}-"))
        built = worker("build", str(home), str(size))
        lines.append(row(f"synthetic {size // 1000}k", "random unit", built,
                         worker("search", str(home), str(args.queries))))
        print(lines[-1], f"  (Chroma insert of the vectors: {built['chroma_insert_s']:.0f} s)", flush=True)
        shutil.rmtree(home)  # about 1 GB at 100k
    per_s = worker("embed", str(args.embed_sample))["per_s"]
    print("\n" + "\n".join(lines))
    print(f"\nembedding (real model, measured on {args.embed_sample} synthetic chunks): {per_s:.0f} chunks/s; "
          + ", ".join(f"extrapolated {n // 1000}k chunks = {n / per_s / 60:.0f} min" for n in (10_000, 100_000)))
    print("synthetic rows: random unit vectors in Chroma, not embeddings; the query embedding is real. "
          f"'before' rank-bm25 p50 is over the first {OLD_QUERIES} queries, scoring only.")


if __name__ == "__main__":
    main()
