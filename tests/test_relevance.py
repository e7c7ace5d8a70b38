"""The extractive answer's relevance head (src/interview_coach/relevance.py): the bundled weights load, a
broken file says how to retrain, the real embedder plus the head quote the sentence that answers (never a
lead-in or a fragment), and the training script rebuilds a head. Its quality on held-out questions is in
its model card (training/train_relevance.py), not asserted here.
"""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO
from interview_coach.errors import ModelUnavailableError
from interview_coach.extractive import candidates, extract
from interview_coach.relevance import FEATURES, RelevanceHead


def test_the_bundled_head_loads_and_a_broken_one_says_how_to_retrain(tmp_path):
    head = RelevanceHead.read()
    assert len(head.weights) == len(FEATURES)
    broken = tmp_path / "head.json"
    for text in ("{not json", json.dumps({"weights": [1.0, 2.0], "bias": 0.0}), json.dumps({"bias": 0.0})):
        broken.write_text(text)
        with pytest.raises(ModelUnavailableError, match="train_relevance.py") as err:
            RelevanceHead.read(broken)
        assert "\n" not in str(err.value)
    with pytest.raises(ModelUnavailableError, match="missing or unreadable"):
        RelevanceHead.read(tmp_path / "absent.json")


def test_candidates_are_whole_sentences_never_lead_ins_or_fragments():
    text = ("Two phases of LLM inference with a KV cache:\n"
            "- Prefill reads the whole prompt in one parallel pass and fills the cache.\n"
            "- Decode then produces one token at a time, reusing the cached keys and values.\n"
            "and the variance of q")
    found = [c.text for c in candidates([(1, text)])]
    assert found == ["Prefill reads the whole prompt in one parallel pass and fills the cache.",
                     "Decode then produces one token at a time, reusing the cached keys and values."]


@pytest.mark.slow
def test_the_head_quotes_the_sentence_that_answers(embeddings):
    question = "Why do we divide the attention scores by sqrt(d_k)?"
    sources = [
        (1, "Multi-head attention runs several heads in parallel and concatenates their outputs. "
            "The dot product of two random unit-variance vectors of size d_k has variance d_k, so large "
            "logits push the softmax into saturation. Dividing by sqrt(d_k) brings the variance back to about "
            "one and keeps the gradients usable. Common attention variants:\n- Grouped-query attention."),
        (2, "Positional encodings add order information because attention itself ignores word order. "
            "Learned and sinusoidal encodings both work well in practice for short contexts."),
    ]
    head = RelevanceHead.read()
    scores = head.scores(embeddings, question, found := candidates(sources))
    ranked = [found[i].text for i in scores.argsort()[::-1]]
    assert ranked[0].startswith("Dividing by sqrt(d_k)") or ranked[0].startswith("The dot product")
    assert ranked.index(next(t for t in ranked if t.startswith("Dividing"))) < \
        ranked.index(next(t for t in ranked if t.startswith("Learned and sinusoidal")))
    answer = extract(embeddings, question, sources, n=2, head=head)
    assert "Dividing by sqrt(d_k) brings the variance back" in answer and "[1]" in answer
    assert "variants" not in answer


@pytest.mark.slow
def test_the_training_script_rebuilds_a_head(bundled_settings, monkeypatch, tmp_path):
    sys.path.insert(0, str(REPO / "training"))
    import train_relevance

    monkeypatch.setenv("COACH_HOME", str(bundled_settings.home))
    train_relevance.main(["--limit", "80", "--out", str(tmp_path)])
    head = RelevanceHead.read(tmp_path / "head.json")
    record = json.loads((tmp_path / "head.json").read_text())
    assert len(head.weights) == len(FEATURES) and record["features"] == list(FEATURES)
    assert record["metrics"]["test"]["questions"] > 0
    assert "| test | head |" in (tmp_path / "MODEL_CARD.md").read_text()
