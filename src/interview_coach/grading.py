"""Grade a candidate answer against a rubric (rubric.py): which key points are covered (with the
candidate's words as evidence), which claims are wrong (a known misconception, or what the notes
contradict) with their correction, which points are missed (with a cited note excerpt), one line on
why the score is what it is, and a follow-up.

The score maps coverage through a calibration fitted on a dev split (training/calibrate_grading.py);
sessions, storage and scheduling are left to interview.py, store.py and scheduler.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .chunking import Citation
from .embeddings import embed_array
from .judge import ROLE_PAIRS, Reason, check_roles, denies
from .resources import grading_calibration_file
from .rubric import Against, Rubric, RubricBuilder
from .text import answer_sentences, content_words, split_sentences, stem, words

ROLE_STEMS = frozenset(stem(w) for pair in ROLE_PAIRS for side in pair for w in side.split())


@dataclass
class PointResult:
    point: str                   # the rubric key point
    covered: bool
    similarity: float            # how well the best answer passage says it, 0..1
    evidence: str = ""           # the candidate's own sentence that covers it ("" if missed)
    citation: int | None = None  # [n] of the note excerpt that explains it (missed points)
    excerpt: str = ""            # that note excerpt


@dataclass
class CheckClaim:
    sentence: str                # the candidate's sentence
    reason: str                  # what is wrong with it, for people
    excerpt: str = ""            # the correction, or what the notes say instead
    citation: int | None = None
    kind: str = "contradiction"  # "misconception" | "contradiction" (code branches on these)


@dataclass
class Grade:
    question_id: str | None      # None when graded against retrieved notes only
    question: str
    answer: str
    score: int                   # 0..100
    covered: list[PointResult] = field(default_factory=list)
    missed: list[PointResult] = field(default_factory=list)
    check_this: list[CheckClaim] = field(default_factory=list)  # what the notes state otherwise
    feedback: str = ""
    follow_up: str | None = None
    citations: list[Citation] = field(default_factory=list)
    graded_against: str = Against.BANK  # rubric.Against
    reason: str = ""             # why the score is capped (empty, off-topic, uncovered ...), "" otherwise
    wrong: list[CheckClaim] = field(default_factory=list)  # known misconceptions the answer states
    why: str = ""                # one line: why the score is what it is
    coverage: float = 0.0        # mean credit over key points, 0..1, before calibration

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """What turns measures into a score, fitted on the dev split of the graded answers by
    training/calibrate_grading.py (see the file's `fitted_on` and its dev/test figures)."""

    coverage: tuple[float, ...]  # knots of the coverage -> score curve, increasing
    score: tuple[float, ...]     # score at each knot, non-decreasing
    # P(the answer has a central error) = sigmoid(bias + weights . Measures.wrongness_features()),
    # a logistic regression; the score loses `wrong_penalty` x that share.
    wrong_bias: float = -3.0
    wrong_weights: tuple[float, ...] = (0.0, 0.0, 0.0)
    wrong_penalty: float = 0.0
    wrong_cap: float = 25.0      # a misconception stated outright caps the score here

    @classmethod
    def read(cls, path: Path | None = None) -> "Calibration":
        raw = json.loads((path or grading_calibration_file()).read_text(encoding="utf-8"))
        return cls(tuple(raw["coverage"]), tuple(raw["score"]), float(raw["wrong_bias"]),
                   tuple(float(w) for w in raw["wrong_weights"]), float(raw["wrong_penalty"]),
                   float(raw["wrong_cap"]))

    def to_dict(self) -> dict:
        return asdict(self)

    def map(self, coverage: float) -> float:
        import numpy as np

        return float(np.interp(coverage, self.coverage, self.score))

    def wrongness(self, features: tuple[float, ...]) -> float:
        import math

        z = self.wrong_bias + sum(w * f for w, f in zip(self.wrong_weights, features))
        return 1.0 / (1.0 + math.exp(-z))


def corrections_that_matter(says_claims: list[float], flaggable: list[bool], batch: int, read) -> dict[int, float]:
    """{candidate: P(its sentence says the correction)}, read (`read(candidates)` -> probabilities) only
    where it can change the grade. A candidate's margin, P(claim) - P(correction), is at most its P(claim),
    so corrections are read from the likeliest claim down, `batch` at a time, and one whose P(claim) is no
    more than the best margin so far (floor 0, as Measures.misconception_model's) and that could not be
    flagged is never read: the same flags and the same largest margin as reading them all, for about half
    the model's pairs (the model is most of a warm grade)."""
    order = sorted(range(len(says_claims)), key=lambda n: -says_claims[n])
    known: dict[int, float] = {}
    best = 0.0
    while True:
        need = [n for n in order if n not in known and (says_claims[n] > best or flaggable[n])][:batch]
        if not need:
            return known
        for n, p in zip(need, read(need)):
            known[n] = float(p)
            best = max(best, says_claims[n] - known[n])


@dataclass
class Measures:
    """What the score is computed from; the calibration script fits on these."""

    coverage: float
    covered: list[PointResult]
    missed: list[PointResult]
    wrong: list[CheckClaim]
    contradicted: list[CheckClaim]
    off_topic: bool
    content_words: int
    objected: float = 0.0        # share of the answer's claims shown as stated otherwise by the notes
    misconception_model: float = 0.0  # max over misconceptions: P(answer says the claim) - P(says the correction)
    misconception_cosine: float = -1.0  # max: cosine to the claim - max(cosine to correction, to a key point)

    def wrongness_features(self) -> tuple[float, float, float]:
        return (self.objected, self.misconception_model, self.misconception_cosine)


class Grader:
    """Rubric grading with the embedder and the judge; no LLM, so it is fast and deterministic.

    Collaborators are passed in: the corpus (question bank and notes), the embeddings, the judge (for
    sentences the notes contradict) and a retriever (`search(query, k=)`, and `version()` of the index it
    reads) for the note excerpts cited."""

    # A key point's match is 0.75 x cosine to the best answer passage + 0.25 x share of its content
    # words the answer uses; credit rises linearly from NO_CREDIT to FULL_CREDIT, so a half-said point
    # earns half, and a point counts as covered from COVERED.
    COVERED = 0.5
    NO_CREDIT = 0.3
    FULL_CREDIT = 0.6
    OFF_TOPIC = 0.3          # below this best match to the question and rubric, the answer is off-topic
    OTHER_QUESTION_RANK = 10  # ... or when 10 other bank questions match it better and it covers little
    LOW_COVERAGE = 0.2
    NOTHING_COVERED = 0.12   # below this coverage, with no point covered, the answer addresses none of them
    MIN_WORDS = 4            # content words below which an answer is too short to grade
    # Only these judge objections mean "the notes say otherwise"; a number or term the notes lack is
    # unverifiable extra detail, which is not punished.
    CONTRADICTION_CODES = frozenset({Reason.CONTRADICTED, Reason.ROLE, Reason.BINDING, Reason.NEGATION})
    CONTRADICTION_SIMILARITY = 0.6  # ... and only about a note sentence that says nearly the same thing

    # A misconception is stated outright when the judgement model reads the claim in a sentence
    # (P(supports) from MISCONCEPTION_SUPPORT) clearly more than its correction (by MISCONCEPTION_MARGIN)
    # and the sentence is closer to the claim than to the correction and every key point. Chosen on
    # the dev split for few flags on correct answers (training/calibrate_grading.py prints the rates).
    SENTENCES_PER_MISCONCEPTION = 2
    MISCONCEPTION_SUPPORT = 0.5
    MISCONCEPTION_MARGIN = 0.2
    MISCONCEPTION_LEXICAL = 0.75        # ... or when a sentence this close to the claim says a role the other way
    MISCONCEPTION_COSINE = 0.8          # without the model: cosine rules only
    MISCONCEPTION_COSINE_MARGIN = 0.06
    SUPPORTED = 0.5          # the judgement model's P(supports) at which a key point counts as covered
    SUPPORT_WINDOWS = 2      # answer passages (closest by cosine) the model reads per key point
    CACHED_SOURCES = 512     # rubrics whose cited note chunks are kept (a few ids each)

    def __init__(self, corpus, embeddings, judge, retriever, calibration: Calibration | None = None,
                 support_model=None, model_coverage: bool = False, contradiction_judge=None):
        # judge_model.JudgeModel (reads misconceptions in the answer), or None for cosine rules only;
        # model_coverage: let it add key-point credit too (measured no better on dev, and slower).
        self.support_model = support_model
        self.model_coverage = model_coverage
        # The trained judge (judge_model.CrossEncoderJudge) that must agree before a sentence is shown as
        # stated otherwise by the notes: the heuristic alone flagged 23 of 111 correct dev answers.
        # None: the heuristic's flags stand alone.
        self.contradiction_judge = contradiction_judge
        self.corpus = corpus
        self.embeddings = embeddings
        self.judge = judge
        self.retriever = retriever
        self.rubrics = RubricBuilder(corpus, embeddings, retriever)
        self.calibration = calibration or Calibration.read()
        # Each rubric's cited chunks depend only on the rubric and the index: two searches (about 80 ms on
        # 2 AVX2 cores, a quarter of a warm grade) saved on every later answer to the same question.
        self._sources_cache: dict[tuple, list] = {}

    # -- grading ------------------------------------------------------------------------------------
    def grade(self, question: str, answer: str, parent: str | None = None) -> Grade:
        """Grade `answer` to a bank question id or text; `parent` is the bank id a follow-up belongs to."""
        rubric, sources, sentences, measures = self.assess(question, answer, parent)
        grade = Grade(rubric.question_id, rubric.question, (answer or "").strip(), 0, graded_against=rubric.against)
        if rubric.against == Against.UNCOVERED:
            grade.reason = ("The notes do not cover this topic, so there is no rubric to grade against "
                            "(nothing was judged wrong); add notes on it with `coach ingest`.")
            grade.why = "Not graded: the notes do not cover this topic."
            return grade
        if not sentences:
            grade.reason = "The answer is empty."
            grade.missed = [PointResult(p, False, 0.0) for p in rubric.points]
        else:
            m = measures
            grade.covered, grade.missed, grade.wrong, grade.check_this = m.covered, m.missed, m.wrong, m.contradicted
            grade.coverage = round(m.coverage, 4)
            grade.score, grade.reason = self.score(m)
        self._cite_missed(grade, sources)
        grade.follow_up = self._follow_up(rubric, grade)
        grade.why = self._why(grade)
        grade.feedback = self._feedback(grade, rubric)
        return grade

    def assess(self, question: str, answer: str, parent: str | None = None):
        """(rubric, cited sources, answer sentences, Measures or None when there is nothing to measure)."""
        rubric = self.rubrics.build(question, parent)
        sentences = answer_sentences(answer or "")
        if rubric.against == Against.UNCOVERED:
            return rubric, [], sentences, None  # not graded: nothing to cite
        sources = self._sources(rubric)
        if not sentences:
            return rubric, sources, sentences, None
        return rubric, sources, sentences, self.measure(rubric, sentences, sources)

    def measure(self, rubric: Rubric, sentences: list[str], sources) -> Measures:
        passages = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]
        claims = [m.claim for m in rubric.misconceptions]
        corrections = [m.correction for m in rubric.misconceptions]
        vectors = embed_array(self.embeddings, passages + rubric.points + claims + corrections + [rubric.question])
        n_p, n_k, n_m = len(passages), len(rubric.points), len(claims)
        passage_vecs, point_vecs = vectors[:n_p], vectors[n_p:n_p + n_k]
        claim_vecs, correction_vecs = vectors[n_p + n_k:n_p + n_k + n_m], vectors[n_p + n_k + n_m:-1]
        question_vec = vectors[-1]
        answer_stems = {stem(w) for s in sentences for w in words(s)}
        point_sims = passage_vecs @ point_vecs.T  # (passages, points)

        # What is wrong first: a sentence that states a misconception is never the evidence that a key
        # point is covered ("random forests are boosting" covers nothing). Sentences the heuristic judge
        # says the notes contradict still count: it objects to some correct paraphrases too.
        wrong, by_model, by_cosine = self._misconceptions(rubric, sentences, passage_vecs[:len(sentences)],
                                                          claim_vecs, correction_vecs, point_sims[:len(sentences)])
        flagged = {c.sentence for c in wrong}
        contradicted, objected = self._contradicted(sentences, sources)
        contradicted = [c for c in contradicted if c.sentence not in flagged]
        usable = [i for i, p in enumerate(passages) if not any(f in p for f in flagged)]

        support = self._support(rubric.points, passages, point_sims, usable)
        covered, missed, credits = [], [], []
        for i, point in enumerate(rubric.points):
            if not usable:
                credits.append(0.0)
                missed.append(PointResult(point, False, 0.0))
                continue
            best = max(usable, key=lambda k: point_sims[k, i])
            point_words = content_words(point)
            lexical = sum(stem(w) in answer_stems for w in point_words) / max(1, len(point_words))
            match = 0.75 * float(point_sims[best, i]) + 0.25 * lexical
            credit = min(1.0, max(0.0, (match - self.NO_CREDIT) / (self.FULL_CREDIT - self.NO_CREDIT)))
            probability, window = support[i]
            if probability > credit:
                # The judgement model reads the passage and the point together: a paraphrase with
                # other words earns what cosine alone would deny it.
                credit, best = probability, window
            credits.append(credit)
            result = PointResult(point, match >= self.COVERED or probability >= self.SUPPORTED,
                                 round(max(match, probability), 4))
            if result.covered:
                result.evidence = passages[best]
                covered.append(result)
            else:
                missed.append(result)
        coverage = sum(credits) / max(1, len(credits))
        topical = max(float((passage_vecs @ question_vec).max()),
                      float(point_sims.max()) if point_sims.size else 0.0)
        off_topic = topical < self.OFF_TOPIC or (
            coverage < self.LOW_COVERAGE and rubric.question_id is not None
            and rubric.against != Against.FOLLOW_UP and self._answers_another_question(sentences, rubric))
        n_words = len(content_words(" ".join(sentences)))
        return Measures(coverage, covered, missed, wrong, contradicted, off_topic, n_words, objected,
                        by_model, by_cosine)

    def score(self, m: Measures) -> tuple[int, str]:
        """(score 0..100, reason when a rule capped it)."""
        if m.off_topic:
            return min(5, round(self.calibration.map(m.coverage))), \
                "The answer does not address the question (off-topic)."
        if m.coverage < self.NOTHING_COVERED and not m.covered:
            return min(5, round(self.calibration.map(m.coverage))), "None of the key points is addressed."
        if m.content_words < self.MIN_WORDS:
            return min(10, round(self.calibration.map(m.coverage))), \
                f"The answer is too short to grade ({m.content_words} content words)."
        score = self.calibration.map(m.coverage)
        # Signs of a central error the rubric does not list cost in proportion to how likely one is.
        score *= 1.0 - self.calibration.wrong_penalty * self.calibration.wrongness(m.wrongness_features())
        reason = ""
        if m.wrong:
            score = min(score, self.calibration.wrong_cap)
            reason = "The answer states a common misconception (see the correction below)."
        return int(round(max(0.0, min(100.0, score)))), reason

    def _support(self, points: list[str], passages: list[str], point_sims, usable: list[int]):
        """Per key point: (the model's P(supports) from its best passage, that passage's index);
        (0, -1) without a model."""
        if self.support_model is None or not self.model_coverage or not usable:
            return [(0.0, -1)] * len(points)
        import numpy as np

        windows = [sorted(usable, key=lambda k: -point_sims[k, i])[:self.SUPPORT_WINDOWS] for i in range(len(points))]
        pairs = [(passages[k], point) for point, ks in zip(points, windows) for k in ks]
        probs = self.support_model.probabilities(pairs)[:, 0]
        out, at = [], 0
        for ks in windows:
            row = probs[at:at + len(ks)]
            at += len(ks)
            best = int(np.argmax(row))
            out.append((float(row[best]), ks[best]))
        return out

    # -- what is wrong ----------------------------------------------------------------------------------
    def _misconceptions(self, rubric: Rubric, sentences, sentence_vecs, claim_vecs, correction_vecs,
                        point_sims) -> tuple[list[CheckClaim], float, float]:
        """(misconceptions stated outright, the model margin, the cosine margin) over the rubric's
        misconceptions, each read against the SENTENCES_PER_MISCONCEPTION sentences closest to it."""
        if not rubric.misconceptions:
            return [], 0.0, -1.0
        import numpy as np

        claim_sims = sentence_vecs @ claim_vecs.T          # (sentences, misconceptions)
        correction_sims = sentence_vecs @ correction_vecs.T
        best_point = point_sims.max(axis=1) if point_sims.size else np.zeros(len(sentences))
        candidates = [(int(i), j) for j in range(len(rubric.misconceptions))
                      for i in np.argsort(-claim_sims[:, j])[:self.SENTENCES_PER_MISCONCEPTION]]
        cosines = [float(claim_sims[i, j]) - max(float(correction_sims[i, j]), float(best_point[i]))
                   for i, j in candidates]
        says_claims, says_corrections = None, {}
        if self.support_model is not None:
            says_claims = [float(p) for p in self.support_model.probabilities(
                [(sentences[i], rubric.misconceptions[j].claim) for i, j in candidates])[:, 0]]
            flaggable = [p >= self.MISCONCEPTION_SUPPORT and c >= 0 for p, c in zip(says_claims, cosines)]
            says_corrections = corrections_that_matter(
                says_claims, flaggable, self.support_model.BATCH,
                lambda ns: self.support_model.probabilities(
                    [(sentences[candidates[n][0]], rubric.misconceptions[candidates[n][1]].correction)
                     for n in ns])[:, 0])
        out, by_model, by_cosine = [], 0.0, -1.0
        for n, (i, j) in enumerate(candidates):
            cosine = cosines[n]
            by_cosine = max(by_cosine, cosine)
            m = rubric.misconceptions[j]
            # Said the other way round from the correction, and the same way as the wrong claim: "random
            # forests are boosting" against "a random forest is bagging".
            outright = (float(claim_sims[i, j]) >= self.MISCONCEPTION_LEXICAL
                        and self._same_subject(sentences[i], m.correction)
                        and bool(check_roles(sentences[i], m.correction, m.correction))
                        and not check_roles(sentences[i], m.claim, m.claim))
            if says_claims is not None:
                if n in says_corrections:  # otherwise it can neither raise by_model nor be flagged
                    says_claim, says_correction = says_claims[n], says_corrections[n]
                    by_model = max(by_model, says_claim - says_correction)
                    outright = outright or (says_claim >= self.MISCONCEPTION_SUPPORT
                                            and says_claim - says_correction >= self.MISCONCEPTION_MARGIN
                                            and cosine >= 0)
            else:
                outright = outright or (float(claim_sims[i, j]) >= self.MISCONCEPTION_COSINE
                                        and cosine >= self.MISCONCEPTION_COSINE_MARGIN)
            # Both rules read "it isn't symmetric" as saying "KL is symmetric" (the words and the role match):
            # a sentence that denies the claim does not make it.
            outright = outright and not denies(sentences[i], m.claim)
            if outright and sentences[i] not in {c.sentence for c in out}:
                out.append(CheckClaim(sentences[i], f"Common mistake: {m.claim}", m.correction, None,
                                      kind="misconception"))
        return out, by_model, by_cosine

    @staticmethod
    def _same_subject(sentence: str, correction: str) -> bool:
        """The sentence talks about what the correction talks about: two content words in common
        besides the role words that differ ("random forest ... tree" in both)."""
        shared = {stem(w) for w in content_words(sentence)} & {stem(w) for w in content_words(correction)}
        return len(shared - ROLE_STEMS) >= 2

    def _contradicted(self, sentences: list[str], sources) -> tuple[list[CheckClaim], float]:
        """(sentences whose closest note sentence states otherwise: a swapped role, a flipped negation,
        confirmed by the trained judge when there is one; their share of the answer's claims). A number or
        term the notes lack is neither shown nor counted: it is unverifiable extra detail."""
        claims = [s for s in sentences if len(content_words(s)) >= 4]
        if not claims or not sources:
            return [], 0.0
        verdicts = self.judge.check(claims, [s.chunk.text for s in sources])
        flagged = [v for v in verdicts if self._stated_otherwise(v)]
        if flagged and self.contradiction_judge is not None:
            # The words differ the way a contradiction's do; the trained judge reads whether the meaning does
            # ("trains models in parallel" against "trains them independently" is no contradiction).
            second = self.contradiction_judge.check_each([(v.claim, [v.evidence]) for v in flagged])
            flagged = [v for v, w in zip(flagged, second) if w.code == Reason.CONTRADICTED]
        out = [CheckClaim(v.claim, v.reason, v.evidence,
                          (v.evidence_index + 1) if v.evidence_index is not None else None, kind="contradiction")
               for v in flagged]
        return out, len(out) / len(verdicts)

    def _stated_otherwise(self, verdict) -> bool:
        """The sentence judge objects that the notes say otherwise, about a note sentence that says nearly
        the same thing (the heuristic halves its score when it objects; the trained one reports contradiction)."""
        if verdict.code not in self.CONTRADICTION_CODES:
            return False
        lexical = verdict.code in (Reason.ROLE, Reason.BINDING, Reason.NEGATION)
        return (verdict.score * 2 if lexical else 1.0) >= self.CONTRADICTION_SIMILARITY

    def _answers_another_question(self, sentences: list[str], rubric: Rubric) -> bool:
        """True when the answer as a whole reads as an answer to other bank questions: the asked one
        is not among the OTHER_QUESTION_RANK closest. Catches on-vocabulary but off-topic answers
        ("word error rate is ..." to an EER question) that similarity to the rubric cannot."""
        vector = embed_array(self.embeddings, [" ".join(sentences)])[0]
        sims = self.rubrics.bank_matrix() @ vector
        asked = next((i for i, q in enumerate(self.corpus.questions) if q.id == rubric.question_id), None)
        return asked is not None and int((sims > sims[asked]).sum()) >= self.OTHER_QUESTION_RANK

    # -- citations, follow-up, words --------------------------------------------------------------------
    def _sources(self, rubric: Rubric) -> list:
        """Note chunks to cite: the rubric's own notes first, then retrieval; cached per rubric and index."""
        key = (rubric.question, tuple(rubric.points), tuple(rubric.note_ids), self.retriever.version())
        sources = self._sources_cache.get(key)
        if sources is None:
            if len(self._sources_cache) >= self.CACHED_SOURCES:
                self._sources_cache.clear()  # plain and bounded; a UI asks far fewer questions than this
            sources = self._sources_cache[key] = self._search_sources(rubric)
        return sources

    def _search_sources(self, rubric: Rubric) -> list:
        from .answering import Source

        chunks = []
        seen = set()
        if rubric.note_ids:
            for r in self.retriever.search(" ".join([rubric.question] + rubric.points), k=8):
                if r.chunk.doc_id in rubric.note_ids and r.chunk.id not in seen:
                    chunks.append(r.chunk)
                    seen.add(r.chunk.id)
        for r in self.retriever.search(rubric.question, k=4):
            if r.chunk.id not in seen:
                chunks.append(r.chunk)
                seen.add(r.chunk.id)
        return [Source(n, c) for n, c in enumerate(chunks[:6], 1)]

    def _cite_missed(self, grade: Grade, sources) -> None:
        """Each missed point and each correction gets the note sentence closest to it, cited."""
        targets = [m.point for m in grade.missed] + [w.excerpt for w in grade.wrong]
        if not targets or not sources:
            grade.citations = [s.citation for s in sources if s.n in {c.citation for c in grade.check_this}]
            return
        passages = [(s.n, p) for s in sources for p in split_sentences(s.chunk.text) if len(p.split()) >= 5]
        used = {c.citation for c in grade.check_this if c.citation}
        if passages:
            vecs = embed_array(self.embeddings, [p for _, p in passages])
            target_vecs = embed_array(self.embeddings, targets)
            best = (target_vecs @ vecs.T).argmax(axis=1)
            for m, b in zip(grade.missed, best[:len(grade.missed)]):
                m.citation, m.excerpt = passages[int(b)]
                used.add(m.citation)
            for w, b in zip(grade.wrong, best[len(grade.missed):]):
                w.citation = passages[int(b)][0]
                used.add(w.citation)
        grade.citations = [s.citation for s in sources if s.n in used]

    def _follow_up(self, rubric: Rubric, grade: Grade) -> str | None:
        target = grade.missed[0].point if grade.missed else None
        if rubric.against == Against.FOLLOW_UP:
            return None  # a follow-up is not followed up again
        if rubric.follow_ups and target:
            vecs = embed_array(self.embeddings, rubric.follow_ups + [target])
            return rubric.follow_ups[int((vecs[:-1] @ vecs[-1]).argmax())]
        if rubric.follow_ups:
            return rubric.follow_ups[0]
        if target:
            # Built from the rubric's own words, so it needs no verification.
            return f"Can you explain this point: {target.rstrip('.')}?"
        return None

    def _why(self, grade: Grade) -> str:
        total = len(grade.covered) + len(grade.missed)
        if grade.reason and not grade.wrong:
            return f"{grade.score}/100: {grade.reason}"
        parts = [f"{grade.score}/100: covers {len(grade.covered)} of {total} key points"]
        if grade.wrong:
            parts.append(f"states {len(grade.wrong)} common misconception(s), which caps the score at "
                         f"{int(self.calibration.wrong_cap)}")
        if grade.check_this:
            parts.append(f"{len(grade.check_this)} sentence(s) the notes contradict cost points")
        return "; ".join(parts) + "."

    @staticmethod
    def _feedback(grade: Grade, rubric: Rubric) -> str:
        parts = []
        if rubric.against == Against.CLOSEST_BANK:
            parts.append(f"Graded against the closest bank question: {rubric.question_id}.")
        elif rubric.against == Against.FOLLOW_UP:
            parts.append("Graded against the notes that answer this follow-up.")
        elif rubric.against == Against.NOTES:
            parts.append("No bank question is close; graded against the notes' own answers.")
        total = len(grade.covered) + len(grade.missed)
        parts.append(f"Covered {len(grade.covered)} of {total} key points.")
        if grade.wrong:
            parts.append(f"Fix first: {grade.wrong[0].excerpt}")
        elif grade.missed:
            parts.append(f"Most important gap: {grade.missed[0].point}")
        if grade.check_this:
            parts.append(f"{len(grade.check_this)} claim(s) the notes state otherwise.")
        return " ".join(parts)
