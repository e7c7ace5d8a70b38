"""Grade a candidate answer against a bank question's rubric: which key points are covered (with the
candidate's words as evidence), which are missed (with a cited note excerpt), and which claims to check.

Sessions, storage and scheduling are left to interview.py, store.py and scheduler.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .chunking import Citation
from .embeddings import embed_array
from .extractive import extract as extract_answer
from .text import content_words, split_sentences, stem, words
from .verification import parse_citations


@dataclass
class PointResult:
    point: str                   # the rubric key point
    covered: bool
    similarity: float            # best similarity to a candidate sentence, 0..1
    evidence: str = ""           # the candidate's own sentence that covers it ("" if missed)
    citation: int | None = None  # [n] of the note excerpt that explains it (missed points)
    excerpt: str = ""            # that note excerpt


@dataclass
class CheckClaim:
    sentence: str                # the candidate's sentence
    reason: str                  # why it looks wrong or unsupported
    excerpt: str = ""            # what the notes say instead
    citation: int | None = None


@dataclass
class Grade:
    question_id: str | None      # None when graded against retrieved notes only
    question: str
    answer: str
    score: int                   # 0..100
    covered: list[PointResult] = field(default_factory=list)
    missed: list[PointResult] = field(default_factory=list)
    check_this: list[CheckClaim] = field(default_factory=list)
    feedback: str = ""
    follow_up: str | None = None
    citations: list[Citation] = field(default_factory=list)
    graded_against: str = "bank"  # "bank" | "closest-bank" | "notes"
    reason: str = ""             # why the score is what it is when it is low (empty, off-topic, ...)

    def to_dict(self) -> dict:
        return asdict(self)


class Grader:
    """Rubric grading with the embedder and the judge; no LLM, so it is fast and deterministic.

    Collaborators are passed in: the corpus (question bank), the embeddings, the judge and a retriever
    (`search(query, k=)`) for the note excerpts that missed points cite."""

    # A key point counts as covered when its match (0.75 x cosine to the best answer passage +
    # 0.25 x share of its content words the answer uses) reaches COVERED; credit rises linearly
    # from NO_CREDIT to FULL_CREDIT so a half-said point earns half.
    COVERED = 0.5
    NO_CREDIT = 0.3
    FULL_CREDIT = 0.6
    CLOSE_QUESTION = 0.75    # cosine at which free text is graded against the closest bank question
    OFF_TOPIC = 0.3          # below this best match to the question and rubric, the answer is off-topic
    OTHER_QUESTION_RANK = 10  # a low-scoring answer is off-topic when 10 other bank questions match it better
    LOW_SCORE = 20
    MIN_WORDS = 8            # content words below which an answer is "very short"
    UNSUPPORTED_WEIGHT = 0.5    # up to half the credit depends on the notes backing the answer
    CONTRADICTION_PENALTY = 12  # points off per claim the notes contradict (capped at half the score)

    def __init__(self, corpus, embeddings, judge, retriever):
        self.corpus = corpus
        self.embeddings = embeddings
        self.judge = judge
        self.retriever = retriever
        self._bank_vectors = None

    # -- which rubric -------------------------------------------------------------------------------
    def resolve(self, question: str):
        """(bank Question or None, how it was chosen, question text)."""
        import numpy as np

        from .errors import UsageError

        question = " ".join((question or "").split())
        if not question:
            raise UsageError("no question given; pass a bank id (see `coach questions`) or the question text")
        corpus = self.corpus
        bank = corpus.question(question)
        if bank is not None:
            return bank, "bank", bank.question
        if len(question.split()) == 1 and "-" in question:
            raise UsageError(f"no bank question with id {question!r}; see `coach questions`")
        query = np.array(self.embeddings.embed_query(question), dtype="float32")
        sims = self._bank_matrix() @ query
        best = int(sims.argmax())
        if sims[best] >= self.CLOSE_QUESTION:
            return corpus.questions[best], "closest-bank", question
        return None, "notes", question

    # -- grading ------------------------------------------------------------------------------------
    def grade(self, question: str, answer: str) -> Grade:

        bank, against, question_text = self.resolve(question)
        answer = (answer or "").strip()
        sources = self._sources(question_text, bank)
        if bank is not None:
            points = list(bank.key_points)
        else:
            points = self._points_from_notes(question_text, sources)
        grade = Grade(bank.id if bank else None, question_text, answer, 0, graded_against=against)
        if against == "closest-bank":
            grade.feedback = f"Graded against the closest bank question: {bank.question}"
        elif against == "notes":
            grade.feedback = "No bank question is close; graded against the most relevant notes."

        sentences = [s for s in split_sentences(answer) if any(ch.isalnum() for ch in s)]
        if not sentences:
            grade.reason = "The answer is empty."
            grade.missed = [PointResult(p, False, 0.0) for p in points]
            self._cite_missed(grade, sources)
            grade.follow_up = self._follow_up(bank, grade)
            return grade

        passages = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]
        vectors = embed_array(self.embeddings, passages + points + [question_text])
        passage_vecs, point_vecs, question_vec = vectors[:len(passages)], vectors[len(passages):-1], vectors[-1]
        answer_stems = {stem(w) for w in words(answer)}
        credits = []
        for i, point in enumerate(points):
            sims = passage_vecs @ point_vecs[i]
            best = int(sims.argmax())
            point_words = content_words(point)
            lexical = sum(stem(w) in answer_stems for w in point_words) / max(1, len(point_words))
            match = 0.75 * float(sims[best]) + 0.25 * lexical
            credits.append(min(1.0, max(0.0, (match - self.NO_CREDIT) / (self.FULL_CREDIT - self.NO_CREDIT))))
            result = PointResult(point, match >= self.COVERED, round(match, 4))
            if result.covered:
                result.evidence = passages[best]
                grade.covered.append(result)
            else:
                grade.missed.append(result)
        score = 100.0 * sum(credits) / max(1, len(credits))

        topical = max(float((passage_vecs @ question_vec).max()), float((passage_vecs @ point_vecs.T).max()))
        n_words = len(content_words(answer))
        if topical < self.OFF_TOPIC or (score < self.LOW_SCORE and bank is not None
                                        and self._answers_another_question(answer, bank)):
            score, grade.reason = min(score, 5.0), "The answer does not address the question (off-topic)."
        elif n_words < self.MIN_WORDS:
            score, grade.reason = min(score, 10.0), f"The answer is very short ({n_words} content words)."
        elif not grade.covered:
            # Related vocabulary earns partial credit point by point; with nothing actually covered
            # the answer has not addressed the question ("Word error rate is ..." for an EER question).
            score, grade.reason = min(score, 10.0), "None of the key points is covered."

        grade.check_this, support_rate = self._check_claims(sentences, sources)
        if not grade.reason:
            # Confident but wrong answers reuse the rubric's vocabulary; what the notes do not back
            # up costs credit, and what they contradict costs more.
            score *= (1 - self.UNSUPPORTED_WEIGHT) + self.UNSUPPORTED_WEIGHT * support_rate
            score -= min(score / 2, self.CONTRADICTION_PENALTY * len(grade.check_this))
        grade.score = int(round(max(0.0, min(100.0, score))))
        self._cite_missed(grade, sources)
        grade.follow_up = self._follow_up(bank, grade)
        grade.feedback = " ".join(filter(None, [grade.feedback, self._feedback(grade)]))
        return grade

    def _answers_another_question(self, answer: str, bank) -> bool:
        """True when the answer as a whole reads as an answer to other bank questions: the asked one
        is not among the OTHER_QUESTION_RANK closest. Catches on-vocabulary but off-topic answers
        ("word error rate is ..." to an EER question) that similarity to the rubric cannot."""
        vector = embed_array(self.embeddings, [answer])[0]
        sims = self._bank_matrix() @ vector
        asked = next(i for i, q in enumerate(self.corpus.questions) if q.id == bank.id)
        return int((sims > sims[asked]).sum()) >= self.OTHER_QUESTION_RANK

    def _bank_matrix(self):
        if self._bank_vectors is None:
            self._bank_vectors = embed_array(self.embeddings, [q.question for q in self.corpus.questions])
        return self._bank_vectors

    def _sources(self, question: str, bank) -> list:
        """Note chunks to cite: the bank question's own notes first, then retrieval."""
        from .answering import Source

        chunks = []
        seen = set()
        if bank is not None and bank.notes:
            for r in self.retriever.search(" ".join([bank.question] + list(bank.key_points)), k=8):
                if r.chunk.doc_id in bank.notes and r.chunk.id not in seen:
                    chunks.append(r.chunk)
                    seen.add(r.chunk.id)
        for r in self.retriever.search(question, k=4):
            if r.chunk.id not in seen:
                chunks.append(r.chunk)
                seen.add(r.chunk.id)
        return [Source(n, c) for n, c in enumerate(chunks[:6], 1)]

    def _points_from_notes(self, question: str, sources) -> list[str]:
        from .answering import without_injections

        texts = [without_injections(s.chunk.text)[0] for s in sources]
        extract = extract_answer(self.embeddings, question, [(s.n, t) for s, t in zip(sources, texts)])
        points = [parse_citations(s, len(sources))[0] for s in split_sentences(extract)]
        return points or [question]

    def _check_claims(self, sentences: list[str], sources) -> tuple[list[CheckClaim], float]:
        """Claims the notes contradict, and the share of substantive sentences the notes support."""
        claims = [s for s in sentences if len(content_words(s)) >= 4]
        if not claims or not sources:
            return [], 1.0
        verdicts = self.judge.check(claims, [s.chunk.text for s in sources])
        out = []
        for v in verdicts:
            # Only objections that say the notes state otherwise; "not mentioned" is not an error.
            if v.contradicts:
                n = (v.evidence_index + 1) if v.evidence_index is not None else None
                out.append(CheckClaim(v.claim, v.reason, v.evidence, n))
        return out, sum(v.supported for v in verdicts) / len(verdicts)

    def _cite_missed(self, grade: Grade, sources) -> None:

        if not grade.missed or not sources:
            return
        passages = [(s.n, p) for s in sources for p in split_sentences(s.chunk.text) if len(p.split()) >= 5]
        if not passages:
            return
        vecs = embed_array(self.embeddings, [p for _, p in passages])
        point_vecs = embed_array(self.embeddings, [m.point for m in grade.missed])
        used = set()
        for m, pv in zip(grade.missed, point_vecs):
            best = int((vecs @ pv).argmax())
            m.citation, m.excerpt = passages[best]
            used.add(m.citation)
        for c in grade.check_this:
            if c.citation:
                used.add(c.citation)
        grade.citations = [s.citation for s in sources if s.n in used]

    def _follow_up(self, bank, grade: Grade) -> str | None:

        follow_ups = list(bank.follow_ups) if bank is not None else []
        target = grade.missed[0].point if grade.missed else None
        if follow_ups and target:
            vecs = embed_array(self.embeddings, follow_ups + [target])
            return follow_ups[int((vecs[:-1] @ vecs[-1]).argmax())]
        if follow_ups:
            return follow_ups[0]
        if target:
            # Built from the rubric's own words, so it needs no verification.
            return f"Can you explain this point: {target.rstrip('.')}?"
        return None

    @staticmethod
    def _feedback(grade: Grade) -> str:
        total = len(grade.covered) + len(grade.missed)
        parts = [f"Covered {len(grade.covered)} of {total} key points."]
        if grade.reason:
            parts.insert(0, grade.reason)
        if grade.missed:
            parts.append(f"Most important gap: {grade.missed[0].point}")
        if grade.check_this:
            parts.append(f"{len(grade.check_this)} claim(s) to check against the notes.")
        return " ".join(parts)
