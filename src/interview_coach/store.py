"""The session store: interview sessions, turns, answers, grades and review cards in one SQLite file
(settings.home / "coach.db"), plus the progress queries the CLI and the UI read.

It stores and reads; deciding what to ask (scheduler.py) and running a session (interview.py) live elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path

from .chunking import Citation
from .errors import CoachError, ErrorCode
from .grading import CheckClaim, Grade, PointResult

DB_NAME = "coach.db"

# Each entry upgrades the schema from version i to i + 1 (index i). A later release appends to this list;
# existing databases are migrated in order on open, inside one transaction per step.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        mode        TEXT NOT NULL,
        config      TEXT NOT NULL,              -- SessionConfig as JSON
        plan        TEXT NOT NULL,              -- the bank question ids picked at start, in order
        created_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL DEFAULT 'active'  -- active | finished
    );
    CREATE TABLE turns (
        id             INTEGER PRIMARY KEY,
        session_id     INTEGER NOT NULL REFERENCES sessions(id),
        question_id    TEXT,                    -- the bank question (a follow-up keeps its parent's)
        question       TEXT NOT NULL,           -- the text shown
        kind           TEXT NOT NULL,           -- main | follow_up
        number         INTEGER NOT NULL,        -- 1-based main question number
        parent_turn_id INTEGER REFERENCES turns(id),
        track          TEXT NOT NULL DEFAULT '',
        topic          TEXT NOT NULL DEFAULT '',
        asked_at       TEXT NOT NULL,
        skipped        INTEGER NOT NULL DEFAULT 0,
        hints          INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX turns_session ON turns(session_id);
    CREATE TABLE answers (
        id         INTEGER PRIMARY KEY,
        turn_id    INTEGER NOT NULL REFERENCES turns(id),
        text       TEXT NOT NULL,
        attempt    INTEGER NOT NULL,            -- 1 = first answer, 2+ = retries
        created_at TEXT NOT NULL,
        timed_out  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (turn_id, attempt)
    );
    CREATE TABLE grades (
        id         INTEGER PRIMARY KEY,
        answer_id  INTEGER NOT NULL UNIQUE REFERENCES answers(id),
        score      INTEGER NOT NULL,
        grade      TEXT NOT NULL,               -- Grade.to_dict() as JSON
        graded_at  TEXT NOT NULL
    );
    CREATE TABLE review_cards (
        question_id TEXT PRIMARY KEY,
        card        TEXT NOT NULL,              -- fsrs Card.to_json()
        due         TEXT NOT NULL,
        last_score  INTEGER,
        reviews     INTEGER NOT NULL DEFAULT 0,
        updated_at  TEXT NOT NULL
    );
    """,
    # 2: spoken answers keep what the transcriber heard (the answer text may have been edited since) and
    # their delivery metrics (delivery.Delivery.to_dict() as JSON). NULL for typed answers.
    """
    ALTER TABLE answers ADD COLUMN transcript TEXT;
    ALTER TABLE answers ADD COLUMN delivery TEXT
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(CoachError):
    """coach.db could not be read or written; `code` says why (an ErrorCode STORE_*). The file is never
    deleted or recreated on error: a user's history is worth more than a working start."""


# sqlite's primary result codes (sqlite3.Error.sqlite_errorcode & 0xFF), grouped by what the user can do.
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_LOCKED = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_FULL = {sqlite3.SQLITE_FULL}
_READ_ONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
_IO = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ts(when: datetime) -> str:
    """Fixed-width UTC ISO text, so that SQL string comparison orders times correctly."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _build(cls, data: dict):
    """A dataclass from a dict, ignoring keys it does not know (older or newer Grade JSON)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def grade_from_dict(data: dict) -> Grade:
    grade = _build(Grade, data)
    grade.covered = [_build(PointResult, p) for p in data.get("covered", [])]
    grade.missed = [_build(PointResult, p) for p in data.get("missed", [])]
    grade.check_this = [_build(CheckClaim, c) for c in data.get("check_this", [])]
    grade.citations = [_build(Citation, c) for c in data.get("citations", [])]
    return grade


