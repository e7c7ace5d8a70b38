"""Progress as plain data: scores per track, weakest topics, reviews due and upcoming, sessions.

Shared by `coach progress` and the UI's Progress tab; rendering is theirs.
"""

from __future__ import annotations


def progress_data(store, questions, *, weakest: int = 5, due: int | None = None, upcoming: int = 5,
                  sessions: int = 20) -> dict:
    """Everything the progress views show, with each review row named by its bank question."""
    from .store import utcnow

    by_id = {q.id: q for q in questions}
    now = utcnow()

    def described(rows):
        return [{**r, "question": by_id[r["question_id"]].question if r["question_id"] in by_id else "",
                 "track": by_id[r["question_id"]].track if r["question_id"] in by_id else ""} for r in rows]

    scores = store.main_scores()
    recent = store.sessions(limit=sessions)
    for s in recent:
        s.pop("plan", None)
    return {
        "tracks": store.track_history(),
        "weakest": store.weakest_topics(limit=weakest),
        "due": with_skips(described(store.due_reviews(now, limit=due)), scores),
        "upcoming": with_skips(described(store.upcoming_reviews(now, limit=upcoming)), scores),
        "sessions": sessions_with_skips(recent, scores),
        "unfinished": [s["id"] for s in store.unfinished_sessions()],
    }


def sessions_with_skips(sessions: list[dict], scores: list[dict]) -> list[dict]:
    """Each session row with `skipped` (main questions skipped) and `answered` counting real answers only:
    the store counts a skip as an answer scored 0."""
    skipped: dict[int, int] = {}
    for r in scores:
        skipped[r["session_id"]] = skipped.get(r["session_id"], 0) + bool(r["skipped"])
    return [{**s, "skipped": skipped.get(s["id"], 0), "answered": s["answered"] - skipped.get(s["id"], 0)}
            for s in sessions]


def with_skips(reviews: list[dict], scores: list[dict]) -> list[dict]:
    """Each review row with `last_skipped`: whether its last first attempt was a skip (its 0 is no score)."""
    last = {r["question_id"]: bool(r["skipped"]) for r in scores if r["question_id"]}  # oldest first: last wins
    return [{**r, "last_skipped": last.get(r["question_id"], False)} for r in reviews]
