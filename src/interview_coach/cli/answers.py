"""`coach ask` and `coach grade`: thin adapters that call Coach.ask / Coach.grade and print (a recorded
answer, `--answer-audio`, is transcribed first through cli/voice.py).

Rendering only; retrieval, generation, verification and grading live in the library.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.markup import escape

from ..errors import ErrorCode, UsageError
from ..limits import check_answer_length
from .common import coach_from, print_json


def cmd_ask(args) -> int:
    coach = coach_from(args)
    stream = args.stream and sys.stdout.isatty() and not args.json
    on_token = None
    if stream:
        print("model: ", end="", flush=True)

        def on_token(piece: str) -> None:
            print(piece, end="", flush=True)

    answer = coach.ask(args.question, closed_book=args.closed_book, on_token=on_token)
    if stream:
        print("\n")
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    if args.json:
        print_json(answer.to_dict())
        return 0
    render_answer(answer)
    return 0


def render_answer(answer) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console()
    title = "Closed-book answer (no notes given to the model)" if answer.mode == "closed-book" else "Answer"
    who = ("  [dim](extractive: the model's answer did not hold up)[/]" if answer.fallback else
           "  [dim](written by the model, every sentence checked against the sources it cites)[/]"
           if answer.mode == "rag" else "")
    console.print(f"[bold]{title}[/]  faithfulness {answer.faithfulness:.0%}" + who)
    for s in answer.sentences:
        line = Text("  ")
        line.append("✓ " if s.supported else "✗ ", style="green" if s.supported else "bold red")
        line.append(s.text, style=None if s.supported else "red")
        if s.citations:
            line.append(" " + "".join(f"[{n}]" for n in s.citations), style="cyan")
        if not s.supported:
            line.append(f"  ← unsupported: {s.reason}", style="dim red")
        console.print(line)
    dropped = [m for m in answer.model_sentences if not m.supported]
    if not answer.fallback and answer.mode == "rag" and dropped:
        console.print("\n[dim]Dropped from the model's answer (the notes do not support them):[/]")
        for m in dropped:
            console.print(Text(f"  ✗ {m.text}  ← {m.reason}", style="dim red"))
    if answer.fallback and answer.model_answer:
        console.print("\n[dim]The model had said:[/]")
        for s in answer.model_sentences:
            console.print(Text(f"  ✗ {s.text}" if not s.supported else f"  ✓ {s.text}",
                               style="dim red" if not s.supported else "dim"))
    console.print("\n[bold]Sources[/]" + (" [dim](retrieved to judge the answer; not shown to the model)[/]"
                                          if answer.mode == "closed-book" else ""))
    for src in answer.sources:
        c = src.chunk
        where = c.source + (f" › {c.heading}" if c.heading else "")
        console.print(f"  [cyan]\\[{src.n}][/] [bold]{escape(c.title)}[/] [dim]{escape(where)}[/]")


def cmd_grade(args) -> int:
    given = [name for name in ("answer", "answer_file", "answer_audio") if getattr(args, name) is not None]
    if not given:
        raise UsageError("give the answer with --answer TEXT, --answer-file FILE (- for stdin) "
                         "or --answer-audio FILE (a recording)")
    if len(given) > 1:
        flags = " and ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(f"give the answer one way only, not {flags} together", code=ErrorCode.ANSWER_TWICE)
    if args.answer_audio is not None:
        return grade_audio(args)
    if args.answer_file is not None:
        if args.answer_file == "-":
            answer = sys.stdin.read()
        else:
            path = Path(args.answer_file)
            try:
                answer = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise UsageError(f"answer file not found: {path}") from None
            except (UnicodeDecodeError, IsADirectoryError) as e:
                raise UsageError(f"cannot read {path} as UTF-8 text: {type(e).__name__}") from None
    else:
        answer = args.answer
    check_answer_length(answer)  # before loading any model: the same limit and message as the UI
    grade = coach_from(args).grade(args.question, answer)
    if args.json:
        print_json(grade.to_dict())
        return 0
    print_grade(grade)
    return 0


def grade_audio(args) -> int:
    """Transcribe the recording (with the question's key terms as Whisper's prompt), then grade the text."""
    from .voice import prompt_texts, spoken_answer

    coach = coach_from(args)
    transcript, delivery = spoken_answer(coach.settings, args.answer_audio, prompt_texts(coach, args.question))
    check_answer_length(transcript.text)
    grade = coach.grade(args.question, transcript.text)
    if args.json:
        print_json({**grade.to_dict(), "transcript": transcript.to_dict(), "delivery": delivery.to_dict()})
        return 0
    print_grade(grade)
    from rich.console import Console

    console = Console()
    console.print(f"\n[bold]Delivery[/] {escape(delivery.summary())}")
    for note in delivery.advice():
        console.print(f"  • {escape(note)}")
    return 0


def print_grade(grade) -> None:
    from rich.console import Console

    from .interview import render_grade

    console = Console()
    console.print(f"[bold]{escape(grade.question)}[/]")
    console.print(render_grade(grade))


def add_parsers(sub) -> None:
    p = sub.add_parser("ask", help="answer a question from your notes, every sentence cited and checked",
                       description="Retrieve the most relevant notes, let the model answer with [n] citations, "
                                   "and check every sentence against what it cites. Unsupported sentences are "
                                   "marked; if most fail, the answer is built from the notes' own sentences.")
    p.add_argument("question", help="e.g. \"What is the equal error rate in speaker verification?\"")
    p.add_argument("--closed-book", action="store_true",
                   help="let the model answer without notes (still judged against them): shows hallucination")
    p.add_argument("--stream", action="store_true", help="print the model's words as they are generated (TTY only)")
    p.add_argument("--json", action="store_true",
                   help="print {answer, citations, sentences, faithfulness, ...} as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("grade", help="grade an answer against a bank question's rubric",
                       description="Grade a candidate answer: covered and missed key points with evidence, "
                                   "claims the notes contradict, a score 0-100 and one follow-up question.")
    p.add_argument("--question", required=True, metavar="ID_OR_TEXT",
                   help="a bank question id (see `coach questions`) or free question text")
    p.add_argument("--answer", metavar="TEXT", help="the candidate's answer")
    p.add_argument("--answer-file", metavar="FILE", help="read the answer from a file (- for stdin)")
    p.add_argument("--answer-audio", metavar="FILE",
                   help="a recorded answer (WAV, MP3, M4A, OGG, FLAC, WebM): transcribed offline, then graded; "
                        "the JSON adds the transcript and delivery feedback")
    p.add_argument("--json", action="store_true", help="print the grade as JSON")
    p.set_defaults(func=cmd_grade)
