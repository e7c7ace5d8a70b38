"""The trained judgement model: windowing, loading (and failing to load), reason codes, and hard
negatives through the real shipped model."""

from __future__ import annotations

import json
import shutil

import pytest

from interview_coach.errors import ModelUnavailableError
from interview_coach.judge import Reason, load_judge
from interview_coach.judge_model import (BUNDLED_JUDGE, CONFIG_FILE, GRADING_JUDGE, WEIGHTS_FILE, WINDOW_CHARS,
                                         CrossEncoderJudge, JudgeModel, closest_windows, windows)
from interview_coach.settings import Settings, native_bf16
from interview_coach.text import plain
from interview_coach.verification import verify

BAGGING = ("A random forest is bagging of decision trees: each tree is trained independently on a bootstrap "
           "sample, and their predictions are averaged, which mainly reduces variance. Boosting instead trains "
           "trees sequentially, each one fitted to the errors of the ensemble so far.")
ATTENTION = ("Scaled dot-product attention divides the scores by sqrt(d_k). With unit-variance components the dot "
             "product q.k has variance d_k, so large logits would saturate the softmax and its gradients would vanish.")
CROSS = ("In cross-attention the decoder supplies the queries, and the encoder output supplies the keys and the "
         "values.")
FRAMES = "Frames are 25 ms long with a 10 ms hop, which gives 100 frames per second at 16 kHz."
L1 = ("L1 regularisation adds the sum of absolute weights to the loss, which drives many weights to exactly zero "
      "and so performs feature selection. L2 adds the sum of squared weights and shrinks all weights smoothly.")


# -- windowing and normalisation (no model) ------------------------------------------------------------

def test_windows_slide_two_sentences_at_a_time():
    text = "One is first. Two is second. Three is third. Four is fourth."
    assert windows(text) == ["One is first. Two is second.", "Two is second. Three is third.",
                             "Three is third. Four is fourth."]
    assert windows("Only one sentence here.") == ["Only one sentence here."]
    assert windows("   ") == []


def test_a_huge_passage_is_windowed_whole_not_truncated():
    sentence = "The encoder reads the whole input sequence before the decoder starts. "
    text = sentence * 1500 + "The final sentence mentions zebras."
    assert len(text) > 100_000
    spans = windows(text)
    assert "zebras" in spans[-1]
    assert all(len(w) <= 2 * WINDOW_CHARS + 1 for w in spans)
    one_long_sentence = "word " * 30_000  # no full stop at all: cut by characters, nothing dropped
    pieces = windows(one_long_sentence)
    assert sum(w.count("word") for w in pieces) >= 30_000


def test_plain_drops_markdown_but_keeps_the_claim():
    assert plain("1. **L1 regularisation** adds `|w|` to the loss") == "L1 regularisation adds |w| to the loss"
    assert plain("- $QK^T / \\sqrt{d_k}$ scales the scores") == "QK^T / \\sqrt{d_k} scales the scores"
    assert plain("rho * sigma^2") == "rho * sigma^2"


def test_windows_are_chosen_by_the_rare_words_they_share_with_the_claim():
    texts = ["Dropout zeroes activations at random during training.",
             "Attention divides the scores by sqrt(d_k) before the softmax.",
             "The softmax turns the scores into weights that sum to one.",
             "Batch norm normalises each feature over the batch.",
             "Frames are 25 ms long with a 10 ms hop."]
    claims = ["Scores are divided by sqrt(d_k).", "Frames hop by 10 ms.", "Cats purr."]
    chosen = closest_windows(claims, texts, keep=2)
    assert 1 in chosen[0] and 4 not in chosen[0]
    assert 4 in chosen[1]
    assert chosen[2] == [0, 1]                      # nothing shared: the first windows, in passage order
    assert all(c == sorted(c) and len(c) == 2 for c in chosen)
    assert closest_windows(claims, texts[:2], keep=4) == [[0, 1]] * 3  # few windows: all of them


