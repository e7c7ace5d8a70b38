"""`coach interview` (a mock interview in the terminal, saved as it goes) and `coach progress` (scores over
time, weakest topics, due reviews, sessions).

The session logic lives in interview.py; this module reads answers, dispatches /commands and renders.
"""

from __future__ import annotations

import sys

from ..errors import CoachError, UsageError
from ..limits import check_answer_length
from .common import print_json, settings_from

ANSWERING = """\
Answering: type your answer over as many lines as you like and finish it with an empty line (or Ctrl-D).
Instead of an answer you can type a command:
  /hint    a nudge toward the next key point: where your notes cover it, and what to think about
  /skip    skip this question (it counts as 0 and comes back for review soon)
  /retry   answer the question you just had feedback on again, and see the change in score (practice)
  /model   the coach's cited model answer to the question you just answered or skipped
  /quit    save and stop; continue later with `coach interview --resume`
  /help    this list
Ctrl-C also saves and stops. Piped input works the same way (one answer per paragraph)."""

COMMANDS = ("/hint", "/skip", "/retry", "/model", "/quit", "/help")


def add_parsers(sub) -> None:
    import argparse

    from ..corpus import DIFFICULTIES
    from ..interview import MODES

    p = sub.add_parser(
        "interview", help="a mock interview in the terminal (practice or interview mode)",
        description="Ask questions from the bank (due reviews first, then weak topics, then new ones), grade "
                    "each answer against its rubric and schedule it for review. Everything is saved as you go.",
        epilog=ANSWERING, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--track", action="append", default=[], metavar="TRACK",
                   help="only this track (repeat for several; default all)")
    p.add_argument("--difficulty", choices=DIFFICULTIES, help="only questions of this difficulty")
    p.add_argument("-n", "--questions", type=int, default=5, metavar="N", help="main questions to ask (default 5)")
    p.add_argument("--mode", choices=MODES, default="practice",
                   help="practice: feedback after each answer, retries; interview: feedback only at the end")
    p.add_argument("--time-limit", type=int, metavar="SECONDS",
                   help="time per question; a later answer is kept but marked timed out")
    p.add_argument("--resume", nargs="?", const="latest", metavar="SESSION_ID",
                   help="continue a saved session (the latest unfinished one without an id)")
    p.set_defaults(func=cmd_interview)

    p = sub.add_parser("progress", help="scores by track over time, weakest topics, due reviews, sessions")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_progress)


# -- interview ----------------------------------------------------------------------------------------

def cmd_interview(args) -> int:
    from rich.console import Console

    from ..coach import Coach
    from ..interview import InterviewSession, SessionConfig
    from ..store import Store

    settings = settings_from(args)
    coach = Coach(settings)
    console = Console(highlight=False)
    store = Store.open(settings)
    try:
        if args.resume:
            if args.resume == "latest":
                session_id = store.latest_unfinished()
                if session_id is None:
                    raise UsageError("there is no unfinished session to resume; start one with `coach interview`")
            else:
                try:
                    session_id = int(args.resume)
                except ValueError:
                    raise UsageError(f"a session id is a number, not {args.resume!r}") from None
            with console.status("Resuming (grading any saved answers)…"):
                session = InterviewSession.resume(coach, session_id, store=store)
            console.print(f"[bold]Resuming session {session_id}[/] ({session.config.mode} mode).")
            if session.current is not None and session.current.kind == "follow_up":
                # The follow-up reads in context: the question it follows comes first.
                _show_question(console, session, session.main_turn(session.current))
        else:
            config = SessionConfig(tracks=args.track, difficulty=args.difficulty, n_questions=args.questions,
                                   mode=args.mode, time_limit_s=args.time_limit)
            session = InterviewSession.start(coach, config, store=store)
            n = len(session.plan)
            console.print(f"[bold]Session {session.session_id}[/]: {n} question{'s' if n != 1 else ''}, "
                          f"{config.mode} mode" + (f", {config.time_limit_s}s per question" if config.time_limit_s else "")
                          + ".")
        console.print(f"[dim]Finish an answer with an empty line (or Ctrl-D). Commands: {' '.join(COMMANDS)}[/]")
        return _run(console, session, Preload(coach, session.current.question if session.current else ""))
    finally:
        store.close()


# A free-text answer of a few content words: grading it takes the slow first-use paths (the bank's
# vectors for a follow-up, retrieval, the judge's claim check) without storing anything.
WARM_ANSWER = "This warm-up sentence loads the grading models before the first answer."


