"""The Ask your notes tab: coach.ask streamed, then shown sentence by sentence with its verdicts; with
"closed-book" also the model's answer without retrieval, judged against the notes."""

from __future__ import annotations

import gradio as gr

from interview_coach.chunking import CitationBook

from . import render
from .common import bind, friendly, stream_call
from .layout import ASK_SOURCES_EMPTY, Layout

MAX_QUESTION_CHARS = 20000  # the library truncates further (settings.max_question_chars) with a notice
TITLES = {"rag": "From your notes", "closed-book": "Closed-book (no retrieval), judged against the notes"}


def _problem(question: str) -> str:
    if not question:
        return "Type a question first."
    if len(question) > MAX_QUESTION_CHARS:
        return f"That question is {len(question):,} characters; please keep it under {MAX_QUESTION_CHARS:,}."
    return ""


def on_ask(coach, question, closed_book):
    question = (question or "").strip()
    panel_empty = render.sources_panel([], empty=ASK_SOURCES_EMPTY)
    problem = _problem(question)
    if problem:
        gr.Warning(problem)
        yield (f"<div class='answer notice'>{render.esc(problem)}</div>", gr.update(value="", visible=False),
               panel_empty, {"error": problem})
        return
    # What is on screen; every yield sends all of it, so API clients get complete values too.
    shown = {"rag": render.streaming_text(""), "closed": "", "panel": panel_empty}
    closed_visible = bool(closed_book)

    def screen(result=None):
        return (shown["rag"], gr.update(value=shown["closed"], visible=closed_visible), shown["panel"],
                result if result is not None else gr.skip())

    yield screen()
    results = {}
    try:
        for mode in ("rag", "closed-book") if closed_book else ("rag",):
            key = "rag" if mode == "rag" else "closed"
            shown[key] = render.streaming_text("")
            for kind, value in stream_call(coach.ask, question, closed_book=(mode == "closed-book")):
                if kind == "error":
                    raise value
                if kind == "token":
                    shown[key] = render.streaming_text(value)
                else:
                    results[mode] = value
                    book = CitationBook()  # one answer on screen at a time: numbered per answer
                    numbers = book.add(render.cited(value)) if mode == "rag" else None
                    shown[key] = render.verified_answer(value, title=TITLES[mode], numbers=numbers)
                    if mode == "rag":
                        shown["panel"] = render.sources_panel(book.notes, empty=ASK_SOURCES_EMPTY)
                yield screen()
        yield screen({m: a.to_dict() for m, a in results.items()})
    except Exception as e:
        error = friendly(e)
        gr.Warning(error)
        shown["rag" if "rag" not in results else "closed"] = f"<div class='answer'><p>{render.esc(error)}</p></div>"
        yield screen({"error": error, **{m: a.to_dict() for m, a in results.items()}})


def wire(ui: Layout, coach) -> None:
    v = ui.ask
    handler = bind(on_ask, coach)
    outputs = [v.answer, v.closed_answer, v.sources, v.result]
    v.ask.click(handler, [v.question, v.closed_book], outputs,
                api_name="ask", trigger_mode="once", show_progress="minimal")
    v.question.submit(handler, [v.question, v.closed_book], outputs,
                      api_visibility="private", trigger_mode="once", show_progress="minimal")