# -- loading -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", [BUNDLED_JUDGE, GRADING_JUDGE], ids=["judge", "grading-judge"])
def test_the_bundled_artefacts_are_small_and_complete(folder):
    files = {f.name: f.stat().st_size for f in folder.iterdir()}
    assert {WEIGHTS_FILE, CONFIG_FILE, "MODEL_CARD.md"} <= set(files)
    assert all(size <= 25 * 1024 * 1024 for size in files.values())
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["labels"] == ["supports", "contradicts", "neither"]


def test_missing_or_corrupt_model_folder_says_how_to_fix_it(tmp_path):
    with pytest.raises(ModelUnavailableError, match="make train-judge"):
        JudgeModel(tmp_path / "nothing-here")
    broken = tmp_path / "broken"
    shutil.copytree(BUNDLED_JUDGE, broken)
    (broken / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelUnavailableError, match="corrupt"):
        JudgeModel(broken)
    shutil.copy(BUNDLED_JUDGE / CONFIG_FILE, broken / CONFIG_FILE)
    (broken / WEIGHTS_FILE).write_bytes(b"\x00garbage" * 100)
    model = JudgeModel(broken)  # weights load lazily, on first use
    with pytest.raises(ModelUnavailableError, match="make train-judge"):
        model.probabilities([("a passage", "a statement")])


# -- the real model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judge(embeddings):
    judge = load_judge(Settings.load({}, judge="model"), embeddings=embeddings)
    assert isinstance(judge, CrossEncoderJudge)
    return judge


@pytest.mark.slow
def test_probabilities_are_three_way_distributions(judge):
    probs = judge.model.probabilities([(FRAMES, "A 10 ms hop gives 100 frames a second."), (FRAMES, "Cats purr.")])
    assert probs.shape == (2, 3)
    assert abs(float(probs.sum(axis=1).min()) - 1) < 1e-4


@pytest.mark.slow
def test_bf16_reads_like_fp32():
    """Where the CPU has bf16 instructions the judge reads in bf16 (native_bf16): its probabilities must stay
    those of fp32 to a few thousandths, on supported, contradicted and unrelated pairs alike."""
    pairs = [(FRAMES, "A 10 ms hop gives 100 frames a second."), (FRAMES, "A 10 ms hop gives 1000 frames per second."),
             (L1, "L1 regularisation shrinks all weights smoothly and never makes them exactly zero."),
             (CROSS, "Cross-attention takes its queries from the decoder."), (ATTENTION, "Cats purr.")]
    fp32 = JudgeModel(bf16=False).probabilities(pairs)
    bf16 = JudgeModel(bf16=True).probabilities(pairs)
    assert abs(fp32 - bf16).max() < 0.03
    assert (fp32.argmax(axis=1) == bf16.argmax(axis=1)).all()
    assert isinstance(native_bf16(), bool) and JudgeModel().bf16 == native_bf16()


# Known weaknesses of the shipped model (the default judge since v11; README: why anyway). The first
# model called close paraphrases contradictions; the twins in its training data (training/judge/README.md)
# fixed most of those but it reads a swapped role (encoder/decoder, query/key) in the passage's own words as
# support. v9 (with the classical notes' pairs) now passes "a 10 ms hop yields 100 frames each second" and
# catches "L1 ... never makes them exactly zero", which v7 did not, but reads "multiplies the scores by d_k"
# against "divides by the square root of d_k" as support, which v7 caught. strict=True: once a retrained
# model gets a case right, its test fails until the marker is removed.
SWAPPED_ROLES = pytest.mark.xfail(strict=True, reason="the trained judge reads a swapped role in the passage's words as support")
# v11 (second stage on distant pairs and claims) reads this one, which v9 did not; it calls a correct L1 statement
# a contradiction where the window also says L2 "shrinks all weights smoothly", which v9 did not.
CONTRAST_IN_WINDOW = pytest.mark.xfail(strict=True, reason="the trained judge reads a correct statement as contradicted "
                                       "by a contrasting sentence in the same window (v11; v9 passed it)")