class Preload:
    """Loads what grading needs while the candidate types the first answer: the embedder, the index, the
    judge and the bank's vectors (which a follow-up's free text uses, the 12 s a first follow-up took).
    Grading waits for it, so nothing loads twice or in parallel. The chat model is left to /model, under
    its spinner: llama.cpp silences the process's stdout while it loads, which would swallow the session."""

    def __init__(self, coach, question: str):
        import threading

        self.grading = threading.Event()
        threading.Thread(target=self._run, args=(coach, question), daemon=True, name="coach-preload").start()

    def _run(self, coach, question: str) -> None:
        import contextlib

        try:
            with contextlib.suppress(Exception):  # a problem is left to the real call, which reports it
                coach.grader.grade(question or WARM_ANSWER, WARM_ANSWER)
        finally:
            self.grading.set()


def _resume_hint(console, session) -> None:
    console.print(f"Saved. Continue with: [bold]coach interview --resume {session.session_id}[/]")


def _read(prompt: str = "", allow_empty: bool = False) -> str | None:
    """One answer: lines until an empty line or EOF. A /command needs no empty line after it.
    Returns None at EOF with nothing typed, "" for an immediate empty line when allow_empty."""
    interactive = sys.stdin.isatty()
    lines: list[str] = []
    while True:
        try:
            line = input((prompt if not lines else "… ") if interactive else "")
        except EOFError:
            return "\n".join(lines) if lines else None
        if not line.strip():
            if lines:
                return "\n".join(lines)
            if allow_empty:
                return ""
            continue
        lines.append(line.rstrip())
        if len(lines) == 1 and line.strip().startswith("/") and " " not in line.strip():
            return line.strip()


def _command(text: str) -> str | None:
    text = text.strip()
    return text.lower() if text.startswith("/") and " " not in text and "\n" not in text else None


def _run(console, session, preload: Preload | None = None) -> int:
    from rich.markup import escape

    def ready(part: str) -> None:
        # Waits only if the candidate answered before the models finished loading.
        event = getattr(preload, part, None)
        if event is not None and not event.is_set():
            with console.status("Loading the models…"):
                event.wait()

    shown = None
    practice = session.config.mode == "practice"
    try:
        while True:
            turn = session.current
            if turn is None:
                if not practice:
                    break
                console.print("[dim]That was the last question: /retry or /model, or an empty line for the summary.[/]")
                text = _read("> ", allow_empty=True)
                if not text:
                    break
            else:
                if shown is not turn:
                    _show_question(console, session, turn)
                    shown = turn
                text = _read("> ")
                if text is None:  # EOF before any text: stop here, the session stays resumable
                    _resume_hint(console, session)
                    return 0
            command = _command(text)
            if command is None:
                if turn is None:
                    console.print("Type a command, or an empty line for the summary.")
                    continue
                if _too_long(console, text):
                    continue
                ready("grading")
                try:
                    with console.status("Grading…"):
                        feedback = session.answer(text)
                except CoachError as e:
                    if isinstance(e, UsageError):
                        raise
                    if session.is_stored(turn, text):
                        console.print("Your answer is saved and will be graded when you resume.")
                        _resume_hint(console, session)
                    else:  # never lose it: the store refused it (disk full, locked coach.db)
                        console.print("Your answer was NOT saved; here it is, to paste again once this is fixed:")
                        console.print(text, markup=False, highlight=False)
                    raise
                _show_feedback(console, feedback, session)
            elif command == "/skip":
                if turn is None:
                    console.print("There is nothing left to skip.")
                    continue
                session.skip()
                console.print("[dim]Skipped.[/]")
            elif command == "/hint":
                console.print(f"[bold]Hint for {_label(turn)}:[/] {escape(session.hint())}" if turn
                              else "No question is open.")
            elif command == "/retry":
                ready("grading")
                _retry(console, session, practice)
            elif command == "/model":
                ready("grading")  # the answerer shares the embedder and the judge
                _model_answer(console, session)
            elif command == "/quit":
                _resume_hint(console, session)
                return 0
            elif command == "/help":
                console.print(escape(ANSWERING))
            else:
                console.print(f"Unknown command {escape(command)}; commands: {' '.join(COMMANDS)}")
        with console.status("Summing up…"):
            summary = session.finish()
        _show_summary(console, session, summary)
        return 0
    except KeyboardInterrupt:
        console.print()
        _resume_hint(console, session)
        return 130


