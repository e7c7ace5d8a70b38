"""The Gradio app: Interview, Ask your notes, Progress and Library tabs over one shared Coach.

Handlers only adapt: the work is the library's (interview.InterviewSession, coach.ask, the store's progress
queries, coach.ingest). Per-user state lives in gr.State, never in module globals.
"""

from __future__ import annotations

import os

# No telemetry or version check: the coach runs offline and must not wait on the network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import importlib.util
import queue
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

import gradio as gr

from interview_coach.errors import CoachError, UsageError


def _load_sibling(name: str):
    """ui/ is not a package (it is loaded by file path), so its helpers are too."""
    module_name = f"coach_ui_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


render = _load_sibling("render")

# A pasted essay is refused with a message rather than graded: the rubric is for a spoken-length answer.
MAX_ANSWER_CHARS = 8000
MAX_QUESTION_CHARS = 20000  # the library truncates further (settings.max_question_chars) with a notice
UPLOAD_DIR = "uploads"      # under COACH_HOME: uploaded files live here and are indexed as one folder
ANY = "any"
BUSY_WAIT_S = 3             # how long a click waits for the same tab's previous step before it is refused

CSS = """
#sources-panel, #ask-sources {max-height: 640px; overflow-y: auto;}
.sources-list details.source {border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 4px 8px; margin-bottom: 6px;}
.sources-list details.source.flash {outline: 3px solid #f59e0b;}
.source-path {font-family: var(--font-mono); font-size: 0.8em; opacity: 0.75; margin: 2px 0 4px;}
.source-text {white-space: pre-line; font-size: 0.9em;}
.sources-empty {opacity: 0.6; font-style: italic;}
a.cite {text-decoration: none; font-weight: 600; cursor: pointer;}
.answer .sent.unsupported {background: rgba(239, 68, 68, 0.12); text-decoration: underline wavy #ef4444;}
.answer .why {color: #b91c1c;}
.answer-title {font-weight: 700; margin-bottom: 6px;}
.answer-meta {margin-top: 8px; font-size: 0.85em; opacity: 0.8;}
.answer .notice {margin-top: 4px; font-size: 0.85em; color: #92400e;}
.cursor {animation: blink 1s step-start infinite;} @keyframes blink {50% {opacity: 0;}}
"""

# Clicking a [n] marker anywhere opens source n in the panel that belongs to the same tab.
HEAD = """
<script>
document.addEventListener('click', function (event) {
  const link = event.target.closest && event.target.closest('a.cite');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const href = link.getAttribute('href') || '';
  const n = (link.dataset && link.dataset.n) || (href.indexOf('#source-') === 0 ? href.slice(8) : '');
  const inAsk = link.closest('#ask-tab');
  const panel = document.querySelector(inAsk ? '#ask-sources' : '#sources-panel');
  if (!panel || !n) return;
  const item = panel.querySelector('details.source[data-n="' + n + '"]');
  if (!item) return;
  item.open = true;
  item.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  item.classList.add('flash');
  setTimeout(function () { item.classList.remove('flash'); }, 1500);
}, true);
</script>
"""