@pytest.mark.slow
@pytest.mark.parametrize("claim, context", [
    ("Attention divides the scores by the square root of d_k because the dot product has variance d_k.", ATTENTION),
    ("Cross-attention takes its queries from the decoder and its keys and values from the encoder.", CROSS),
    ("A 10 ms hop yields 100 frames each second.", FRAMES),
    pytest.param("1. **L1 regularisation** adds the absolute weights to the loss, so many weights become exactly zero.",
                 L1, marks=CONTRAST_IN_WINDOW),
])
def test_supported_paraphrases_pass(judge, claim, context):
    verdict = judge.check([claim], [context])[0]
    assert verdict.supported and verdict.code is Reason.SUPPORTED, verdict


@pytest.mark.slow
@pytest.mark.parametrize("claim, context", [
    pytest.param("In cross-attention the queries come from the encoder and the keys from the decoder.", CROSS,
                 marks=SWAPPED_ROLES),
    ("L1 regularisation shrinks all weights smoothly and never makes them exactly zero.", L1),
    ("A 10 ms hop gives 1000 frames per second.", FRAMES),
])
def test_contradictions_are_reported_as_such(judge, claim, context):
    verdict = judge.check([claim], [context])[0]
    assert not verdict.supported
    assert verdict.code is Reason.CONTRADICTED and verdict.contradicts, verdict


@pytest.mark.slow
@pytest.mark.parametrize("claim, context", [
    ("Random forests are boosting: each tree corrects the mistakes of the previous tree.", BAGGING),
    ("Attention multiplies the scores by d_k so that the softmax saturates.", ATTENTION),
])
def test_contradictions_of_a_paraphrased_kind_are_caught(judge, claim, context):
    verdict = judge.check([claim], [context])[0]
    assert verdict.code is Reason.CONTRADICTED, verdict


@pytest.mark.slow
@pytest.mark.parametrize("claim, context", [
    ("Dropout randomly zeroes activations during training to regularise the network.", ATTENTION),
    ("Whisper was trained on 680,000 hours of weakly supervised audio.", FRAMES),
])
def test_statements_the_passage_does_not_make_are_not_in_sources(judge, claim, context):
    verdict = judge.check([claim], [context])[0]
    assert not verdict.supported and verdict.code is not Reason.SUPPORTED, verdict


@pytest.mark.slow
def test_bad_input_never_crashes(judge):
    empty_claim, blank = judge.check(["", "   "], [FRAMES])
    assert not empty_claim.supported and empty_claim.code is Reason.NOT_IN_SOURCES
    assert not blank.supported
    assert judge.check(["A 10 ms hop."], ["", "  "])[0].code is Reason.NO_CONTEXT
    assert judge.check([], [FRAMES]) == []
    long = ("Speech features are computed frame by frame. " * 120) + FRAMES
    verdict = judge.check(["A 10 ms hop yields 100 frames each second."], [long])[0]
    assert "10 ms hop" in verdict.evidence  # the deciding window is found at the very end


@pytest.mark.slow
def test_evidence_points_at_the_context_that_decides(judge):
    verdict = judge.check(["Frames use a 10 ms hop."], [ATTENTION, FRAMES])[0]
    assert verdict.evidence_index == 1 and "10 ms hop" in verdict.evidence


