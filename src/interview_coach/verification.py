"""Check an answer sentence by sentence: split, parse `[n]` citations, ask the judge whether each
sentence's cited sources support it, and score faithfulness.

Generation, retrieval and the extractive fallback are left to answering.py; the support decision to the judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .judge import Judge, Reason, Verdict, check_beyond_question
from .text import split_sentences

# [1], [1][2], [1, 2] and [12]; anything else in brackets is left alone.
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class SentenceCheck:
    text: str                    # the sentence as shown, markers removed
    citations: list[int]         # valid [n] markers, in order
    supported: bool
    reason: str = ""             # why it is unsupported ("" when supported)
    evidence: str = ""           # the context sentence that best supports (or contradicts) it
    evidence_source: int | None = None  # the [n] that evidence came from
    score: float = 0.0           # judge's support score, 0..1
    invalid_citations: list[int] = field(default_factory=list)  # markers that point at no source
    content_supported: bool = False     # supported by ANY retrieved source, cited or not
    code: Reason = Reason.SUPPORTED     # what code branches on (reason is for people)
    content_code: Reason = Reason.SUPPORTED  # the verdict against all sources, citations aside

    def to_dict(self) -> dict:
        return {"text": self.text, "supported": self.supported, "citations": self.citations,
                "reason": self.reason, "code": str(self.code), "evidence": self.evidence, "evidence_source": self.evidence_source,
                "score": round(self.score, 4), "content_supported": self.content_supported,
                "invalid_citations": self.invalid_citations}


def with_citations(sentence: str, numbers) -> str:
    """`sentence` with its [n] markers before the final punctuation (the inverse of parse_citations)."""
    text = sentence.strip()
    marks = "".join(f"[{n}]" for n in numbers)
    if not marks:
        return text
    return f"{text[:-1]} {marks}{text[-1]}" if text and text[-1] in ".!?" else f"{text} {marks}."


def parse_citations(sentence: str, n_sources: int) -> tuple[str, list[int], list[int]]:
    """(sentence without markers, valid citation numbers in order, out-of-range numbers)."""
    valid: list[int] = []
    invalid: list[int] = []
    for match in CITATION.finditer(sentence):
        for number in (int(n) for n in match.group(1).split(",")):
            target = valid if 1 <= number <= n_sources else invalid
            if number not in target:
                target.append(number)
    text = CITATION.sub("", sentence)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    return text, valid, invalid


def verify(answer: str, sources: list[str], judge: Judge, *, require_citations: bool = True,
           question: str = "") -> list[SentenceCheck]:
    """Check each sentence of `answer` against the sources (sources[0] is [1]).

    Strict mode (require_citations): a sentence is supported only when a source it cites supports it.
    Otherwise (closed-book answers, which cannot cite) support by any source counts.
    """
    checks: list[SentenceCheck] = []
    sentences = [parse_citations(s, len(sources)) for s in split_sentences(answer)]
    sentences = [s for s in sentences if any(ch.isalnum() for ch in s[0])]
    if not sentences:
        return checks
    anywhere = [_beyond_question(v, question, " ".join(sources))
                for v in judge.check([text for text, _, _ in sentences], sources)]
    # Each cited sentence against its own citations, all in one call (a model judge batches them).
    cited_items = [(text, [sources[n - 1] for n in cited]) for text, cited, _ in sentences if cited and require_citations]
    cited_checks = iter(zip(cited_items, judge.check_each(cited_items) if cited_items else []))
    for (text, cited, invalid), any_verdict in zip(sentences, anywhere):
        check = SentenceCheck(text, cited, False, invalid_citations=invalid,
                              content_supported=any_verdict.supported, evidence=any_verdict.evidence,
                              evidence_source=(any_verdict.evidence_index + 1
                                               if any_verdict.evidence_index is not None else None),
                              score=any_verdict.score, content_code=any_verdict.code)
        if not require_citations:
            check.supported, check.reason, check.code = any_verdict.supported, any_verdict.reason, any_verdict.code
        elif not cited:
            check.code = Reason.INVALID_CITATION if invalid else Reason.NO_CITATION
            check.reason = "no valid citation" if invalid else "no citation"
            if invalid:
                check.reason += f" ([{invalid[0]}] points at no source)"
        else:
            (_, cited_sources), verdict = next(cited_checks)
            verdict = _beyond_question(verdict, question, " ".join(cited_sources))
            check.supported, check.reason, check.score = verdict.supported, verdict.reason, verdict.score
            check.code = verdict.code
            if verdict.evidence:
                check.evidence = verdict.evidence
                check.evidence_source = cited[verdict.evidence_index] if verdict.evidence_index is not None else None
            if not verdict.supported and any_verdict.supported:
                check.reason += " (another source supports it, not the one cited)"
        checks.append(check)
    return checks


def _beyond_question(verdict: Verdict, question: str, context: str) -> Verdict:
    if verdict.supported and question:
        code, reason = check_beyond_question(verdict.claim, question, context)
        if reason:
            verdict.supported, verdict.reason, verdict.code = False, reason, code
    return verdict


def faithfulness(checks: list[SentenceCheck]) -> float:
    return sum(c.supported for c in checks) / len(checks) if checks else 0.0