class Store:
    """One connection per Store, shared by threads under a lock (the UI grades from worker threads).

    sqlite failures come out as one StoreError with a STORE_* code; other sqlite errors are bugs and pass."""

    # Every write here takes milliseconds, so a lock held this long is another program (a second coach
    # mid-transaction, an open sqlite3 shell): say so instead of letting a click hang.
    BUSY_TIMEOUT_S = 10.0

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = None
        with self._errors():
            # isolation_level=None: autocommit, transactions are explicit (BEGIN IMMEDIATE in _tx).
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                       timeout=self.BUSY_TIMEOUT_S)
        try:
            with self._errors():
                self._db.row_factory = sqlite3.Row
                # Checked before anything is written, so that a damaged file fails here, once, with one
                # line, rather than mid-session. quick_check reads every page: milliseconds at coach.db sizes.
                problems = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise StoreError(self._corrupt(problems[0]), code=ErrorCode.STORE_CORRUPT)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self._db.close()  # no checkpoint or rollback touches a file that failed to open
            raise

    @classmethod
    def open(cls, settings) -> "Store":
        return cls(settings.home / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing ------------------------------------------------------------------------------------

    def _explain(self, error: sqlite3.Error, saving: str | None) -> StoreError | None:
        """One user-facing StoreError for a sqlite failure (None: not a storage problem, e.g. a bug).
        `saving` names what a write was saving ("your answer"); None for reads."""
        code = getattr(error, "sqlite_errorcode", None)
        if code is None:
            return None
        code &= 0xFF  # extended codes (SQLITE_IOERR_WRITE, ...) -> their primary code
        lost = f"could not save {saving}: " if saving else ""
        if code in _CORRUPT:
            return StoreError(self._corrupt(error), code=ErrorCode.STORE_CORRUPT)
        if code in _LOCKED:
            return StoreError(
                f"{lost}{self.path} is locked by another program (another coach, or an open sqlite3 shell); "
                "close it and try again", code=ErrorCode.STORE_LOCKED)
        if saving and code in _FULL:
            return StoreError(f"{lost}the disk holding {self.path} is full; free some space and try again",
                              code=ErrorCode.STORE_WRITE_FAILED)
        if saving and code in _READ_ONLY:
            return StoreError(f"{lost}{self.path} is read-only; make it and its folder writable, then try again",
                              code=ErrorCode.STORE_WRITE_FAILED)
        if code in _IO | _READ_ONLY | _FULL:
            verb = "written" if saving else "opened or read"
            return StoreError(f"{lost}{self.path} could not be {verb} ({error}); check the disk and the "
                              "file's permissions, then try again",
                              code=ErrorCode.STORE_WRITE_FAILED if saving else ErrorCode.STORE_UNREADABLE)
        return None

    def _corrupt(self, problem) -> str:
        return (f"{self.path} is damaged or not an interview-coach database ({problem}); it was left untouched: "
                "restore a backup, or move it aside to start a new history")

    @contextmanager
    def _errors(self, saving: str | None = None):
        try:
            yield
        except sqlite3.Error as e:
            explained = self._explain(e, saving)
            if explained is None:
                raise
            raise explained from e

    @contextmanager
    def _tx(self, saving: str):
        """One write transaction; `saving` names what it saves, for the error message."""
        with self._lock, self._errors(saving):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # sqlite may already have rolled back (SQLITE_FULL does); a failed ROLLBACK must not hide
                # the error that matters.
                if self._db.in_transaction:
                    with suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise

    def _all(self, sql: str, params=()) -> list[dict]:
        with self._lock, self._errors():
            return [dict(r) for r in self._db.execute(sql, params).fetchall()]

    def _one(self, sql: str, params=()) -> dict | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @property
    def schema_version(self) -> int:
        return self._one("PRAGMA user_version")["user_version"]

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer interview-coach (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade interview-coach or use another COACH_HOME")

    def _migrate(self) -> None:
        # Up to date (the usual case): no write lock is needed just to open, so reading works while
        # another program holds coach.db's write lock, and a read-only file can still be read.
        version = self.schema_version
        self._check_version(version)
        if version == SCHEMA_VERSION:
            return
        with self._tx("the schema upgrade") as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            self._check_version(version)
            for step in range(version, SCHEMA_VERSION):
                # executescript would COMMIT our transaction; run the statements one by one instead.
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {step + 1}")

    # -- sessions ------------------------------------------------------------------------------------

    def create_session(self, mode: str, config: dict, plan: list[str], now: datetime) -> int:
        with self._tx("the new session") as db:
            cur = db.execute("INSERT INTO sessions (mode, config, plan, created_at) VALUES (?, ?, ?, ?)",
                             (mode, json.dumps(config), json.dumps(plan), ts(now)))
            return cur.lastrowid

    @staticmethod
    def _session_row(row: dict) -> dict:
        row["config"] = json.loads(row["config"])
        row["plan"] = json.loads(row["plan"])
        return row

    def session(self, session_id: int) -> dict | None:
        row = self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return self._session_row(row) if row else None

    def finish_session(self, session_id: int, now: datetime) -> None:
        with self._tx("the end of the session") as db:
            db.execute("UPDATE sessions SET finished_at = ?, status = 'finished' WHERE id = ?",
                       (ts(now), session_id))

    def sessions(self, limit: int | None = None, unfinished: bool = False) -> list[dict]:
        """Newest first, with counts and the mean first-attempt score of main questions."""
        where = "WHERE s.finished_at IS NULL" if unfinished else ""
        rows = self._all(f"""
            SELECT s.*,
              (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id AND t.kind = 'main') AS asked,
              (SELECT COUNT(DISTINCT t.id) FROM turns t JOIN answers a ON a.turn_id = t.id
                 WHERE t.session_id = s.id AND t.kind = 'main') AS answered
            FROM sessions s {where} ORDER BY s.id DESC {'LIMIT ?' if limit else ''}""",
                         (limit,) if limit else ())
        scores = {}
        for r in self.main_scores():
            scores.setdefault(r["session_id"], []).append(r["score"])
        for row in rows:
            self._session_row(row)
            got = scores.get(row["id"], [])
            row["questions"] = len(row["plan"])
            row["score"] = round(sum(got) / len(got), 1) if got else None
        return rows

    def unfinished_sessions(self) -> list[dict]:
        return self.sessions(unfinished=True)

    def latest_unfinished(self) -> int | None:
        row = self._one("SELECT id FROM sessions WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1")
        return row["id"] if row else None

    # -- turns, answers, grades -------------------------------------------------------------------------

    def add_turn(self, session_id: int, *, question_id: str | None, question: str, kind: str, number: int,
                 track: str, topic: str, asked_at: datetime, parent_turn_id: int | None = None) -> int:
        with self._tx("the question asked") as db:
            cur = db.execute(
                "INSERT INTO turns (session_id, question_id, question, kind, number, parent_turn_id, track, topic,"
                " asked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, question_id, question, kind, number, parent_turn_id, track, topic, ts(asked_at)))
            return cur.lastrowid

    def turns(self, session_id: int) -> list[dict]:
        return self._all("SELECT * FROM turns WHERE session_id = ? ORDER BY id", (session_id,))

    def turn(self, turn_id: int) -> dict | None:
        return self._one("SELECT * FROM turns WHERE id = ?", (turn_id,))

    def set_asked_at(self, turn_id: int, asked_at: datetime) -> None:
        with self._tx("the question's start time") as db:
            db.execute("UPDATE turns SET asked_at = ? WHERE id = ?", (ts(asked_at), turn_id))

    def set_question(self, turn_id: int, question: str) -> None:
        """A follow-up's text, rewritten by the model from the candidate's answer before it is answered."""
        with self._tx("the follow-up question") as db:
            db.execute("UPDATE turns SET question = ? WHERE id = ?", (question, turn_id))

    def count_hint(self, turn_id: int) -> None:
        with self._tx("the hint count") as db:
            db.execute("UPDATE turns SET hints = hints + 1 WHERE id = ?", (turn_id,))

    def add_answer(self, turn_id: int, text: str, *, created_at: datetime, timed_out: bool = False) -> tuple[int, int]:
        """Store an answer (before it is graded); returns (answer id, attempt number)."""
        with self._tx("your answer") as db:
            attempt = db.execute("SELECT COALESCE(MAX(attempt), 0) + 1 FROM answers WHERE turn_id = ?",
                                 (turn_id,)).fetchone()[0]
            cur = db.execute("INSERT INTO answers (turn_id, text, attempt, created_at, timed_out) VALUES (?, ?, ?, ?, ?)",
                             (turn_id, text, attempt, ts(created_at), int(timed_out)))
            return cur.lastrowid, attempt

    def add_grade(self, answer_id: int, grade: Grade, graded_at: datetime) -> int:
        with self._tx("the grade (your answer is saved and is graded again on resume)") as db:
            cur = db.execute("INSERT INTO grades (answer_id, score, grade, graded_at) VALUES (?, ?, ?, ?)",
                             (answer_id, int(grade.score), json.dumps(grade.to_dict()), ts(graded_at)))
            return cur.lastrowid

    def skip_turn(self, turn_id: int, grade: Grade, now: datetime) -> int:
        """A skip is stored as an empty answer with a zero grade, in one transaction (never half-written)."""
        with self._tx("the skip") as db:
            db.execute("UPDATE turns SET skipped = 1 WHERE id = ?", (turn_id,))
            attempt = db.execute("SELECT COALESCE(MAX(attempt), 0) + 1 FROM answers WHERE turn_id = ?",
                                 (turn_id,)).fetchone()[0]
            answer_id = db.execute("INSERT INTO answers (turn_id, text, attempt, created_at) VALUES (?, '', ?, ?)",
                                   (turn_id, attempt, ts(now))).lastrowid
            db.execute("INSERT INTO grades (answer_id, score, grade, graded_at) VALUES (?, ?, ?, ?)",
                       (answer_id, int(grade.score), json.dumps(grade.to_dict()), ts(now)))
            return answer_id

    def add_delivery(self, answer_id: int, transcript: str, delivery: dict) -> None:
        """Attach a spoken answer's transcript and delivery metrics to its stored answer."""
        with self._tx("the answer's delivery") as db:
            db.execute("UPDATE answers SET transcript = ?, delivery = ? WHERE id = ?",
                       (transcript, json.dumps(delivery), answer_id))

    def answers(self, turn_id: int) -> list[dict]:
        """Every attempt at a turn, oldest first, each with `grade` (a Grade) or None if not graded yet."""
        rows = self._all("""
            SELECT a.*, g.score, g.grade AS grade_json, g.graded_at FROM answers a
            LEFT JOIN grades g ON g.answer_id = a.id WHERE a.turn_id = ? ORDER BY a.attempt""", (turn_id,))
        for row in rows:
            raw = row.pop("grade_json")
            row["grade"] = grade_from_dict(json.loads(raw)) if raw else None
            row["delivery"] = json.loads(row["delivery"]) if row.get("delivery") else None
        return rows

    def ungraded_answers(self, session_id: int) -> list[dict]:
        return self._all("""
            SELECT a.*, t.kind, t.question_id, t.question FROM answers a JOIN turns t ON t.id = a.turn_id
            LEFT JOIN grades g ON g.answer_id = a.id
            WHERE t.session_id = ? AND g.id IS NULL ORDER BY a.id""", (session_id,))

    # -- review cards ----------------------------------------------------------------------------------

    def card(self, question_id: str) -> dict | None:
        return self._one("SELECT * FROM review_cards WHERE question_id = ?", (question_id,))

    def cards(self) -> dict[str, dict]:
        return {r["question_id"]: r for r in self._all("SELECT * FROM review_cards")}

    def save_card(self, question_id: str, card_json: str, due: datetime, score: int, now: datetime) -> None:
        with self._tx("the review schedule") as db:
            db.execute("""
                INSERT INTO review_cards (question_id, card, due, last_score, reviews, updated_at)
                VALUES (?, ?, ?, ?, 1, ?)
                ON CONFLICT (question_id) DO UPDATE SET card = excluded.card, due = excluded.due,
                  last_score = excluded.last_score, reviews = reviews + 1, updated_at = excluded.updated_at""",
                       (question_id, card_json, ts(due), int(score), ts(now)))

    def due_reviews(self, now: datetime, limit: int | None = None) -> list[dict]:
        """Cards due at `now`, most overdue first."""
        return self._all(
            "SELECT question_id, due, last_score, reviews FROM review_cards WHERE due <= ? ORDER BY due, question_id"
            + (" LIMIT ?" if limit else ""), (ts(now), limit) if limit else (ts(now),))

    def upcoming_reviews(self, now: datetime, limit: int = 10) -> list[dict]:
        return self._all("SELECT question_id, due, last_score, reviews FROM review_cards WHERE due > ?"
                         " ORDER BY due, question_id LIMIT ?", (ts(now), limit))

    # -- progress ------------------------------------------------------------------------------------

    def main_scores(self) -> list[dict]:
        """First-attempt scores of main questions (skips count as 0), oldest first.

        Retries are left out on purpose: they come right after the critique showed the missed points, so
        they measure reading, not recall.
        """
        return self._all("""
            SELECT t.session_id, t.id AS turn_id, t.question_id, t.track, t.topic, t.skipped,
                   g.score, a.created_at AS answered_at
            FROM turns t JOIN answers a ON a.turn_id = t.id AND a.attempt = 1
            JOIN grades g ON g.answer_id = a.id
            WHERE t.kind = 'main' ORDER BY a.created_at, a.id""")

    def delivery_history(self) -> list[dict]:
        """Spoken answers, oldest first: session_id, turn_id, question_id, answered_at and `delivery` (a dict)."""
        rows = self._all("""
            SELECT t.session_id, t.id AS turn_id, t.question_id, a.attempt, a.created_at AS answered_at,
                   a.delivery FROM answers a JOIN turns t ON t.id = a.turn_id
            WHERE a.delivery IS NOT NULL ORDER BY a.created_at, a.id""")
        for row in rows:
            row["delivery"] = json.loads(row["delivery"])
        return rows

    def track_history(self) -> dict[str, list[dict]]:
        """{track: [{session_id, date, score (mean), n}]} in time order: one point per session and track."""
        points: dict[tuple[str, int], dict] = {}
        for r in self.main_scores():
            p = points.setdefault((r["track"], r["session_id"]), {
                "session_id": r["session_id"], "date": r["answered_at"][:10], "scores": []})
            p["scores"].append(r["score"])
        history: dict[str, list[dict]] = {}
        for (track, _), p in points.items():
            scores = p.pop("scores")
            history.setdefault(track, []).append({**p, "score": round(sum(scores) / len(scores), 1), "n": len(scores)})
        return {t: sorted(v, key=lambda p: p["session_id"]) for t, v in sorted(history.items())}

    def question_scores(self, recent: int = 3) -> dict[str, float]:
        """{question id: mean of its last `recent` first-attempt scores}."""
        by_q: dict[str, list[int]] = {}
        for r in self.main_scores():
            if r["question_id"]:
                by_q.setdefault(r["question_id"], []).append(r["score"])
        return {q: sum(s[-recent:]) / len(s[-recent:]) for q, s in by_q.items()}

    def weakest_topics(self, limit: int = 5, recent: int = 5) -> list[dict]:
        """Topics by the mean of their last `recent` first-attempt scores, lowest first."""
        by_topic: dict[str, dict] = {}
        for r in self.main_scores():
            t = by_topic.setdefault(r["topic"], {"topic": r["topic"], "track": r["track"], "scores": []})
            t["scores"].append(r["score"])
        out = []
        for t in by_topic.values():
            last = t.pop("scores")[-recent:]
            out.append({**t, "score": round(sum(last) / len(last), 1), "n": len(last)})
        out.sort(key=lambda t: (t["score"], t["topic"]))
        return out[:limit]
