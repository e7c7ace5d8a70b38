"""Citation parsing, sentence splitting and per-sentence verification (a deterministic fake judge)."""

from __future__ import annotations

import pytest

from interview_coach.judge import Judge, Reason, Verdict
from interview_coach.text import numbers, split_sentences
from interview_coach.verification import faithfulness, parse_citations, verify


@pytest.mark.parametrize("sentence, n_sources, text, valid, invalid", [
    ("EER is where FAR equals FRR [1].", 3, "EER is where FAR equals FRR.", [1], []),
    ("Both say so [1][2].", 3, "Both say so.", [1, 2], []),
    ("Listed together [1, 3].", 3, "Listed together.", [1, 3], []),
    ("Two digits [12].", 3, "Two digits.", [], [12]),
    ("Two digits that exist [12].", 12, "Two digits that exist.", [12], []),
    ("Out of range [0] and [4].", 3, "Out of range and.", [], [0, 4]),
    ("No marker at all.", 3, "No marker at all.", [], []),
    ("Repeated [2] and again [2].", 3, "Repeated and again.", [2], []),
    ("Not a citation [a] or [1.5].", 3, "Not a citation [a] or [1.5].", [], []),
])
def test_parse_citations(sentence, n_sources, text, valid, invalid):
    assert parse_citations(sentence, n_sources) == (text, valid, invalid)


def test_marker_after_the_full_stop_stays_with_its_sentence():
    assert split_sentences("FAR equals FRR. [1] Lower is better. [2][3]") == [
        "FAR equals FRR. [1]", "Lower is better. [2][3]"]


def test_numbers_are_normalised():
    assert numbers("from 1e-4 to 0.02, 1,000 steps, 0.50 and 25%") == {"0.0001", "0.02", "1000", "0.5", "25"}


class KeywordJudge(Judge):
    """Supported when every word of the claim longer than 3 letters is in the context."""

    def check(self, claims, contexts):
        text = " ".join(contexts).lower()
        out = []
        for claim in claims:
            missing = [w for w in claim.lower().strip(".").split() if len(w) > 3 and w not in text]
            out.append(Verdict(claim, not missing, 0.0 if missing else 1.0,
                               f"missing {missing}" if missing else "", text[:40], 0 if contexts else None,
                               code=Reason.NOT_IN_SOURCES if missing else Reason.SUPPORTED))
        return out


SOURCES = ["equal error rate is where false accepts equal false rejects",
           "minDCF weights misses and false alarms by cost"]


def test_each_sentence_checked_against_what_it_cites():
    answer = ("The equal error rate is where false accepts equal false rejects [1]. "
              "minDCF weights misses by cost [1]. "
              "minDCF weights misses by cost [2]. "
              "False accepts equal false rejects. "
              "Cited nowhere valid [7].")
    checks = verify(answer, SOURCES, KeywordJudge())
    assert [c.supported for c in checks] == [True, False, True, False, False]
    assert checks[1].content_supported and "another source" in checks[1].reason  # cites [1], only [2] says it
    assert checks[3].reason == "no citation" and checks[3].content_supported
    assert checks[3].code is Reason.NO_CITATION and checks[3].content_code is Reason.SUPPORTED
    assert checks[4].invalid_citations == [7] and "points at no source" in checks[4].reason
    assert checks[4].code is Reason.INVALID_CITATION
    assert checks[0].code is Reason.SUPPORTED and checks[1].code is Reason.NOT_IN_SOURCES
    assert faithfulness(checks) == pytest.approx(2 / 5)


def test_without_required_citations_any_source_counts():
    checks = verify("minDCF weights misses by cost. The moon is cheese.", SOURCES, KeywordJudge(),
                    require_citations=False)
    assert [c.supported for c in checks] == [True, False]


def test_empty_answer_has_no_sentences_and_zero_faithfulness():
    assert verify("  ", SOURCES, KeywordJudge()) == []
    assert faithfulness([]) == 0.0