def _too_long(console, text: str) -> bool:
    """Over the answer limit: say so (the same limit and message as `coach grade` and the UI), so the
    candidate is asked again instead of the session ending."""
    from rich.markup import escape

    try:
        check_answer_length(text)
    except UsageError as e:
        console.print(f"[yellow]{escape(str(e))}[/]")
        return True
    return False


def _retry(console, session, practice: bool) -> None:
    from rich.markup import escape

    if not practice or session.last_attempted is None:
        console.print("Retry works in practice mode, after you have answered a question.")
        return
    console.print(f"Your new answer to: [italic]{escape(session.last_attempted.question)}[/]")
    again = _read("> ")
    if not again or _command(again):
        console.print("[dim]Retry cancelled.[/]")
        return
    if _too_long(console, again):
        return
    with console.status("Grading…"):
        feedback = session.retry(again)
    _show_feedback(console, feedback, session)


def _label(turn) -> str:
    """How the terminal names a turn: "question 2" or "the follow-up to question 1"."""
    return f"the follow-up to question {turn.number}" if turn.kind == "follow_up" else f"question {turn.number}"


def _model_answer(console, session) -> None:
    turn = session.last_attempted  # after /skip this is the skipped question, not the one on screen
    try:
        with console.status("Writing a model answer from the notes…"):
            answer = session.model_answer()
    except UsageError as e:
        console.print(str(e))
        return
    _show_answer(console, answer, turn)


def _score_style(score: int) -> str:
    from ..scheduler import AGAIN_BELOW, GOOD_FROM

    return "green" if score >= GOOD_FROM else "yellow" if score >= AGAIN_BELOW else "red"


def _show_question(console, session, turn) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    label = (f"Follow-up to question {turn.number}" if turn.kind == "follow_up"
             else f"Question {turn.number}/{turn.total}")
    if turn.kind == "follow_up" and turn.turn_id in getattr(session, "model_follow_ups", ()):
        label += " (written by the model from your answer)"
    limit = session.config.time_limit_s
    subtitle = f"{turn.track} · {turn.topic}" + (f" · {limit}s" if limit else "")
    console.print(Panel(escape(turn.question), title=label, subtitle=subtitle, title_align="left",
                        subtitle_align="left"))


def render_grade(grade, *, previous_score=None, delta=None, timed_out=False, show_follow_up=True):
    """The critique as rich renderables: score, covered points with the candidate's words, missed points
    with their note excerpt [n], claims to check, feedback and the sources."""
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    from ..chunking import CitationBook
    from ..extractive import whole_excerpt

    passages = {c.n: c.text for c in grade.citations}  # excerpts shown as whole, plain sentences
    # Numbered per critique, one number per note: the list printed below has no gaps and no repeats.
    book = CitationBook()
    numbers = book.add(grade.citations)

    def cite(n):
        return f" [{numbers[n]}]" if n in numbers else ""

    parts = []
    head = Text(f"Score {grade.score}/100", style=f"bold {_score_style(grade.score)}")
    if delta is not None:
        head.append(f"  ({delta:+d} vs {previous_score})", style="bold")
    if timed_out:
        head.append("  answered after the time limit", style="red")
    parts.append(head)
    if getattr(grade, "why", ""):
        parts.append(Text(grade.why, style="dim"))
    elif grade.reason:
        parts.append(Text(grade.reason, style="dim"))
    for c in getattr(grade, "wrong", []):
        parts.append(Text.from_markup(f"[red]✗ wrong:[/] “{escape(c.sentence)}” — {escape(c.reason)}"))
        parts.append(Text.from_markup(f"    [dim]correction:[/] {escape(c.excerpt)}{escape(cite(c.citation))}"))
    for p in grade.covered:
        parts.append(Text.from_markup(f"[green]✓[/] {escape(p.point)}"))
        if p.evidence:
            parts.append(Text.from_markup(f"    [dim]you said:[/] “{escape(p.evidence)}”"))
    for p in grade.missed:
        parts.append(Text.from_markup(f"[red]✗[/] {escape(p.point)}{escape(cite(p.citation))}"))
        if p.excerpt:
            excerpt = whole_excerpt(p.excerpt, passages.get(p.citation, ""))
            parts.append(Text.from_markup(f"    [dim]notes:[/] {escape(excerpt)}"))
    for c in grade.check_this:
        parts.append(Text.from_markup(f"[yellow]? the notes say otherwise:[/] “{escape(c.sentence)}” — {escape(c.reason)}"))
        if c.excerpt:
            excerpt = whole_excerpt(c.excerpt, passages.get(c.citation, ""))
            parts.append(Text.from_markup(f"    [dim]notes say:[/] {escape(excerpt)}{escape(cite(c.citation))}"))
    if grade.feedback:
        parts.append(Text(grade.feedback))
    if grade.follow_up and show_follow_up:
        parts.append(Text.from_markup(f"[bold]Follow-up:[/] {escape(grade.follow_up)}"))
    for note in book.notes:
        parts.append(Text.from_markup(f"[dim]\\[{note.n}] {escape(note.title or note.source)} — {escape(note.source)}[/]"))
    return Group(*parts)