def _message(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def _friendly(exc: BaseException) -> str:
    """One line for the user; unexpected errors are logged with their traceback on the server."""
    if isinstance(exc, CoachError):
        return str(exc)
    traceback.print_exception(exc, file=sys.stderr)
    return f"Something went wrong ({type(exc).__name__}: {exc}). The details are in the server log."


def _stream_call(fn, *args, **kwargs):
    """Run fn(*args, on_token=..., **kwargs) in a thread; yield ("token", text so far) as pieces arrive,
    then ("done", result) or ("error", exception). Lets a handler stream while the library blocks."""
    pieces: queue.Queue = queue.Queue()
    done = object()
    box: dict = {}

    def work():
        try:
            box["result"] = fn(*args, on_token=pieces.put, **kwargs)
        except BaseException as e:  # handed to the handler, which turns it into a message
            box["error"] = e
        pieces.put(done)

    threading.Thread(target=work, daemon=True, name="coach-stream").start()
    text, last = "", 0.0
    while True:
        piece = pieces.get()
        if piece is done:
            break
        text += piece
        if time.monotonic() - last > 0.05:  # about 20 screen updates a second is plenty
            last = time.monotonic()
            yield "token", text
    if text:
        yield "token", text
    if "error" in box:
        yield "error", box["error"]
    else:
        yield "done", box.get("result")


class Practice:
    """One browser tab's interview: the running session and what its last critique cited."""

    def __init__(self):
        self.session = None
        self.busy = threading.Lock()  # a second click while a step runs gets a message, not a second run
        self.sources: list[dict] = []
        self.attempted = False        # a graded answer exists to retry or to compare with the model's
        self.finished = False         # finish() was called: the summary is shown

    def claim(self) -> bool:
        """Take the tab's step lock; a click that lands just as the previous step ends waits a moment."""
        return self.busy.acquire(timeout=BUSY_WAIT_S)


def _turn_dict(turn) -> dict | None:
    if turn is None:
        return None
    return {"turn_id": turn.turn_id, "question_id": turn.question_id, "question": turn.question,
            "kind": turn.kind, "number": turn.number, "total": turn.total, "track": turn.track,
            "topic": turn.topic}


def build_app(coach) -> gr.Blocks:
    """The whole UI over one shared `coach`; every browser tab and API client gets its own Practice."""
    settings = coach.settings
    store_box: dict = {}
    store_lock = threading.Lock()

    def store():
        with store_lock:
            if "store" not in store_box:
                from interview_coach.store import Store

                store_box["store"] = Store.open(settings)
            return store_box["store"]

    def sessions_api():
        from interview_coach.interview import InterviewSession

        return InterviewSession

    def session_config(**kw):
        from interview_coach.interview import SessionConfig

        return SessionConfig(**kw)

    try:
        questions = coach.corpus.questions
    except CoachError as e:
        print(f"warning: {e}", file=sys.stderr)
        questions = []
    tracks = sorted({q.track for q in questions})
    difficulties = [d for d in ("easy", "medium", "hard") if any(q.difficulty == d for q in questions)]
    question_text = {q.id: q.question for q in questions}

    with gr.Blocks(title="Interview Coach", analytics_enabled=False) as app:
        practice = gr.State(None)
        gr.Markdown("## Interview Coach\nPractise ML interview questions, graded against a rubric and your notes.")
        with gr.Tabs() as tabs:
            # ---------------------------------------------------------------- interview
            with gr.Tab("Interview", id="interview", elem_id="interview-tab"):
                with gr.Row():
                    track_in = gr.Dropdown(tracks, multiselect=True, label="Tracks (empty = all)", scale=3,
                                           elem_id="tracks")
                    difficulty_in = gr.Dropdown([ANY] + difficulties, value=ANY, label="Difficulty", scale=1)
                    mode_in = gr.Radio(["practice", "interview"], value="practice", label="Mode", scale=2,
                                       info="interview mode holds feedback until the end")
                    n_in = gr.Slider(1, 10, value=3, step=1, label="Questions", scale=2)
                    start_btn = gr.Button("Start", variant="primary", scale=1, elem_id="start-btn")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(label="Coach", height=560, elem_id="chat", feedback_options=None,
                                          placeholder="Choose tracks and press **Start**.")
                        answer_in = gr.Textbox(lines=4, max_lines=14, label="Your answer", elem_id="answer-box",
                                               placeholder="Answer as you would out loud; several sentences.")
                        with gr.Row():
                            submit_btn = gr.Button("Submit answer", variant="primary", elem_id="submit-btn")
                            retry_btn = gr.Button("Retry", elem_id="retry-btn", interactive=False)
                            skip_btn = gr.Button("Skip", elem_id="skip-btn")
                            hint_btn = gr.Button("Hint", elem_id="hint-btn")
                            model_btn = gr.Button("Show model answer", elem_id="model-btn", interactive=False)
                            end_btn = gr.Button("End session", variant="stop", elem_id="end-btn")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources\nClick a [n] marker to open its note.")
                        sources_html = gr.HTML(render.sources_panel([]), label="sources", elem_id="sources-panel")
                result_json = gr.JSON(visible=False, label="result")

            # ---------------------------------------------------------------- ask
            with gr.Tab("Ask your notes", id="ask", elem_id="ask-tab"):
                with gr.Row():
                    ask_in = gr.Textbox(lines=2, label="Question", scale=5, elem_id="ask-box",
                                        placeholder="e.g. why divide by sqrt(d_k) in attention?")
                    with gr.Column(scale=1, min_width=180):
                        closed_in = gr.Checkbox(False, label="Also answer closed-book (no retrieval)",
                                                elem_id="closed-book")
                        ask_btn = gr.Button("Ask", variant="primary", elem_id="ask-btn")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        with gr.Row(equal_height=False):
                            rag_html = gr.HTML("", label="answer", elem_id="ask-answer")
                            closed_html = gr.HTML("", label="closed_book_answer", elem_id="ask-closed", visible=False)
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        ask_sources = gr.HTML(render.sources_panel([], empty="Sources of the answer appear here."),
                                              label="sources", elem_id="ask-sources")
                ask_json = gr.JSON(visible=False, label="result")

            # ---------------------------------------------------------------- progress
            with gr.Tab("Progress", id="progress", elem_id="progress-tab") as progress_tab:
                refresh_btn = gr.Button("Refresh", size="sm")
                history_plot = gr.Plot(label="Score per track over time", format="png", elem_id="progress-plot")
                with gr.Row():
                    weakest_df = gr.Dataframe(headers=["topic", "track", "score", "answers"],
                                              label="Weakest topics", interactive=False, wrap=True)
                    due_df = gr.Dataframe(headers=["question", "due", "last score", ""], label="Reviews", wrap=True,
                                          column_widths=["55%", "20%", "12%", "13%"],
                                          interactive=False)
                sessions_df = gr.Dataframe(headers=["session", "mode", "started", "questions", "answered",
                                                    "score", "status"],
                                           label="Session history", interactive=False, elem_id="sessions-table")
                with gr.Row():
                    resume_in = gr.Dropdown([], label="Unfinished sessions", scale=3, allow_custom_value=True)
                    resume_btn = gr.Button("Resume", scale=1)

            # ---------------------------------------------------------------- library
            with gr.Tab("Library", id="library", elem_id="library-tab") as library_tab:
                status_md = gr.Markdown()
                with gr.Row():
                    folder_in = gr.Textbox(label="Add a folder of .md/.txt notes", scale=4,
                                           placeholder="/home/me/my-notes")
                    folder_btn = gr.Button("Add folder and re-index", scale=1)
                upload_in = gr.File(file_count="multiple", file_types=[".md", ".txt"], label="Upload .md/.txt files")
                with gr.Row():
                    upload_btn = gr.Button("Add uploaded files and re-index")
                    reindex_btn = gr.Button("Re-index")
                ingest_md = gr.Markdown()

        # ==================================================================== interview handlers
        # Every interview action returns these, so buttons and the panel always match the session.
        outs = [chat, practice, sources_html, result_json, answer_in, retry_btn, model_btn]

        def emit(history, p, result=None, *, clear_answer=False):
            live = running(p)
            practice_mode = live and getattr(p.session.config, "mode", "practice") == "practice"
            return (history, p, render.sources_panel(p.sources if p else []),
                    result if result is not None else gr.skip(),
                    "" if clear_answer else gr.skip(),
                    gr.update(interactive=bool(practice_mode and p.attempted)),
                    gr.update(interactive=bool(practice_mode and p.attempted)))

        def no_session(history, p):
            history = list(history or []) + [_message(
                "assistant", "No session is running. Choose tracks and press **Start** to begin.")]
            return emit(history, p)

        def running(p) -> bool:
            return p is not None and p.session is not None and not p.finished

        def finish_messages(p) -> list[dict]:
            with coach.model_lock:
                summary = p.session.finish()
            p.finished, p.attempted = True, False
            messages = []
            if getattr(p.session.config, "mode", "practice") == "interview":
                # The held feedback: one score card per answer, markers namespaced per card.
                p.sources = []
                for card in render.interview_review(summary, prefix_of=lambda k: f"r{k}-"):
                    messages.append(_message("assistant", card))
                for k, (_, grade) in enumerate(summary.turns, 1):
                    if grade is not None:
                        p.sources += render.citation_items(grade.citations, prefix=f"r{k}-")
            messages.append(_message("assistant", render.summary_message(summary)))
            return messages, summary

        def on_start(tracks_value, difficulty, mode, n, history, p):
            p = p or Practice()
            if not p.claim():
                gr.Warning("Still working on the previous step; one moment.")
                yield emit(history, p)
                return
            try:
                note = []
                if running(p):
                    note = [_message("assistant", f"Session {p.session.session_id} was left unfinished; "
                                                  "resume it any time from the Progress tab.")]
                history = note + [_message("assistant", "Picking questions…")]
                yield emit(history, p)
                config = session_config(tracks=list(tracks_value or []),
                                        difficulty=None if difficulty in (None, "", ANY) else difficulty,
                                        n_questions=int(n or 3), mode=mode or "practice")
                p.session = sessions_api().start(coach, config, store=store())
                p.sources, p.attempted, p.finished = [], False, False
                turn = p.session.current
                held = " Feedback is held until the end, as in a real interview." if config.mode == "interview" else ""
                history = note + [
                    _message("assistant", f"Session {p.session.session_id}: {turn.total} question(s), "
                                          f"{config.mode} mode.{held}"),
                    _message("assistant", render.question_message(turn))]
                final = emit(history, p, {"session_id": p.session.session_id, "turn": _turn_dict(turn)},
                             clear_answer=True)
            except Exception as e:
                gr.Warning(_friendly(e))
                final = emit(list(history or []) + [_message("assistant", f"Could not start: {_friendly(e)}")], p)
            finally:
                p.busy.release()
            yield final

        def graded(history, p, feedback, *, retry=False):
            """Append the critique (or the held-feedback note) and the next question."""
            grade = feedback.grade
            if grade is not None:
                asked_next = feedback.next_turn is not None and feedback.next_turn.kind == "follow_up" and not retry
                history.append(_message("assistant", render.score_card(
                    grade, delta=feedback.delta, previous=feedback.previous_score, show_follow_up=not asked_next)))
                p.sources = render.citation_items(grade.citations)
                p.attempted = True
            else:
                history.append(_message("assistant", "Answer recorded. Feedback comes at the end of the interview."))
            if getattr(feedback, "timed_out", False):
                history.append(_message("assistant", "That answer came in after the time limit."))
            result = {"session_id": p.session.session_id, "grade": grade.to_dict() if grade else None,
                      "delta": feedback.delta, "previous_score": feedback.previous_score,
                      "next": _turn_dict(feedback.next_turn)}
            if retry:
                return history, result
            if feedback.next_turn is not None:
                history.append(_message("assistant", render.question_message(feedback.next_turn)))
            elif getattr(p.session.config, "mode", "practice") == "interview":
                messages, summary = finish_messages(p)
                history += messages
                result["summary"] = {"score": summary.score, "per_topic": summary.per_topic,
                                     "weakest": summary.weakest}
            else:
                # Practice: the last answer can still be retried or compared before the summary.
                history.append(_message("assistant", "That was the last question. **Retry** it, "
                                        "**show the model answer**, or press **End session** for your summary."))
            return history, result

        def answer_step(text, history, p, *, retry: bool):
            history = list(history or [])
            if not running(p):
                yield no_session(history, p)
                return
            text = (text or "").strip()
            if not text:
                gr.Warning("Type your answer first, then press Submit.")
                yield emit(history, p)
                return
            if len(text) > MAX_ANSWER_CHARS:
                message = (f"That answer is {len(text):,} characters; please keep it under "
                           f"{MAX_ANSWER_CHARS:,} (a spoken answer is a few hundred). It was not graded.")
                gr.Warning(message)
                yield emit(history + [_message("assistant", message)], p)
                return
            if retry and getattr(p.session.config, "mode", "practice") != "practice":
                yield emit(history + [_message("assistant", "Retry is for practice mode; in an interview the "
                                                            "first answer counts.")], p)
                return
            if not p.claim():
                gr.Warning("Still grading your previous answer; one moment.")
                yield emit(history, p)
                return
            try:
                label = "**Retry:** " if retry else ""
                history += [_message("user", label + render.esc(text)),
                            _message("assistant", "⏳ Grading your answer against the rubric and your notes…")]
                yield emit(history, p, clear_answer=True)
                with coach.model_lock:
                    feedback = p.session.retry(text) if retry else p.session.answer(text)
                history.pop()
                history, result = graded(history, p, feedback, retry=retry)
                final = emit(history, p, result)
            except Exception as e:
                if history and history[-1]["content"].startswith("⏳"):
                    history.pop()
                history.append(_message("assistant", _friendly(e)))
                final = emit(history, p)
            finally:
                p.busy.release()
            yield final  # after the release: the next click is free as soon as the user sees this

        def on_answer(text, history, p):
            yield from answer_step(text, history, p, retry=False)

        def on_retry(text, history, p):
            yield from answer_step(text, history, p, retry=True)

        def simple_step(history, p, action):
            """skip / hint / end: quick library calls with one message back."""
            history = list(history or [])
            if not running(p):
                return no_session(history, p)
            if not p.claim():
                gr.Warning("Still working on the previous step; one moment.")
                return emit(history, p)
            try:
                return action(history, p)
            except Exception as e:
                history.append(_message("assistant", _friendly(e)))
                return emit(history, p)
            finally:
                p.busy.release()

        def do_skip(history, p):
            # store and corpus only: no model, so no need to wait for another user's grading
            nxt = p.session.skip()
            history.append(_message("assistant", "Skipped."))
            result = {"session_id": p.session.session_id, "next": _turn_dict(nxt)}
            if nxt is not None:
                history.append(_message("assistant", render.question_message(nxt)))
            else:
                messages, _ = finish_messages(p)
                history += messages
            return emit(history, p, result)

        def do_hint(history, p):
            # store and corpus only: no model, so no need to wait for another user's grading
            hint = p.session.hint()
            history.append(_message("assistant", f"**Hint:** {render.esc(hint)}"))
            return emit(history, p, {"hint": hint})

        def do_end(history, p):
            messages, summary = finish_messages(p)
            history += messages
            return emit(history, p, {"session_id": summary.session_id, "score": summary.score})

        def on_skip(history, p):
            return simple_step(history, p, do_skip)

        def on_hint(history, p):
            return simple_step(history, p, do_hint)

        def on_end(history, p):
            return simple_step(history, p, do_end)

        def on_model_answer(history, p):
            history = list(history or [])
            if not running(p):
                yield no_session(history, p)
                return
            if not p.attempted:
                yield emit(history + [_message(
                    "assistant", "Answer the question first; the model answer is shown after your attempt.")], p)
                return
            if not p.claim():
                gr.Warning("Still working on the previous step; one moment.")
                yield emit(history, p)
                return
            try:
                history.append(_message("assistant", "**Model answer** (from your notes)\n\n⏳ writing… ▍"))
                yield emit(history, p)
                def call(on_token=None):
                    with coach.model_lock:
                        return p.session.model_answer(on_token=on_token)

                for kind, value in _stream_call(call):
                    if kind == "token":
                        history[-1] = _message("assistant", "**Model answer** (from your notes)\n\n"
                                               + render.link_markers(render.esc(value)) + " ▍")
                        yield emit(history, p)
                    elif kind == "error":
                        raise value
                    else:
                        history[-1] = _message("assistant", render.model_answer_message(value))
                        p.sources = render.answer_source_items(value.sources)
                        final = emit(history, p, value.to_dict())
            except Exception as e:
                history[-1] = _message("assistant", _friendly(e))
                final = emit(history, p)
            finally:
                p.busy.release()
            yield final

        # trigger_mode="once": a double click while the step runs is dropped, not queued.
        start_btn.click(on_start, [track_in, difficulty_in, mode_in, n_in, chat, practice], outs,
                        api_name="start", trigger_mode="once", show_progress="minimal")
        submit_btn.click(on_answer, [answer_in, chat, practice], outs, api_name="answer",
                         trigger_mode="once", show_progress="minimal")
        retry_btn.click(on_retry, [answer_in, chat, practice], outs, api_name="retry",
                        trigger_mode="once", show_progress="minimal")
        skip_btn.click(on_skip, [chat, practice], outs, api_name="skip", trigger_mode="once",
                       show_progress="minimal")
        hint_btn.click(on_hint, [chat, practice], outs, api_name="hint", trigger_mode="once",
                       show_progress="minimal")
        model_btn.click(on_model_answer, [chat, practice], outs, api_name="model_answer",
                        trigger_mode="once", show_progress="minimal")
        end_btn.click(on_end, [chat, practice], outs, api_name="end", trigger_mode="once",
                      show_progress="minimal")

        # ==================================================================== ask handlers
        def on_ask(question, closed_book):
            question = (question or "").strip()
            panel_empty = render.sources_panel([], empty="Sources of the answer appear here.")
            problem = ("Type a question first." if not question else
                       f"That question is {len(question):,} characters; please keep it under {MAX_QUESTION_CHARS:,}."
                       if len(question) > MAX_QUESTION_CHARS else "")
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
                    title = ("From your notes" if mode == "rag"
                             else "Closed-book (no retrieval), judged against the notes")

                    def call(on_token=None, _closed=(mode == "closed-book")):
                        with coach.model_lock:
                            return coach.ask(question, closed_book=_closed, on_token=on_token)

                    shown[key] = render.streaming_text("")
                    for kind, value in _stream_call(call):
                        if kind == "error":
                            raise value
                        if kind == "token":
                            shown[key] = render.streaming_text(value)
                        else:
                            results[mode] = value
                            shown[key] = render.verified_answer(value, title=title)
                            if mode == "rag":
                                shown["panel"] = render.sources_panel(render.answer_source_items(value.sources))
                        yield screen()
                yield screen({m: a.to_dict() for m, a in results.items()})
            except Exception as e:
                message = _friendly(e)
                gr.Warning(message)
                shown["rag" if "rag" not in results else "closed"] = f"<div class='answer'><p>{render.esc(message)}</p></div>"
                yield screen({"error": message, **{m: a.to_dict() for m, a in results.items()}})

        ask_btn.click(on_ask, [ask_in, closed_in], [rag_html, closed_html, ask_sources, ask_json],
                      api_name="ask", trigger_mode="once", show_progress="minimal")
        ask_in.submit(on_ask, [ask_in, closed_in], [rag_html, closed_html, ask_sources, ask_json],
                      api_visibility="private", trigger_mode="once", show_progress="minimal")

        # ==================================================================== progress handlers
        def on_progress():
            try:
                from interview_coach.store import utcnow

                s = store()
                now = utcnow()
                weakest = [[t["topic"], t["track"], t["score"], t["n"]] for t in s.weakest_topics(limit=8)]
                reviews = [[question_text.get(r["question_id"], r["question_id"]), _when(r["due"]), r["last_score"],
                            label] for rows, label in ((s.due_reviews(now, limit=20), "due now"),
                                                       (s.upcoming_reviews(now, limit=10), "upcoming"))
                           for r in rows]
                sessions = s.sessions(limit=50)
                table = [[r["id"], r["mode"], _when(r["created_at"]), r["questions"], r["answered"],
                          r["score"] if r["score"] is not None else "", r["status"]] for r in sessions]
                unfinished = [(f"#{r['id']} · {r['mode']} · {_when(r['created_at'])} · "
                               f"{r['answered']}/{r['questions']} answered", r["id"])
                              for r in sessions if r["finished_at"] is None]
                return (_history_figure(s.main_scores()), weakest or None, reviews or None, table or None,
                        gr.update(choices=unfinished, value=unfinished[0][1] if unfinished else None))
            except Exception as e:
                gr.Warning(_friendly(e))
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

        progress_outs = [history_plot, weakest_df, due_df, sessions_df, resume_in]
        refresh_btn.click(on_progress, None, progress_outs, api_name="progress")
        progress_tab.select(on_progress, None, progress_outs, api_visibility="private")

        def on_resume(session_id, history, p):
            p = p or Practice()
            if session_id in (None, ""):
                gr.Warning("Pick an unfinished session first.")
                return (*emit(history, p), gr.skip())
            if not p.claim():
                gr.Warning("Still working on the previous step; one moment.")
                return (*emit(history, p), gr.skip())
            try:
                with coach.model_lock:
                    p.session = sessions_api().resume(coach, int(session_id), store=store())
                p.sources, p.finished = [], False
                p.attempted = p.session.last_attempted is not None
                history = [_message("assistant", f"Resumed session {p.session.session_id}.")]
                if p.session.current is not None:
                    history.append(_message("assistant", render.question_message(p.session.current)))
                else:
                    messages, _ = finish_messages(p)
                    history += messages
                return (*emit(history, p, {"session_id": p.session.session_id,
                                           "turn": _turn_dict(p.session.current)}), gr.Tabs(selected="interview"))
            except Exception as e:
                gr.Warning(_friendly(e))
                return (*emit(history, p), gr.skip())
            finally:
                p.busy.release()

        resume_btn.click(on_resume, [resume_in, chat, practice], outs + [tabs], api_name="resume",
                         trigger_mode="once")

        # ==================================================================== library handlers
        def status_text() -> str:
            st = coach.index.status()
            roots = st.get("roots") or []
            extra = "\n\nYour folders: " + ", ".join(f"`{r}`" for r in roots) if roots else ""
            return (f"**{st['documents']} documents, {st['chunks']} chunks** in `{st['index_dir']}` · "
                    f"last ingest: {st['last_ingest'] or 'never'}{extra}")

        def on_status():
            try:
                return status_text()
            except Exception as e:
                return f"Index status unavailable: {_friendly(e)}"

        def reindex(paths, progress):
            progress(0, desc="Checking for changes")

            def update(done, total):
                if total:
                    progress((done, total), desc="Embedding", unit="chunks")

            report = coach.ingest(paths, progress=update)
            skipped = "".join(f"\n- skipped: {render.esc(s)}" for s in report.skipped)
            return (f"Indexed {report.documents} documents, {report.chunks} chunks ({report.added} added, "
                    f"{report.updated} updated, {report.removed} removed, {report.unchanged} unchanged) "
                    f"in {report.seconds:.1f}s.{skipped}")

        def on_add_folder(folder, progress=gr.Progress()):
            folder = (folder or "").strip()
            if not folder:
                gr.Warning("Type the path of a folder of .md/.txt notes first.")
                return gr.skip(), gr.skip()
            try:
                path = Path(folder).expanduser()
                if not path.is_dir():
                    raise UsageError(f"{path} is not a folder on the machine running the coach")
                return reindex([path], progress), status_text()
            except Exception as e:
                gr.Warning(_friendly(e))
                return _friendly(e), gr.skip()

        def on_upload(files, progress=gr.Progress()):
            if not files:
                gr.Warning("Choose one or more .md or .txt files first.")
                return gr.skip(), gr.skip()
            try:
                target = settings.home / UPLOAD_DIR
                target.mkdir(parents=True, exist_ok=True)
                copied = []
                for f in files:
                    src = Path(f if isinstance(f, str) else getattr(f, "name", f))
                    if src.suffix.lower() not in (".md", ".txt"):
                        gr.Warning(f"{src.name}: only .md and .txt files are indexed; skipped.")
                        continue
                    shutil.copyfile(src, target / src.name)
                    copied.append(src.name)
                if not copied:
                    return "Nothing to add.", gr.skip()
                return f"Added {', '.join(copied)}. " + reindex([target], progress), status_text()
            except Exception as e:
                gr.Warning(_friendly(e))
                return _friendly(e), gr.skip()

        def on_reindex(progress=gr.Progress()):
            try:
                return reindex([], progress), status_text()
            except Exception as e:
                gr.Warning(_friendly(e))
                return _friendly(e), gr.skip()

        folder_btn.click(on_add_folder, [folder_in], [ingest_md, status_md], api_name="add_folder",
                         trigger_mode="once", concurrency_id="ingest", concurrency_limit=1)
        upload_btn.click(on_upload, [upload_in], [ingest_md, status_md], api_name="upload",
                         trigger_mode="once", concurrency_id="ingest", concurrency_limit=1)
        reindex_btn.click(on_reindex, None, [ingest_md, status_md], api_name="reindex",
                          trigger_mode="once", concurrency_id="ingest", concurrency_limit=1)
        library_tab.select(on_status, None, status_md, api_visibility="private")
        app.load(on_status, None, status_md, api_visibility="private")
    return app


def _when(stamp: str | None) -> str:
    """Stored UTC ISO time -> local 'YYYY-MM-DD HH:MM' for tables."""
    from datetime import datetime

    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _history_figure(scores: list[dict]):
    """Mean first-attempt score per session and track, over time (one marker per session)."""
    from datetime import datetime

    from matplotlib.figure import Figure  # not pyplot: no global state shared between handler threads

    points: dict[str, dict[int, dict]] = {}
    for r in scores:
        p = points.setdefault(r["track"], {}).setdefault(r["session_id"], {"scores": [], "when": r["answered_at"]})
        p["scores"].append(r["score"])
        p["when"] = max(p["when"], r["answered_at"])
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for track, sessions in sorted(points.items()):
        rows = sorted(sessions.values(), key=lambda p: p["when"])
        ax.plot([datetime.fromisoformat(p["when"]).astimezone() for p in rows],
                [sum(p["scores"]) / len(p["scores"]) for p in rows], marker="o", label=track)
    ax.set_ylim(0, 100)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    if points:
        ax.legend(loc="lower left", fontsize="small")
        fig.autofmt_xdate()
    else:
        ax.text(0.5, 0.5, "No graded answers yet: finish a practice session to see your progress.",
                ha="center", va="center", transform=ax.transAxes)
    return fig


def launch(coach, host: str = "127.0.0.1", port: int = 7860, auth=None, share: bool = False):
    """Serve the app through Gradio's queue (each browser tab and API client gets its own state)."""
    app = build_app(coach)
    # Model calls are serialised by coach.model_lock anyway; two workers keep quick actions responsive.
    app.queue(default_concurrency_limit=2, max_size=64)
    app.launch(server_name=host, server_port=port, auth=auth, share=share, ssr_mode=False,
               show_error=False, max_file_size="5mb", theme=gr.themes.Default(), css=CSS, head=HEAD,
               footer_links=["api"], pwa=False, mcp_server=False)
    return app
