"""The bundled corpus: valid, fully cross-referenced, covering every seed question, and retrievable."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from conftest import REPO
from interview_coach.corpus import load_corpus
from interview_coach.eval.metrics import dedupe, hit_at, mrr_at
from interview_coach.index import Index
from interview_coach.retrieval import HybridRetriever

CORPUS = REPO / "corpus"
SEEDS = REPO.parent / "shared" / "seeds"
COVERAGE = yaml.safe_load((CORPUS / "coverage.yaml").read_text())
DATASETS = REPO / "eval" / "datasets"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_bundled_corpus_validates(corpus):
    assert corpus.problems == []
    assert len(corpus.notes) >= 150 and len(corpus.sources) == 6 and len(corpus.questions) >= 300


def test_every_note_is_used_and_every_question_has_notes(corpus):
    used = {n for q in corpus.questions for n in q.notes}
    assert [n.id for n in corpus.notes if n.id not in used] == []
    assert all(q.notes and 3 <= len(q.key_points) <= 6 and 1 <= len(q.follow_ups) <= 3 for q in corpus.questions)
    assert {q.track for q in corpus.questions} >= {
        "foundations", "optimisation", "transformers", "llm-and-rag", "audio-speech", "classical-ml",
        "generative", "probability"}


def test_every_seed_question_maps_to_existing_bank_questions(corpus):
    bank = {q.id for q in corpus.questions}
    missing = [c["ref"] for c in COVERAGE if not c["bank"]]
    dangling = [(c["ref"], b) for c in COVERAGE for b in c["bank"] if b not in bank]
    assert missing == [] and dangling == []
    assert len({c["ref"] for c in COVERAGE}) == len(COVERAGE)


def test_coverage_lists_every_numbered_seed_question():
    """Re-read the seeds that number their questions and check each one has a coverage entry."""
    if not SEEDS.is_dir():
        # CI always has ../shared beside the clone: there a missing folder is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(f"the seed documents are missing from {SEEDS}")
        pytest.skip("seed documents (../shared/seeds) not beside this checkout")
    listed = {(c["seed"], c["question"]) for c in COVERAGE}
    by_seed = {}
    for c in COVERAGE:
        by_seed.setdefault(c["seed"], []).append(c)
    seeds = sorted(p.name for p in SEEDS.glob("*.txt"))
    assert seeds and set(seeds) == set(by_seed), "every seed file needs coverage entries"
    for name in seeds:
        text = (SEEDS / name).read_text()
        numbered = [q for q in re.findall(r"^\d+\. (.+)$", text, re.M) if len(q) < 120]
        if numbered:
            missing = [q for q in numbered if (name, q.strip()) not in listed]
            assert missing == [], f"{name}: seed questions without coverage: {missing[:3]}"
    # The unnumbered seeds: each listed question must really be in its seed (no invented entries),
    # and the topic-list seed has one or more entries per topic block.
    for c in COVERAGE:
        if c["ref"].startswith("s001-"):
            title = c["question"].split(":")[0]
            assert title in (SEEDS / c["seed"]).read_text()
    topic_list = next(s for s in seeds if s.startswith("001"))
    topics = re.findall(r"^-\n(.+?)\n:", (SEEDS / topic_list).read_text(), re.M)
    assert len({c["ref"][:7] for c in COVERAGE if c["ref"].startswith("s001-")}) == len(topics)


@pytest.fixture(scope="module")
def bundled_retriever(bundled_settings, embeddings):
    return HybridRetriever(Index(bundled_settings, embeddings=embeddings))


@pytest.mark.slow
def test_retrieval_on_eval_queries_reaches_hit_at_5(bundled_retriever):
    rows = [json.loads(line) for line in (DATASETS / "retrieval_queries.jsonl").read_text().splitlines()]
    assert len(rows) >= 150
    hits1 = hits5 = mrr = 0.0
    for row in rows:
        docs = dedupe(r.chunk.doc_id for r in bundled_retriever.search(row["query"], k=30))
        relevant = set(row["relevant"])
        hits1 += hit_at(docs, relevant, 1)
        hits5 += hit_at(docs, relevant, 5)
        mrr += mrr_at(docs, relevant, 10)
    n = len(rows)
    print(f"hit@1={hits1 / n:.3f} hit@5={hits5 / n:.3f} mrr@10={mrr / n:.3f}")
    assert hits5 / n >= 0.9 and mrr / n >= 0.8


@pytest.mark.slow
def test_sqrt_dk_question_returns_the_attention_note_first(bundled_retriever):
    top = bundled_retriever.search("why divide by sqrt(d_k)?", k=1)[0]
    assert top.chunk.doc_id == "tfm-scaled-dot-product-attention"


@pytest.mark.slow
@pytest.mark.parametrize("term", ["GE2E", "ALiBi"])
def test_hybrid_finds_exact_terms_that_vector_search_ranks_low(bundled_retriever, term):
    def first_with_term(chunks):
        return next((i for i, c in enumerate(chunks, 1) if term.lower() in (c.title + c.text).lower()), None)

    vector = [bundled_retriever.chunks[c] for c in bundled_retriever.vector_ranking(term, None, 100)]
    vector_rank = first_with_term(vector)
    assert vector_rank is None or vector_rank >= 5, vector_rank
    hybrid = [r.chunk for r in bundled_retriever.search(term, k=3)]
    assert first_with_term(hybrid) is not None
