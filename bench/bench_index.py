"""Benchmark the index against the raw components it wraps; prints numbers and ratios, asserts nothing.

1. ingest throughput (chunks/s) vs raw SentenceTransformer.encode on the same chunk texts
2. warm re-ingest of the unchanged bundled corpus (in-process and as a fresh `coach ingest` process)
3. search latency p50/p95 (query embedding + BM25 + vector + fusion) vs a raw Chroma query with the same embedding

Usage: .venv/bin/python bench/bench_index.py [--queries N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

from interview_coach.chunking import chunk_document  # noqa: E402
from interview_coach.corpus import load_corpus  # noqa: E402
from interview_coach.embeddings import embedding_model_path  # noqa: E402
from interview_coach.index import Index  # noqa: E402
from interview_coach.retrieval import HybridRetriever  # noqa: E402
from interview_coach.settings import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="coach-bench-"))
    settings = Settings.load({}, home=home, corpus_dir=REPO / "corpus")
    print(f"cores: {os.cpu_count()}  data: {home}")

    # 1. Ingest throughput vs raw encode on the very same texts.
    index = Index(settings)
    index.embeddings.embed_query("warm up")  # model load is not throughput
    report = index.ingest()
    ours = report.chunks / report.seconds
    corpus = load_corpus(settings.corpus_dir)
    texts = [c.search_text for d in corpus.documents for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    from sentence_transformers import SentenceTransformer

    raw_model = SentenceTransformer(str(embedding_model_path(settings)), device="cpu")
    start = time.perf_counter()
    raw_model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    raw = len(texts) / (time.perf_counter() - start)
    print(f"\ningest: {report.chunks} chunks from {report.documents} documents in {report.seconds:.1f}s")
    print(f"  coach ingest      {ours:7.1f} chunks/s")
    print(f"  raw encode        {raw:7.1f} chunks/s")
    print(f"  ratio             {ours / raw:7.2f}x   (target >= 0.8x)")

    # 2. Warm re-ingest of the unchanged corpus.
    in_process = []
    for _ in range(5):
        start = time.perf_counter()
        again = Index(settings, index.embeddings).ingest()
        in_process.append(time.perf_counter() - start)
        assert again.added == again.updated == 0
    env = {**os.environ, "COACH_HOME": str(home), "COACH_CORPUS": str(settings.corpus_dir)}
    cli = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "interview_coach.cli", "ingest", "--json"], env=env,
                       check=True, capture_output=True)
        cli.append(time.perf_counter() - start)
    print("\nwarm re-ingest (nothing changed)")
    print(f"  in-process        median {statistics.median(in_process):6.3f}s")
    print(f"  `coach ingest`    median {statistics.median(cli):6.3f}s   (whole process; target <= 2 s)")

    # 3. Search latency, warm, vs a raw Chroma query with the same embedding.
    rows = [json.loads(l) for l in (REPO / "eval/datasets/retrieval_queries.jsonl").read_text().splitlines()]
    queries = [r["query"] for r in rows][: args.queries]
    retriever = HybridRetriever(Index(settings, index.embeddings))
    retriever.search("warm up", k=5)
    collection = retriever.index.collection()
    ours_ms, raw_ms, embed_ms = [], [], []
    for q in queries:
        start = time.perf_counter()
        retriever.search(q, k=5)
        ours_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        vector = index.embeddings.embed_query(q)
        embed_ms.append((time.perf_counter() - start) * 1000)
        collection.query(query_embeddings=[vector], n_results=5, include=["documents", "metadatas"])
        raw_ms.append((time.perf_counter() - start) * 1000)
    print(f"\nsearch over {len(queries)} eval queries, k=5 (query embedding included in both)")
    print(f"  hybrid search     p50 {statistics.median(ours_ms):6.1f} ms   p95 {percentile(ours_ms, 0.95):6.1f} ms   (target p50 <= 30 ms)")
    print(f"  raw Chroma query  p50 {statistics.median(raw_ms):6.1f} ms   p95 {percentile(raw_ms, 0.95):6.1f} ms")
    print(f"  of which embed    p50 {statistics.median(embed_ms):6.1f} ms")
    print(f"  ratio (p50)       {statistics.median(ours_ms) / statistics.median(raw_ms):6.2f}x")


if __name__ == "__main__":
    main()