@pytest.mark.slow
def test_each_claim_against_its_own_contexts_in_one_batch(judge):
    calls = []
    model = judge.model
    original = model.probabilities
    model.probabilities = lambda pairs: calls.append(len(pairs)) or original(pairs)
    try:
        both = judge.check_each([("A 10 ms hop yields 100 frames each second.", [ATTENTION, FRAMES]),
                                 ("L1 regularisation never drives weights to exactly zero.", [L1]),
                                 ("", [FRAMES]), ("Frames hop.", ["  "])])
    finally:
        model.probabilities = original
    assert len(calls) == 1  # one batched call for every item
    assert both[0].supported and both[0].evidence_index == 1
    assert both[1].code is Reason.CONTRADICTED
    assert both[2].code is Reason.NOT_IN_SOURCES and both[3].code is Reason.NO_CONTEXT
    one_by_one = [judge.check([claim], contexts)[0] for claim, contexts in
                  [("A 10 ms hop yields 100 frames each second.", [ATTENTION, FRAMES]),
                   ("L1 regularisation never drives weights to exactly zero.", [L1])]]
    assert [(v.code, round(v.score, 4)) for v in one_by_one] == [(v.code, round(v.score, 4)) for v in both[:2]]


@pytest.mark.slow
def test_verification_carries_reason_codes(judge):
    answer = ("A 10 ms hop gives 100 frames per second [1]. L1 regularisation never drives weights to exactly "
              "zero [2]. Frames are 25 ms long.")
    checks = verify(answer, [FRAMES, L1], judge)
    assert checks[1].code is Reason.CONTRADICTED and checks[1].evidence_source == 2
    assert checks[2].code is Reason.NO_CITATION and not checks[2].supported
    assert all(c.code in Reason for c in checks)


# -- training data (no model) ----------------------------------------------------------------------------

@pytest.mark.slow
def test_sentence_twins_are_minimal_pairs_from_notes_dev_and_test_do_not_hold(monkeypatch):
    """training/train_judge.py: each twin is a note's own sentence (supports) and that sentence with one
    decisive edit (contradicts), against the same window; no dev or test note lends a sentence."""
    from conftest import REPO
    from interview_coach.corpus import load_corpus
    from interview_coach.judge_data import load_pairs, split_pairs

    monkeypatch.syspath_prepend(str(REPO / "training"))
    from train_judge import SENTENCE_TWINS, note_sentences, sentence_twins

    corpus = load_corpus(Settings().corpus_dir)
    splits = split_pairs(load_pairs())
    held_out = {p.note for split in ("dev", "test") for p in splits[split]}
    twins = sentence_twins(corpus, held_out)
    assert 0 < len(twins) <= 2 * SENTENCE_TWINS and len(twins) % 2 == 0
    allowed = {s for note, sentences in note_sentences(corpus).items() if note not in held_out for s in sentences}
    forbidden = {s for note, sentences in note_sentences(corpus).items() if note in held_out for s in sentences}
    for (window, sentence, supports), (same_window, edited, contradicts) in zip(twins[::2], twins[1::2]):
        assert window == same_window and (supports, contradicts) == (0, 1)
        assert sentence in window and sentence in allowed and sentence not in forbidden
        assert edited != sentence and "?" not in sentence
    assert sentence_twins(corpus, held_out) == twins  # seeded


def test_length_grouped_batches_cover_every_pair_once_and_pad_less(monkeypatch):
    """training/train_judge.py --megabatch: batches come from runs of batches sorted by length, so a batch
    pads to a length close to its own pairs'; each epoch still sees every pair exactly once, in an order
    fixed by the seed and different from the last epoch's."""
    import random

    from conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "training"))
    from train_judge import length_grouped

    lengths = [random.Random(n).randint(10, 250) for n in range(1000)]
    sampler = length_grouped(lengths, 8)(list(range(len(lengths))), batch_size=32, drop_last=False, seed=13)
    first = list(sampler)
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    assert len(first) == len(sampler) == 32 and all(1 <= len(b) <= 32 for b in first)
    assert first == list(sampler)                    # seeded
    sampler.set_epoch(1)
    assert list(sampler) != first                    # a new order each epoch
    padded = sum(len(b) * max(lengths[i] for i in b) for b in first)
    shuffled = random.Random(13).sample(range(1000), 1000)
    padded_random = sum(len(shuffled[i:i + 32]) * max(lengths[j] for j in shuffled[i:i + 32]) for i in range(0, 1000, 32))
    assert padded < 0.8 * padded_random
