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

    recent = store.sessions(limit=sessions)
    for s in recent:
        s.pop("plan", None)
    return {
        "tracks": store.track_history(),
        "weakest": store.weakest_topics(limit=weakest),
        "due": described(store.due_reviews(now, limit=due)),
        "upcoming": described(store.upcoming_reviews(now, limit=upcoming)),
        "sessions": recent,
        "unfinished": [s["id"] for s in store.unfinished_sessions()],
    }
