"""Faithfulness judges behind one interface: does this context support this claim?

This module holds the interface, the registry, the reason codes and the "heuristic" judge (embedding
similarity plus lexical checks). Our trained cross-encoder is the "model" judge and the default
(judge_model.py); NLI and LLM judges plug in through the same registry.
Sentence splitting and citations live in verification.py.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable

from .embeddings import embed_array
from .errors import ConfigError, ModelUnavailableError
from .settings import Settings, offline_environment
from .text import content_words, numbers, split_sentences, stem, words


class Reason(StrEnum):
    """Why a claim was or was not accepted. Code branches on these; messages are for people only."""

    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"          # the sources state otherwise (trained judge)
    NOT_IN_SOURCES = "not-in-sources"      # the sources neither state nor refute it
    NO_CONTEXT = "no-context"              # nothing to check against
    NO_CITATION = "no-citation"            # verification: the sentence cites nothing
    INVALID_CITATION = "invalid-citation"  # verification: a marker points at no source
    RESTATES_QUESTION = "restates-question"  # adds nothing beyond the question
    BEYOND_QUESTION = "beyond-question"    # what it adds to the question is not in the sources
    PRAISES_A_GAP = "praises-a-gap"        # critique: credits the candidate with a fact that is no strength
    # The heuristic judge's checks, named after them:
    NUMBER = "number"
    ROLE = "role"
    BINDING = "binding"
    NEGATION = "negation"
    ABSENT_TERMS = "absent-terms"
    UNFAMILIAR_WORDS = "unfamiliar-words"
    LOW_SIMILARITY = "low-similarity"
    NO_ENTAILMENT = "no-entailment"        # NLI or LLM judge said no


# Codes that mean "the sources say something else", as opposed to "the sources do not say this".
CONTRADICTION_CODES = frozenset({Reason.CONTRADICTED, Reason.NUMBER, Reason.ROLE, Reason.BINDING,
                                 Reason.NEGATION, Reason.ABSENT_TERMS})


@dataclass
class Verdict:
    claim: str
    supported: bool
    score: float                 # support confidence 0..1 (judge-specific scale)
    reason: str = ""             # why unsupported, one short phrase for people; "" when supported
    evidence: str = ""           # best matching context passage
    evidence_index: int | None = None  # index into the contexts list of that passage
    code: Reason = Reason.SUPPORTED    # what code branches on
    contradiction: float = 0.0   # how strongly the sources contradict it, 0..1 (trained judge)

    def __post_init__(self):
        if not self.supported and self.code is Reason.SUPPORTED:
            raise ValueError("an unsupported verdict needs a reason code")

    @property
    def contradicts(self) -> bool:
        """The sources state otherwise (not merely: the sources do not say this)."""
        return self.code in CONTRADICTION_CODES


class Judge(ABC):
    @abstractmethod
    def check(self, claims: list[str], contexts: list[str]) -> list[Verdict]:
        """One verdict per claim: is it supported by the contexts taken together?"""

    def check_each(self, items: list[tuple[str, list[str]]]) -> list[Verdict]:
        """One verdict per (claim, its own contexts); a judge that can batch across items overrides this."""
        return [self.check([claim], contexts)[0] for claim, contexts in items]


_JUDGES: dict[str, Callable[..., Judge]] = {}


def register_judge(name: str):
    """Decorator: make a Judge factory(settings, embeddings, chat_model) available as COACH_JUDGE=name."""

    def decorate(factory):
        _JUDGES[name] = factory
        return factory

    return decorate


def judges() -> list[str]:
    return sorted(_JUDGES)


def load_judge(settings: Settings, embeddings=None, chat_model: Callable[[], object] | None = None) -> Judge:
    factory = _JUDGES.get(settings.judge)
    if factory is None:
        raise ConfigError(f"unknown judge {settings.judge!r}; choose one of {', '.join(judges())}")
    return factory(settings, embeddings, chat_model)


# ---------------------------------------------------------------------------------------------------
# The heuristic judge (the default until the trained model replaced it; still the grader's sentence check)

# Words whose swap changes who does what. A claim that uses one side where the context uses the other
# is the classic "fluent but wrong" error that embeddings score as near-identical.
ROLE_PAIRS = [
    ("encoder", "decoder"), ("query", "key"), ("key", "value"), ("query", "value"),
    ("precision", "recall"), ("fp", "fn"), ("false positive", "false negative"),
    ("false accept", "false reject"), ("far", "frr"), ("generator", "discriminator"),
    ("content", "style"), ("bias", "variance"), ("l1", "l2"), ("row", "column"),
    ("above", "below"), ("upper", "lower"), ("before", "after"), ("past", "future"),
    ("increase", "decrease"), ("larger", "smaller"), ("higher", "lower"), ("more", "less"),
    ("more", "fewer"), ("maximum", "minimum"), ("max", "min"), ("first", "last"), ("left", "right"),
    ("input", "output"), ("input", "forget"), ("forget", "output"), ("mean", "variance"),
    ("large", "small"), ("faster", "slower"), ("training", "inference"), ("train", "test"),
    ("overfit", "underfit"), ("overfitting", "underfitting"), ("convex", "concave"),
    ("supervised", "unsupervised"), ("discriminative", "generative"), ("local", "global"),
    ("shallow", "deep"), ("early", "late"), ("add", "multiply"), ("additive", "multiplicative"),
    ("sum", "product"), ("positive", "negative"), ("true", "false"), ("same", "different"),
    ("long", "short"), ("low", "high"), ("narrow", "wide"), ("student", "teacher"),
    ("target", "impostor"), ("parallel", "sequential"), ("independent", "dependent"),
    ("stationary", "non-stationary"), ("linear", "nonlinear"), ("lowest", "highest"),
    ("smallest", "largest"), ("minimise", "maximise"), ("minimize", "maximize"),
    ("underestimate", "overestimate"), ("increases", "decreases"), ("rises", "falls"),
    ("always", "never"), ("greater", "smaller"),
    ("reduce", "increase"), ("reduces", "increases"), ("worse", "better"), ("beat", "match"),
    ("outperform", "match"), ("cheaper", "costlier"), ("easier", "harder"), ("stable", "unstable"),
    ("dense", "sparse"), ("hard", "soft"), ("weak", "strong"), ("start", "end"), ("beginning", "end"),
    ("horizontal", "vertical"), ("width", "height"), ("numerator", "denominator"),
    ("bagging", "boosting"), ("log", "exponential"), ("symmetric", "asymmetric"), ("convex", "non-convex"),
    ("causal", "bidirectional"), ("regression", "classification"),
]
NEGATION_OVERLAP = 0.7
BINDING_MARGIN = 2
BEYOND_QUESTION_MISSING = 0.5
NEGATIONS = frozenset("not no never cannot without neither nor none nothing fails unable".split())


def is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


@dataclass
class _Scored:
    similarity: float
    passage: str
    index: int


class EvidenceJudge(Judge):
    """Supported when some context passage is semantically close AND no lexical check objects.

    Thresholds were set on eval/datasets/labelled_claims.jsonl (see `coach eval faithfulness`).
    """

    # Set by a grid search on the 265 labelled claims (balanced accuracy 0.661 there; paraphrases
    # reuse few of the note's words, so the coverage floor must stay low).
    SIMILARITY = 0.45        # cosine to the best passage (a sentence or two adjacent sentences)
    COVERAGE = 0.3           # share of the claim's content words found anywhere in the context
    ABSENT_TERM_LIMIT = 3    # distinctive terms (acronyms, code, long words) allowed to be missing

    def __init__(self, embeddings):
        self.embeddings = embeddings

    def _embed(self, texts: list[str]):
        return embed_array(self.embeddings, texts)

    @staticmethod
    def passages(contexts: list[str]) -> list[tuple[str, int]]:
        """Sentences and pairs of adjacent sentences: claims often merge two sentences of a note."""
        out: list[tuple[str, int]] = []
        for i, context in enumerate(contexts):
            sentences = split_sentences(context)
            out.extend((s, i) for s in sentences)
            out.extend((f"{a} {b}", i) for a, b in zip(sentences, sentences[1:]))
        return out

    def check(self, claims: list[str], contexts: list[str]) -> list[Verdict]:
        claims = [c.strip() for c in claims]
        contexts = [c for c in contexts if c and c.strip()]
        if not contexts:
            return [Verdict(c, False, 0.0, "no context to check against", code=Reason.NO_CONTEXT) for c in claims]
        passages = self.passages(contexts)
        vectors = self._embed([p for p, _ in passages])
        claim_vectors = self._embed(claims) if claims else None
        context_text = " ".join(contexts)
        verdicts = []
        for row, claim in enumerate(claims):
            sims = vectors @ claim_vectors[row]
            best = int(sims.argmax())
            scored = _Scored(float(sims[best]), passages[best][0], passages[best][1])
            verdicts.append(self._verdict(claim, scored, context_text))
        return verdicts

    def _verdict(self, claim: str, best: _Scored, context: str) -> Verdict:
        code, reason = self.objection(claim, best.passage, context)
        if not reason and best.similarity < self.SIMILARITY:
            code, reason = Reason.LOW_SIMILARITY, f"no source sentence says this (best match {best.similarity:.2f})"
        score = max(0.0, min(1.0, best.similarity)) * (0.5 if reason else 1.0)
        return Verdict(claim, not reason, score, reason, best.passage, best.index, code=code)

    @classmethod
    def objection(cls, claim: str, evidence: str, context: str) -> tuple[Reason, str]:
        """The first lexical objection (its code and message), or (SUPPORTED, "")."""
        for code, check in LEXICAL_CHECKS:
            reason = check(claim, evidence, context)
            if reason:
                return code, reason
        return Reason.SUPPORTED, ""


def check_numbers(claim: str, evidence: str, context: str) -> str:
    """Every number the claim states must appear in the context (0.25 and 25% count as equal)."""
    # Only digits are checked: number words ("two-class", "half") are how paraphrases rephrase.
    known = numbers(evidence)
    for number in sorted(numbers(claim)):
        if number not in known and not _equivalent_number(number, known):
            return f"the number {number} is not in the sources"
    return ""


def check_roles(claim: str, evidence: str, context: str) -> str:
    """The claim says one side of a pair (encoder/decoder, precision/recall) where the evidence says the other."""
    claim_text = " ".join(stem(w) for w in words(claim))
    evidence_text = " ".join(stem(w) for w in words(evidence))
    for a, b in ROLE_PAIRS:
        a, b = " ".join(stem(w) for w in a.split()), " ".join(stem(w) for w in b.split())
        for this, other in ((a, b), (b, a)):
            if (_has(claim_text, this) and not _has(claim_text, other)
                    and _has(evidence_text, other) and not _has(evidence_text, this)):
                return f"says {this!r} where the source says {other!r}"
    return ""


_CLAUSE = re.compile(r"[,;:()]|\b(?:whereas|while|but|so|because)\b")


def check_role_binding(claim: str, evidence: str, context: str) -> str:
    """Both sides of a pair are in the evidence, each in its own clause; the claim puts one side in a
    clause whose other words belong to the other side's clause ("queries come from the encoder"
    against "the decoder supplies the queries, the encoder supplies the keys")."""
    evidence_clauses = [{stem(w) for w in words(c)} for c in _CLAUSE.split(evidence) if c and c.strip()]
    for clause in (c for c in _CLAUSE.split(claim) if c and c.strip()):
        stems = {stem(w) for w in content_words(clause)}
        for a, b in ROLE_PAIRS:
            if " " in a or " " in b:
                continue
            a, b = stem(a), stem(b)
            for this, other in ((a, b), (b, a)):
                if this not in stems or other in stems:
                    continue
                own = [c for c in evidence_clauses if this in c and other not in c]
                theirs = [c for c in evidence_clauses if other in c and this not in c]
                if not own or not theirs:
                    continue
                rest = stems - {this}
                if max(len(rest & c) for c in theirs) >= max(len(rest & c) for c in own) + BINDING_MARGIN:
                    return f"ties {this!r} to what the source says of {other!r}"
    return ""


_QUOTED = re.compile(r'"[^"]{1,60}"|\u201c[^\u201d]{1,60}\u201d')


def check_negation(claim: str, evidence: str, context: str) -> str:
    """The claim and its evidence disagree on whether something is denied."""
    # A quoted "not good" is a phrase being mentioned (an example bigram), not a denial.
    claim_neg = sum(map(is_negation, words(_QUOTED.sub(" ", claim))))
    evidence_neg = sum(map(is_negation, words(_QUOTED.sub(" ", evidence))))
    if (claim_neg > 0) != (evidence_neg > 0):
        # Paraphrases often swap "ignores" for "does not use"; only a claim that otherwise repeats the
        # evidence's words is a flipped statement.
        evidence_stems = {stem(w) for w in words(evidence)}
        content = [w for w in content_words(claim) if w not in NEGATIONS]
        if content and sum(stem(w) in evidence_stems for w in content) / len(content) >= NEGATION_OVERLAP:
            return "negation differs from the source"
    return ""


NEGATION_SCOPE = 2   # content words after a "not" that it denies
NEGATION_FILLER = frozenset("a an the be is are really necessarily always quite at all very truly just".split())


def denies(sentence: str, claim: str) -> bool:
    """The sentence puts a "not" right before a word the claim asserts ("it isn't symmetric" against "KL is
    symmetric"): it denies the claim rather than stating it, however many words the two share. A claim
    that itself denies something is never matched this way."""
    if any(map(is_negation, words(claim))):
        return False
    asserted = {stem(w) for w in content_words(claim)}
    tokens = words(sentence)
    for i, w in enumerate(tokens):
        if is_negation(w):
            scope = [t for t in tokens[i + 1:i + 1 + NEGATION_SCOPE + 2] if t not in NEGATION_FILLER][:NEGATION_SCOPE]
            if any(stem(t) in asserted for t in scope):
                return True
    return False


def check_absent_terms(claim: str, evidence: str, context: str) -> str:
    """Distinctive words (acronyms, identifiers, long technical words) the context never uses."""
    context_stems = {stem(w) for w in words(context)}
    distinctive = [w for w in content_words(claim) if stem(w) not in context_stems and _distinctive(w)]
    if len(distinctive) > EvidenceJudge.ABSENT_TERM_LIMIT:
        return "terms not in the sources: " + ", ".join(distinctive[:3])
    return ""


def check_unfamiliar_words(claim: str, evidence: str, context: str) -> str:
    """Most of the claim's content words are words the context never uses."""
    context_stems = {stem(w) for w in words(context)}
    content = content_words(claim)
    missing = [w for w in content if stem(w) not in context_stems]
    if content and 1 - len(missing) / len(content) < EvidenceJudge.COVERAGE:
        return "mostly words the sources do not use: " + ", ".join(missing[:3])
    return ""


def check_beyond_question(claim: str, question: str, context: str) -> tuple[Reason, str]:
    """What the claim adds to the question must be in the context. Restating the question ("EER in
    speaker verification is ...") makes any definition look similar to the notes; only the rest counts."""
    asked = {stem(w) for w in words(question)}
    context_stems = {stem(w) for w in words(context)}
    added = [w for w in content_words(claim) if stem(w) not in asked]
    if not added:
        return Reason.RESTATES_QUESTION, "it only restates the question"
    if len(added) < 2:
        return Reason.SUPPORTED, ""
    missing = [w for w in added if stem(w) not in context_stems]
    if len(missing) / len(added) > BEYOND_QUESTION_MISSING:
        return (Reason.BEYOND_QUESTION,
                "what it adds to the question is not in the sources: " + ", ".join(missing[:3]))
    return Reason.SUPPORTED, ""


LEXICAL_CHECKS = [(Reason.NUMBER, check_numbers), (Reason.ROLE, check_roles), (Reason.BINDING, check_role_binding),
                  (Reason.NEGATION, check_negation), (Reason.ABSENT_TERMS, check_absent_terms),
                  (Reason.UNFAMILIAR_WORDS, check_unfamiliar_words)]


def _has(text: str, term: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text) is not None


def _equivalent_number(number: str, known: set[str]) -> bool:
    try:
        value = float(number)
    except ValueError:
        return False
    for other in known:
        try:
            o = float(other)
        except ValueError:
            continue
        if abs(o - value * 100) < 1e-6 or abs(o * 100 - value) < 1e-6:
            return True  # 0.25 and 25 (%) are the same statement
        if o and abs(o - value) / abs(o) <= 0.05 and len(number.replace(".", "")) < len(other.replace(".", "")):
            return True  # a rounding of a stated number: 85M for 84.9M
    return False


def _distinctive(word: str) -> bool:
    # Acronyms, identifiers and long technical words carry the claim; common short words do not.
    return any(ch.isdigit() for ch in word) or "_" in word or len(word) >= 9


@register_judge("heuristic")
def _heuristic(settings: Settings, embeddings, chat_model) -> Judge:
    if embeddings is None:
        from .embeddings import load_embeddings

        embeddings = load_embeddings(settings)
    return EvidenceJudge(embeddings)


# ---------------------------------------------------------------------------------------------------
# Pluggable judges


class NLIJudge(Judge):
    """An NLI cross-encoder from a local folder (e.g. an NLI DeBERTa or HHEM model the user has).

    Supported when the entailment probability against the best context passage passes `threshold`.
    """

    def __init__(self, model_dir: Path, threshold: float = 0.5):
        if not (model_dir / "config.json").is_file():
            raise ModelUnavailableError(f"no NLI model folder at {model_dir} (expected a config.json)")
        self.model_dir = model_dir
        self.threshold = threshold
        self._model = None
        self._entail = 0

    def _load(self):
        if self._model is None:
            offline_environment()
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(str(self.model_dir), local_files_only=True)
            labels = {v.lower(): int(k) for k, v in self._model.model.config.id2label.items()}
            # Models name the class "entailment" (NLI) or "consistent"/"supported"; fall back to the last.
            self._entail = next((labels[n] for n in ("entailment", "consistent", "supported") if n in labels),
                                max(labels.values()))
        return self._model

    def check(self, claims: list[str], contexts: list[str]) -> list[Verdict]:
        import numpy as np

        model = self._load()
        passages = EvidenceJudge.passages([c for c in contexts if c.strip()])
        if not passages:
            return [Verdict(c, False, 0.0, "no context to check against", code=Reason.NO_CONTEXT) for c in claims]
        verdicts = []
        for claim in claims:
            logits = np.asarray(model.predict([(p, claim) for p, _ in passages], apply_softmax=False))
            if logits.ndim == 1:  # a single-logit model (HHEM-style): sigmoid is the support probability
                probs = 1 / (1 + np.exp(-logits))
            else:
                e = np.exp(logits - logits.max(axis=1, keepdims=True))
                probs = (e / e.sum(axis=1, keepdims=True))[:, self._entail]
            best = int(probs.argmax())
            ok = bool(probs[best] >= self.threshold)
            verdicts.append(Verdict(claim, ok, float(probs[best]), "" if ok else "the NLI model finds no entailment",
                                    passages[best][0], passages[best][1],
                                    code=Reason.SUPPORTED if ok else Reason.NO_ENTAILMENT))
        return verdicts


@register_judge("nli")
def _nli(settings: Settings, embeddings, chat_model) -> Judge:
    if not settings.judge_model:
        raise ConfigError("the nli judge needs COACH_JUDGE_MODEL set to a local cross-encoder folder")
    return NLIJudge(Path(settings.judge_model).expanduser())


class LLMJudge(Judge):
    """Asks the chat model yes/no per claim against the best passages found by the heuristic judge."""

    def __init__(self, chat_model: Callable[[], object], embeddings):
        self._chat_model = chat_model
        self._evidence = EvidenceJudge(embeddings)

    def check(self, claims: list[str], contexts: list[str]) -> list[Verdict]:
        from .prompts import render

        model = self._chat_model()
        verdicts = []
        for prior in self._evidence.check(claims, contexts):
            if not prior.evidence:
                verdicts.append(prior)
                continue
            reply = model.chat(render("judge", context=prior.evidence, claim=prior.claim), max_tokens=3)
            ok = reply.strip().lower().startswith("yes")
            verdicts.append(Verdict(prior.claim, ok, 1.0 if ok else 0.0, "" if ok else "the LLM judge says no",
                                    prior.evidence, prior.evidence_index,
                                    code=Reason.SUPPORTED if ok else Reason.NO_ENTAILMENT))
        return verdicts


@register_judge("llm")
def _llm(settings: Settings, embeddings, chat_model) -> Judge:
    if chat_model is None:
        from .llm import load_chat_model

        model = load_chat_model(settings)
        chat_model = lambda: model  # noqa: E731
    if embeddings is None:
        from .embeddings import load_embeddings

        embeddings = load_embeddings(settings)
    return LLMJudge(chat_model, embeddings)


from . import judge_model  # noqa: E402,F401  registers the trained "model" judge
