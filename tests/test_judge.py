"""The heuristic faithfulness judge on hard negatives (real MiniLM embeddings), and the pluggable judges."""

from __future__ import annotations

import pytest

from interview_coach.errors import ConfigError, ModelUnavailableError
from interview_coach.judge import EvidenceJudge, NLIJudge, Reason, check_negation, judges, load_judge
from interview_coach.settings import Settings

pytestmark = pytest.mark.slow

ATTENTION = ("Scaled dot-product attention divides the scores by sqrt(d_k). With unit-variance components "
             "the dot product q.k has variance d_k, so large logits would saturate the softmax and its "
             "gradients would vanish.")
CROSS = ("In cross-attention the decoder supplies the queries, and the encoder output supplies the keys "
         "and the values.")
FRAMES = "Frames are 25 ms long with a 10 ms hop, which gives 100 frames per second at 16 kHz."
RESIDUAL = "BatchNorm does not work well with small batches, because its statistics become noisy."


@pytest.fixture(scope="module")
def judge(embeddings):
    return EvidenceJudge(embeddings)


@pytest.mark.parametrize("claim, context", [
    ("Attention divides the scores by the square root of d_k because the dot product has variance d_k.",
     ATTENTION),
    ("Cross-attention takes its queries from the decoder and its keys and values from the encoder.", CROSS),
    ("A 10 ms hop yields 100 frames each second.", FRAMES),
])
def test_supported_paraphrases_pass(judge, claim, context):
    verdict = judge.check([claim], [context])[0]
    assert verdict.supported, verdict.reason


@pytest.mark.parametrize("claim, context, code, reason", [
    ("A 10 ms hop yields 50 frames each second.", FRAMES, Reason.NUMBER, "number 50"),
    ("In cross-attention the queries come from the encoder.", CROSS, Reason.BINDING, "'encoder'"),
    ("BatchNorm works well with small batches, because its statistics become noisy.", RESIDUAL, Reason.NEGATION,
     "negation"),
    ("Dropout randomly zeroes activations during training to regularise the network.", ATTENTION,
     Reason.UNFAMILIAR_WORDS, "dropout"),
])
def test_hard_negatives_are_flagged(judge, claim, context, code, reason):
    verdict = judge.check([claim], [context])[0]
    assert not verdict.supported
    assert verdict.code is code and reason in verdict.reason


def test_a_quoted_negation_is_a_mention_not_a_denial():
    bag = ('A bag-of-words model represents a document as a vector of term counts over a fixed vocabulary, '
           'discarding word order; bigrams such as "not good" recover some of it.')
    assert check_negation("A bag-of-words model represents a document as term counts over a fixed vocabulary.",
                          bag, bag) == ""
    assert check_negation("A bag-of-words model does not represent a document as term counts over a fixed "
                          "vocabulary.", bag, bag)


def test_evidence_points_at_the_right_context(judge):
    verdicts = judge.check(["Frames use a 10 ms hop."], [ATTENTION, FRAMES])
    assert verdicts[0].evidence_index == 1 and "10 ms hop" in verdicts[0].evidence


def test_no_context_means_unsupported(judge):
    verdict = judge.check(["Anything at all."], [])[0]
    assert verdict.supported is False and verdict.code is Reason.NO_CONTEXT


def test_registry_and_configuration_errors(tmp_path):
    assert {"default", "heuristic", "model", "nli", "llm"} <= set(judges())
    with pytest.raises(ConfigError):
        load_judge(Settings.load({}, judge="nope"))
    with pytest.raises(ConfigError):
        load_judge(Settings.load({}, judge="nli"))
    with pytest.raises(ModelUnavailableError):
        NLIJudge(tmp_path / "missing")


def test_the_trained_model_is_the_default_and_the_grader_keeps_the_heuristic(settings, embeddings):
    from interview_coach.coach import Coach
    from interview_coach.judge_model import BUNDLED_JUDGE, CrossEncoderJudge

    default = load_judge(Settings.load({}), embeddings=embeddings)
    assert isinstance(default, CrossEncoderJudge) and default.model.folder == BUNDLED_JUDGE
    assert isinstance(load_judge(Settings.load({"COACH_JUDGE": "heuristic"}), embeddings=embeddings), EvidenceJudge)
    coach = Coach(settings, embeddings=embeddings)
    assert isinstance(coach.judge, CrossEncoderJudge)
    # The grade's calibration was fitted on the heuristic's objections: COACH_JUDGE must not change grades.
    assert isinstance(coach.sentence_judge, EvidenceJudge) and coach.grader.judge is coach.sentence_judge
    heuristic = Coach(settings.replace(judge="heuristic"), embeddings=embeddings)
    assert isinstance(heuristic.judge, EvidenceJudge) and heuristic.judge is not heuristic.sentence_judge


def test_nli_judge_loads_a_local_cross_encoder_folder(tmp_path):
    """A tiny random BERT classifier saved locally: this tests loading and the verdict path, not accuracy."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = "the a claim context is supported not [CLS] [SEP] [PAD] [UNK] frames hop ms".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=3,
                        id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
                        label2id={"contradiction": 0, "neutral": 1, "entailment": 2})
    BertForSequenceClassification(config).save_pretrained(tmp_path / "nli")
    fast.save_pretrained(tmp_path / "nli")

    judge = load_judge(Settings.load({}, judge="nli", judge_model=str(tmp_path / "nli")))
    verdicts = judge.check(["the hop is 10 ms", "frames"], [FRAMES, "the claim is supported"])
    assert len(verdicts) == 2
    assert all(0.0 <= v.score <= 1.0 and v.evidence for v in verdicts)
    assert verdicts == judge.check(["the hop is 10 ms", "frames"], [FRAMES, "the claim is supported"])


@pytest.mark.parametrize("sentence, claim, denied", [
    ("It isn't symmetric: swapping P and Q changes the value, so it's not a true distance.",
     "KL divergence is symmetric, so it is a true distance metric.", True),
    ("Dropout is not active at inference; the weights are scaled instead.",
     "Dropout stays active at inference time.", True),
    # The "not" denies something else: the sentence still makes the claim.
    ("KL divergence is symmetric, so the order of P and Q doesn't matter.",
     "KL divergence is symmetric, so it is a true distance metric.", False),
    ("Random forests are not bagging, they are boosting.", "A random forest is boosting.", False),
    # A claim that itself denies something is left to the other rules.
    ("L1 does not zero any weights.", "L1 never sets weights exactly to zero.", False),
])
def test_denies_reads_a_not_before_a_word_the_claim_asserts(sentence, claim, denied):
    from interview_coach.judge import denies

    assert denies(sentence, claim) is denied