def _show_critique(console, session, grade) -> None:
    """Stream the model's critique (dim, unverified), then print what survived checking against the grade."""
    from rich.markup import escape

    if session.coaching is None or not grade.answer:
        return
    console.print("[bold]Coach's critique[/] [dim](drafting, not yet checked)[/]")
    try:
        written = session.critique(grade, on_token=lambda piece: console.print(
            piece, end="", style="dim", markup=False, highlight=False))
    except CoachError as e:
        console.print(f"\n[dim]No critique from the model: {escape(str(e))}[/]")
        return
    console.print()
    if written.by_model:
        dropped = len(written.sentences) - written.kept
        note = f", {dropped} unsupported sentence(s) dropped" if dropped else ""
        kept = " ".join(f"{s.text} [{']['.join(map(str, s.citations))}]" for s in written.sentences if s.supported)
        console.print(f"[bold]✓ Checked against the grade[/] [dim](written by the model{note})[/]: {escape(kept)}")
        for f in written.facts:
            console.print(f"  [dim][{f.n}] {escape(f.text)}[/]")
    else:
        console.print(f"[bold]The grader's feedback[/] [dim](the model's critique did not hold up)[/]: "
                      f"{escape(written.text)}")


def _write_follow_up(console, session, feedback) -> None:
    """Before a follow-up is asked, the model may rewrite it from the answer (the bank's stands otherwise)."""
    if session is not None and feedback.next_turn is not None and feedback.next_turn.kind == "follow_up":
        with console.status("The interviewer is writing a follow-up from your answer…"):
            session.write_follow_up()


def _show_feedback(console, feedback, session=None) -> None:
    if feedback.grade is None:
        note = " (after the time limit)" if feedback.timed_out else ""
        console.print(f"[dim]Answer saved{note}; feedback comes at the end of the interview.[/]")
        _write_follow_up(console, session, feedback)
        return
    # The follow-up is asked next as its own question (and a retry never gets another one).
    console.print(render_grade(feedback.grade, previous_score=feedback.previous_score, delta=feedback.delta,
                               timed_out=feedback.timed_out, show_follow_up=False))
    if session is not None:
        _show_critique(console, session, feedback.grade)
    _write_follow_up(console, session, feedback)
    if feedback.delta is None:
        console.print("[dim]/retry to answer again, /model for a model answer.[/]")


