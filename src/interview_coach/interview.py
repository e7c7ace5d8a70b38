"""The interview state machine: ask planned questions, store each answer before grading it, give feedback
(practice) or hold it back until the end (interview), one follow-up per question, retry, skip, hint, resume.

Grading and model answers come from the grader and answerer it is given; storage and scheduling from
store.py and scheduler.py; rendering is left to the CLI and the UI.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from . import scheduler
from .corpus import DIFFICULTIES
from .errors import CoachError, UsageError
from .grading import Grade
from .store import Store, parse_ts, utcnow

MODES = ("practice", "interview")
# Topics whose mean first-attempt score is below this are "weakest" in the summary (the Good rating's
# threshold: below it the scheduler also treats the question as not yet known well).
WEAK_BELOW = scheduler.WEAK_BELOW
MAX_WEAKEST = 3


@dataclass
class SessionConfig:
    tracks: list[str] = field(default_factory=list)   # empty = all tracks
    difficulty: str | None = None
    n_questions: int = 5
    mode: str = "practice"                            # "practice" | "interview"
    time_limit_s: int | None = None                   # per question; late answers are kept, marked timed out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SessionConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be practice or interview, not {self.mode!r}")
        if self.difficulty is not None and self.difficulty not in DIFFICULTIES:
            raise UsageError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {self.difficulty!r}")
        if self.n_questions < 1:
            raise UsageError("the number of questions must be at least 1")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise UsageError("the time limit must be a positive number of seconds")


@dataclass
class Turn:
    turn_id: int
    question_id: str | None      # the bank question (a follow-up carries its parent's id)
    question: str                # the text asked
    kind: str                    # "main" | "follow_up"
    number: int                  # 1-based main question number
    total: int                   # main questions planned
    track: str
    topic: str
    asked_at: datetime

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "asked_at": self.asked_at.isoformat()}


@dataclass
class Feedback:
    turn: Turn
    grade: Grade | None          # None in interview mode until finish()
    previous_score: int | None = None  # retry: the score of the attempt before
    delta: int | None = None     # retry: new score - previous score
    timed_out: bool = False
    next_turn: Turn | None = None


@dataclass
class Summary:
    session_id: int
    mode: str
    turns: list[tuple[Turn, Grade | None]]   # every turn asked, with its first-attempt grade
    per_topic: dict[str, float]
    per_track: dict[str, float]
    weakest: list[str]
    notes_to_read: list[dict]    # [{id, title, source}]
    score: float | None          # mean first-attempt score of main questions (skips count 0)
    timed_out: list[int] = field(default_factory=list)   # turn ids answered after the time limit
    skipped: list[int] = field(default_factory=list)     # turn ids skipped
    retried: dict[int, int] = field(default_factory=dict)  # turn id -> score of the last retry

    def to_dict(self) -> dict:
        return {
            "session_id": self.session_id, "mode": self.mode, "score": self.score,
            "turns": [{"turn": t.to_dict(), "grade": g.to_dict() if g else None} for t, g in self.turns],
            "per_topic": self.per_topic, "per_track": self.per_track, "weakest": self.weakest,
            "notes_to_read": self.notes_to_read, "timed_out": self.timed_out, "skipped": self.skipped,
            "retried": {str(k): v for k, v in self.retried.items()},
        }


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


class InterviewSession:
    """One session, persisted as it goes: every call writes to the store before it returns.

    Collaborators: the corpus (question bank and notes), a grader (`grade(question, answer)`) and an
    answerer (`ask(question, on_token=)`). `start` and `resume` take them from a Coach."""

    def __init__(self, corpus, grader, answerer, store: Store, session_id: int, config: SessionConfig,
                 plan: list[str], clock: Callable[[], datetime] | None = None, coaching=None):
        self.coaching = coaching                   # critique.Coaching, or None: bank follow-ups, grader feedback
        self.corpus = corpus
        self.grader = grader
        self.answerer = answerer
        self.store = store
        self.session_id = session_id
        self.config = config
        self.plan = plan
        self.clock = clock or utcnow
        self.turns: list[Turn] = []
        self.current: Turn | None = None
        self.finished = False
        self._last_attempted: Turn | None = None   # the turn retry and model_answer act on
        self._followed: set[int] = set()           # main turns that already had their follow-up
        self.model_follow_ups: set[int] = set()    # follow-up turns whose question the model wrote
        self._pending_follow_up = None             # (follow-up turn, grade, answer) for write_follow_up

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def start(cls, coach, config: SessionConfig, *, store: Store | None = None,
              clock: Callable[[], datetime] | None = None, seed: int | None = None) -> "InterviewSession":
        config.validate()
        clock = clock or utcnow
        store = store or Store.open(coach.settings)
        questions = coach.corpus.questions
        known = sorted({q.track for q in questions})
        unknown = [t for t in config.tracks if t not in known]
        if unknown:
            raise UsageError(f"no questions in track {unknown[0]!r}; tracks: {', '.join(known)}")
        now = clock()
        # Deterministic for a given seed; by default the start time varies the order of unseen questions.
        seed = int(now.timestamp()) if seed is None else seed
        picked = scheduler.pick_questions(questions, store, config.n_questions, tracks=config.tracks,
                                          difficulty=config.difficulty, now=now, seed=seed)
        if not picked:
            raise UsageError(f"no {config.difficulty} questions in the chosen tracks; pick another difficulty")
        session_id = store.create_session(config.mode, config.to_dict(), [q.id for q in picked], now)
        session = cls(coach.corpus, coach.grader, coach.answerer, store, session_id, config,
                      [q.id for q in picked], clock, coaching=getattr(coach, "coaching", None))
        session._ask_main(1)
        return session

    @classmethod
    def resume(cls, coach, session_id: int, *, store: Store | None = None,
               clock: Callable[[], datetime] | None = None) -> "InterviewSession":
        store = store or Store.open(coach.settings)
        row = store.session(session_id)
        if row is None:
            raise UsageError(f"there is no session {session_id}; `coach progress` lists your sessions")
        if row["finished_at"]:
            raise UsageError(f"session {session_id} is already finished; start a new one with `coach interview`")
        session = cls(coach.corpus, coach.grader, coach.answerer, store, session_id,
                      SessionConfig.from_dict(row["config"]), row["plan"], clock,
                      coaching=getattr(coach, "coaching", None))
        for r in store.turns(session_id):
            session.turns.append(session._turn(r))
            if r["kind"] == "follow_up" and r["parent_turn_id"]:
                session._followed.add(r["parent_turn_id"])
        # Answers saved before a crash (or Ctrl-C during grading) are graded now.
        session._grade_pending()
        if not session.turns:
            session._ask_main(1)
            return session
        attempted = [t for t in session.turns if store.answers(t.turn_id)]
        session._last_attempted = attempted[-1] if attempted else None
        last = session.turns[-1]
        answers = store.answers(last.turn_id)
        if not answers:
            # Asked but never answered: ask it again, with a fresh clock for the time limit.
            last.asked_at = session.clock()
            store.set_asked_at(last.turn_id, last.asked_at)
            session.current = last
        else:
            session._advance(last, answers[0]["grade"])
        return session

    def _turn(self, row: dict) -> Turn:
        return Turn(turn_id=row["id"], question_id=row["question_id"], question=row["question"], kind=row["kind"],
                    number=row["number"], total=len(self.plan), track=row["track"], topic=row["topic"],
                    asked_at=parse_ts(row["asked_at"]))

    # -- state ----------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.current is None

    @property
    def last_attempted(self) -> Turn | None:
        """The turn answered (or skipped) most recently: what retry() and model_answer() act on."""
        return self._last_attempted

    def main_turn(self, turn: Turn) -> Turn:
        """The main question a turn belongs to: itself, or the question a follow-up follows."""
        if turn.kind == "main":
            return turn
        return next((t for t in self.turns if t.kind == "main" and t.number == turn.number), turn)

    def _require_current(self) -> Turn:
        if self.current is None:
            raise UsageError("the session has no question left; finish it to see the summary")
        return self.current

    def _new_turn(self, **fields) -> Turn:
        now = self.clock()
        turn_id = self.store.add_turn(self.session_id, asked_at=now, **fields)
        turn = self._turn({**fields, "id": turn_id, "asked_at": now.isoformat(),
                           "parent_turn_id": fields.get("parent_turn_id")})
        self.turns.append(turn)
        self.current = turn
        return turn

    def _ask_main(self, number: int) -> Turn | None:
        # A planned question that has left the bank since the session started is passed over.
        while number <= len(self.plan):
            q = self.corpus.question(self.plan[number - 1])
            if q is not None:
                return self._new_turn(question_id=q.id, question=q.question, kind="main", number=number,
                                      track=q.track, topic=q.topic)
            number += 1
        self.current = None
        return None

    def _advance(self, turn: Turn, grade: Grade | None) -> Turn | None:
        """After a turn is answered: its follow-up (once per main question), else the next main question."""
        if turn.kind == "main" and grade is not None and grade.follow_up and turn.turn_id not in self._followed:
            self._followed.add(turn.turn_id)
            return self._new_turn(question_id=turn.question_id, question=grade.follow_up, kind="follow_up",
                                  number=turn.number, track=turn.track, topic=turn.topic,
                                  parent_turn_id=turn.turn_id)
        return self._ask_main(turn.number + 1)

    def _grade(self, turn: Turn, answer_id: int, text: str, attempt: int) -> Grade:
        # Main questions are graded against their rubric by id; a follow-up against the notes of the
        # question it follows.
        if turn.kind == "main":
            grade = self.grader.grade(turn.question_id or turn.question, text)
        else:
            grade = self.grader.grade(turn.question, text, parent=turn.question_id)
        now = self.clock()
        self.store.add_grade(answer_id, grade, now)
        # Only first attempts move the schedule: a retry comes right after the critique showed the answer.
        if turn.kind == "main" and attempt == 1 and turn.question_id:
            scheduler.review(self.store, turn.question_id, grade.score, now)
        return grade

    def _grade_pending(self) -> None:
        by_id = {t.turn_id: t for t in self.turns}
        for a in self.store.ungraded_answers(self.session_id):
            self._grade(by_id[a["turn_id"]], a["id"], a["text"], a["attempt"])

    # -- the verbs -------------------------------------------------------------------------------------

    def answer(self, text: str) -> Feedback:
        turn = self._require_current()
        text = text.strip()
        if not text:
            raise UsageError("the answer is empty; type an answer, or skip the question")
        now = self.clock()
        limit = self.config.time_limit_s
        timed_out = bool(limit) and (now - turn.asked_at).total_seconds() > limit
        # Stored first: if grading fails or the process dies, resume() grades it.
        answer_id, attempt = self.store.add_answer(turn.turn_id, text, created_at=now, timed_out=timed_out)
        self._last_attempted = turn
        grade = self._grade(turn, answer_id, text, attempt)
        next_turn = self._advance(turn, grade)
        if next_turn is not None and next_turn.kind == "follow_up":
            self._pending_follow_up = (next_turn, grade, text)
        shown = grade if self.config.mode == "practice" else None
        return Feedback(turn=turn, grade=shown, timed_out=timed_out, next_turn=next_turn)

    def write_follow_up(self) -> bool:
        """Let the model rewrite the follow-up just asked from the candidate's answer (the bank's stands
        until then, and stays when there is no model, it fails, or its question fails the checks in
        critique.py). Called after the grade is shown, so that grading never waits for the model.
        True when the model's question is now the follow-up."""
        pending, self._pending_follow_up = self._pending_follow_up, None
        if self.coaching is None or pending is None:
            return False
        turn, grade, text = pending
        if self.current is not turn or self.store.answers(turn.turn_id):
            return False  # moved on (skipped, or already answered) meanwhile
        try:
            written = self.coaching.follow_up(grade, text)
        except CoachError:
            return False
        if not written.by_model:
            return False
        self.store.set_question(turn.turn_id, written.text)
        turn.question = written.text
        self.model_follow_ups.add(turn.turn_id)
        return True

    def critique(self, grade: Grade, *, on_token=None):
        """The model's critique of a grade (critique.WrittenCritique), each sentence verified against the
        grade's facts; the grader's own feedback when there is no model."""
        from .critique import WrittenCritique

        if self.coaching is None:
            return WrittenCritique(grade.feedback, False)
        return self.coaching.critique(grade, on_token=on_token)

    def retry(self, text: str) -> Feedback:
        if self.config.mode != "practice":
            raise UsageError("retry is for practice mode; in interview mode the first answer counts")
        turn = self._last_attempted
        if turn is None:
            raise UsageError("nothing to retry yet: answer a question first")
        text = text.strip()
        if not text:
            raise UsageError("the answer is empty; type your new answer")
        graded = [a for a in self.store.answers(turn.turn_id) if a["grade"] is not None]
        previous = graded[-1]["score"] if graded else None
        answer_id, attempt = self.store.add_answer(turn.turn_id, text, created_at=self.clock())
        grade = self._grade(turn, answer_id, text, attempt)
        return Feedback(turn=turn, grade=grade, previous_score=previous,
                        delta=None if previous is None else grade.score - previous, next_turn=self.current)

    def is_stored(self, turn: Turn | None, text: str) -> bool:
        """Whether `text` is the latest stored answer to `turn`: after a failed submit, the edges tell the
        candidate whether to submit again (False also when the store cannot be read)."""
        if turn is None:
            return False
        try:
            rows = self.store.answers(turn.turn_id)
        except CoachError:
            return False
        return bool(rows) and rows[-1]["text"] == text.strip()

    def skip(self) -> Turn | None:
        """Move on. A skip is recorded as an empty answer scored 0 (reason "skipped") and schedules the
        question as Again: a skipped question is one you could not answer, so it comes back soon."""
        turn = self._require_current()
        grade = Grade(question_id=turn.question_id if turn.kind == "main" else None, question=turn.question,
                      answer="", score=0, feedback="Skipped.", reason="skipped")
        now = self.clock()
        self.store.skip_turn(turn.turn_id, grade, now)
        if turn.kind == "main" and turn.question_id:
            scheduler.review(self.store, turn.question_id, 0, now)
        self._last_attempted = turn
        # A skipped question gets no follow-up.
        return self._ask_main(turn.number + 1)

    def hint(self) -> str:
        """One nudge toward the next key point not yet hinted (the note section that covers it and terms to
        think about); never the point itself. Follow-ups, which have no rubric, get the section only."""
        from .hints import nudge

        turn = self._require_current()
        q = self.corpus.question(turn.question_id) if turn.question_id else None
        docs = {d.id: d for d in self.corpus.documents}
        notes = [docs[n] for n in (q.notes if q else ()) if n in docs]
        points = q.key_points if q is not None and turn.kind == "main" else ()
        given = (self.store.turn(turn.turn_id) or {}).get("hints", 0)
        self.store.count_hint(turn.turn_id)
        return nudge(turn.question, points, notes, given).text

    def model_answer(self, turn_id: int | None = None, *, on_token=None):
        """A cited answer to the last answered (or skipped) question, or to `turn_id`; only after an attempt."""
        if self.config.mode == "interview" and not self.finished:
            raise UsageError("model answers are shown after the interview; finish it first (or use practice mode)")
        turn = self._last_attempted if turn_id is None else next(
            (t for t in self.turns if t.turn_id == turn_id), None)
        if turn is None or not self.store.answers(turn.turn_id):
            raise UsageError("answer the question first; the model answer comes after your own attempt")
        return self.answerer.ask(turn.question, on_token=on_token)

    def finish(self) -> Summary:
        self._grade_pending()
        if not self.finished:
            self.store.finish_session(self.session_id, self.clock())
        self.finished = True
        self.current = None
        return self.summary()

    def close(self) -> None:
        self.store.close()

    # -- summary ------------------------------------------------------------------------------------

    def summary(self) -> Summary:
        pairs, timed_out, skipped, retried = [], [], [], {}
        main_scores: list[tuple[Turn, int]] = []
        for turn in self.turns:
            answers = self.store.answers(turn.turn_id)
            first = answers[0] if answers else None
            grade = first["grade"] if first else None
            pairs.append((turn, grade))
            if first and first["timed_out"]:
                timed_out.append(turn.turn_id)
            if grade is not None and grade.reason == "skipped" and not first["text"]:
                skipped.append(turn.turn_id)
            if len(answers) > 1 and answers[-1]["grade"] is not None:
                retried[turn.turn_id] = answers[-1]["grade"].score
            if turn.kind == "main" and grade is not None:
                main_scores.append((turn, grade.score))
        per_topic = {topic: _mean(s for t, s in main_scores if t.topic == topic)
                     for topic in dict.fromkeys(t.topic for t, _ in main_scores)}
        per_track = {track: _mean(s for t, s in main_scores if t.track == track)
                     for track in dict.fromkeys(t.track for t, _ in main_scores)}
        weakest = sorted((t for t, m in per_topic.items() if m < WEAK_BELOW), key=lambda t: (per_topic[t], t))
        weakest = weakest[:MAX_WEAKEST]
        return Summary(session_id=self.session_id, mode=self.config.mode, turns=pairs, per_topic=per_topic,
                       per_track=per_track, weakest=weakest, notes_to_read=self._notes_for(weakest, main_scores),
                       score=_mean(s for _, s in main_scores), timed_out=timed_out, skipped=skipped,
                       retried=retried)

    def _notes_for(self, weakest: list[str], main_scores: list[tuple[Turn, int]]) -> list[dict]:
        corpus = self.corpus
        docs = {d.id: d for d in corpus.documents}
        notes: dict[str, dict] = {}
        for topic in weakest:
            for turn, _ in sorted((p for p in main_scores if p[0].topic == topic), key=lambda p: p[1]):
                q = corpus.question(turn.question_id) if turn.question_id else None
                for note_id in (q.notes if q else ()):
                    if note_id in docs and note_id not in notes:
                        notes[note_id] = {"id": note_id, "title": docs[note_id].title, "source": docs[note_id].source}
        return list(notes.values())
