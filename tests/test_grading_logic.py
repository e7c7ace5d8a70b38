"""Fast tests of grading logic that needs no model: which misconception corrections the grader must read."""

from __future__ import annotations

import random

from interview_coach.grading import corrections_that_matter


def _reference(says_claims, says_corrections, flaggable):
    """What reading every correction gives: the largest margin (floor 0) and the flaggable candidates."""
    margin = max([0.0] + [c - r for c, r in zip(says_claims, says_corrections)])
    return margin, {n for n, f in enumerate(flaggable) if f}


def test_skipping_corrections_keeps_the_largest_margin_and_every_flaggable_candidate():
    rng = random.Random(7)
    skipped = total = 0
    for _ in range(500):
        n = rng.randint(1, 16)
        says_claims = [rng.random() ** rng.choice((1, 4)) for _ in range(n)]
        says_corrections = [rng.random() for _ in range(n)]
        flaggable = [c >= 0.5 and rng.random() < 0.5 for c in says_claims]
        reads = []

        def read(ns):
            reads.append(len(ns))
            return [says_corrections[k] for k in ns]

        known = corrections_that_matter(says_claims, flaggable, 4, read)
        margin, must_read = _reference(says_claims, says_corrections, flaggable)
        assert max([0.0] + [says_claims[k] - p for k, p in known.items()]) == margin
        assert must_read <= set(known) and all(known[k] == says_corrections[k] for k in known)
        assert all(size <= 4 for size in reads)
        skipped += n - len(known)
        total += n
    assert skipped > total // 4  # it does save reads, or it is not worth its code


def test_nothing_is_read_when_no_claim_is_likely_and_none_can_be_flagged():
    assert corrections_that_matter([0.0, 0.0], [False, False], 4, lambda ns: 1 / 0) == {}
    assert corrections_that_matter([], [], 4, lambda ns: 1 / 0) == {}