def _show_answer(console, answer, turn) -> None:
    import re

    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    from ..chunking import CitationBook

    # Only the notes the answer cites, one number per note (the answer's own numbers are per source).
    book = CitationBook()
    used = {n for s in answer.sentences for n in s.citations} or {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    numbers = book.add([src.citation for src in answer.sources if src.n in used])
    text = re.sub(r"\[(\d+)\]", lambda m: f"[{numbers[int(m.group(1))]}]" if int(m.group(1)) in numbers else "",
                  answer.answer)
    console.print(Panel(escape(f"{turn.question}\n\n{text}"), title=f"Model answer to {_label(turn)}",
                        title_align="left", subtitle=f"faithfulness {answer.faithfulness:.0%}", subtitle_align="left"))
    for s in answer.sentences:
        if not s.supported:
            console.print(Text.from_markup(f"[yellow]unsupported:[/] {escape(s.text)}"
                                           + (f" [dim]({escape(s.reason)})[/]" if s.reason else "")))
    for note in book.notes:
        console.print(Text.from_markup(f"[dim]\\[{note.n}] {escape(note.title)} — {escape(note.source)}[/]"))
    for notice in answer.notices:
        console.print(f"[dim]{escape(notice)}[/]")


def _show_summary(console, session, summary) -> None:
    from rich.markup import escape
    from rich.table import Table

    if summary.mode == "interview":
        # Interview mode held the critiques back until now.
        for turn, grade in summary.turns:
            label = f"Follow-up to {turn.number}" if turn.kind == "follow_up" else f"Question {turn.number}"
            console.rule(f"{label}: {escape(turn.question)}", align="left")
            if grade is None:
                console.print("[dim]not answered[/]")
            else:
                console.print(render_grade(grade, timed_out=turn.turn_id in summary.timed_out, show_follow_up=False))
    table = Table("#", "question", "score", title=f"Session {summary.session_id} ({summary.mode})")
    for turn, grade in summary.turns:
        number = f"{turn.number}" + ("f" if turn.kind == "follow_up" else "")
        if grade is None:
            score = "-"
        elif turn.turn_id in summary.skipped:
            score = "skipped"
        else:
            score = f"[{_score_style(grade.score)}]{grade.score}[/]"
            if turn.turn_id in summary.retried:
                retry = summary.retried[turn.turn_id]
                score += f" → retry {retry} ({retry - grade.score:+d})"
            if turn.turn_id in summary.timed_out:
                score += " (late)"
        table.add_row(number, escape(turn.question), score)
    console.print(table)
    if summary.retried:
        console.print("[dim]Your first attempt counts for the score and the review schedule; a retry shows "
                      "what you took in from the critique.[/]")
    if summary.score is not None:
        console.print(f"[bold]Overall:[/] {summary.score:.0f}/100  "
                      + "  ".join(f"{escape(t)} {s:.0f}" for t, s in summary.per_track.items()))
    if summary.timed_out:
        console.print(f"[red]{len(summary.timed_out)} answer(s) came after the time limit[/] (graded as given).")
    if summary.weakest:
        console.print(f"[bold]Weakest topics:[/] {escape(', '.join(summary.weakest))}")
    elif summary.score is not None:
        console.print("No weak topics this time.")
    if summary.notes_to_read:
        console.print("[bold]Read next:[/]")
        for note in summary.notes_to_read:
            console.print(f"  {escape(note['title'])} [dim]({escape(note['source'])})[/]")
    console.print("[dim]`coach progress` shows your scores over time and what is due for review.[/]")


# -- progress -------------------------------------------------------------------------------------

def progress_data(settings) -> dict:
    """Everything `coach progress` shows, as plain data."""
    from ..corpus import load_valid_corpus
    from ..progress import progress_data as collect
    from ..store import Store

    with Store.open(settings) as store:
        return collect(store, load_valid_corpus(settings.corpus_dir).questions)


def cmd_progress(args) -> int:
    data = progress_data(settings_from(args))
    if args.json:
        print_json(data)
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    if not data["sessions"]:
        console.print("No sessions yet: start one with `coach interview`.")
        return 0
    table = Table("track", "sessions", "first", "latest", "trend", title="Scores by track (first attempts)")
    for track, points in data["tracks"].items():
        trend = " ".join(f"{p['score']:.0f}" for p in points[-8:])
        table.add_row(escape(track), str(len(points)), f"{points[0]['score']:.0f}", f"{points[-1]['score']:.0f}", trend)
    console.print(table)
    if data["weakest"]:
        console.print("[bold]Weakest topics:[/] " + ", ".join(
            f"{escape(t['topic'])} ({t['score']:.0f})" for t in data["weakest"]))
    if data["due"]:
        console.print(f"[bold]Due for review ({len(data['due'])}):[/]")
        for r in data["due"][:10]:
            last = "skipped" if r["last_skipped"] else r["last_score"]
            console.print(f"  {escape(r['question_id'])}  {escape(r['question'])} [dim](last {last})[/]")
    elif data["upcoming"]:
        console.print(f"Nothing due; next review {data['upcoming'][0]['due'][:16].replace('T', ' ')} UTC.")
    sessions = Table("id", "date", "mode", "answered", "skipped", "score", "status", title="Sessions")
    for s in data["sessions"]:
        sessions.add_row(str(s["id"]), s["created_at"][:16].replace("T", " "), s["mode"],
                         f"{s['answered']}/{s['questions']}", str(s["skipped"]),
                         "-" if s["score"] is None else f"{s['score']:.0f}", s["status"])
    console.print(sessions)
    if data["unfinished"]:
        console.print(f"Unfinished: {', '.join(map(str, data['unfinished']))}; "
                      "continue the latest with `coach interview --resume`.")
    return 0
