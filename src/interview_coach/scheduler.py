"""Spaced review with FSRS (the `fsrs` package): turn a 0-100 grade into a rating, reschedule the question,
and pick the questions of a new session (due first, then weak, then unseen).

Storage is store.py's job; grading and running the session belong to grading.py and interview.py.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

from .corpus import Question
from .store import Store, parse_ts, utcnow

# Score -> FSRS rating. The grader's score is roughly the share of rubric key points covered (most bank
# questions have 3-5), so:
# - below 40: at most one point of three, i.e. the answer was not really known -> Again;
# - 40-64: about half the points, recalled with gaps -> Hard;
# - 65-89: most points -> Good, the normal "I knew it";
# - 90+: essentially complete, nothing to add -> Easy (an interval several times longer).
AGAIN_BELOW = 40
GOOD_FROM = 65
EASY_FROM = 90
# A seen question whose recent first-attempt mean is below Good counts as weak when picking questions.
WEAK_BELOW = GOOD_FROM
# "Seen today": a question reviewed this recently is not served again unless it is due (FSRS says when it
# should come back; a weak score alone brought the same question into session after session). 20 hours,
# so a daily practice at about the same time still gets yesterday's questions.
SEEN_RECENTLY = timedelta(hours=20)


def rating_for(score: int):
    from fsrs import Rating

    if score < AGAIN_BELOW:
        return Rating.Again
    if score < GOOD_FROM:
        return Rating.Hard
    if score < EASY_FROM:
        return Rating.Good
    return Rating.Easy


def make_scheduler():
    from fsrs import Scheduler

    # No minute-level learning steps: a question is practised once per session, so intervals are in days
    # from the first grade (Again/Hard 1 day, Good 2, Easy 8 with the default parameters). No fuzzing, so
    # schedules are reproducible and testable.
    return Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


def review(store: Store, question_id: str, score: int, now: datetime | None = None):
    """Record one graded attempt at a bank question and move its due date. Returns the fsrs Card."""
    from fsrs import Card

    now = now or utcnow()
    row = store.card(question_id)
    if row:
        card = Card.from_json(row["card"])
    else:
        # A stable id from the question id (Card() would otherwise sleep 1 ms to make a unique one).
        card = Card(card_id=zlib.crc32(question_id.encode()), due=now)
    card, _ = make_scheduler().review_card(card, rating_for(score), review_datetime=now)
    store.save_card(question_id, card.to_json(), card.due, score, now)
    return card


def pick_questions(questions: list[Question], store: Store, n: int, *, tracks: list[str] | tuple = (),
                   difficulty: str | None = None, now: datetime | None = None, seed: int = 0) -> list[Question]:
    """Up to n questions: due reviews (most overdue first), then weak seen ones (lowest recent score
    first), then unseen ones (shuffled by `seed`), then the remaining seen ones (soonest due first); a
    question seen in the last SEEN_RECENTLY and not due comes only after all of those."""
    now = now or utcnow()
    pool = [q for q in questions
            if (not tracks or q.track in tracks) and (difficulty is None or q.difficulty == difficulty)]
    cards = store.cards()
    scores = store.question_scores()
    due, weak, unseen, rest, recent = [], [], [], [], []
    for q in pool:
        card = cards.get(q.id)
        if card is None:
            unseen.append(q)
        elif parse_ts(card["due"]) <= now:
            due.append(q)
        elif now - parse_ts(card["updated_at"]) < SEEN_RECENTLY:
            recent.append(q)
        elif scores.get(q.id, card["last_score"] or 0) < WEAK_BELOW:
            weak.append(q)
        else:
            rest.append(q)
    due.sort(key=lambda q: (cards[q.id]["due"], q.id))
    weak.sort(key=lambda q: (scores.get(q.id, cards[q.id]["last_score"] or 0), q.id))
    unseen.sort(key=lambda q: q.id)
    random.Random(seed).shuffle(unseen)
    rest.sort(key=lambda q: (cards[q.id]["due"], q.id))
    recent.sort(key=lambda q: (cards[q.id]["due"], q.id))
    return (due + weak + unseen + rest + recent)[:n]
