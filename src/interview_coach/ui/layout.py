"""The components of the four tabs, built inside the caller's gr.Blocks and handed back as plain
dataclasses; no handlers here (the *_tab modules wire them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from interview_coach.corpus import USER_SUFFIXES
from interview_coach.read_aloud import can_read_aloud

from . import render

ANY = "any"  # the Difficulty choice for no filter
ASK_SOURCES_EMPTY = "Sources of the answer appear here."


@dataclass
class InterviewView:
    tracks: Any
    difficulty: Any
    mode: Any
    n_questions: Any
    start: Any
    chat: Any
    answer: Any
    submit: Any
    retry: Any
    skip: Any
    hint: Any
    model_answer: Any
    end: Any
    sources: Any
    result: Any
    audio: Any           # microphone or upload; transcribed into the answer box
    delivery: Any        # the last recording's delivery feedback (or why it could not be transcribed)
    voice: Any           # gr.State: {"transcript", "delivery"} of the last recording, until it is submitted
    read_aloud: Any      # hidden when espeak-ng is not installed
    question_audio: Any


@dataclass
class AskView:
    question: Any
    closed_book: Any
    ask: Any
    answer: Any
    closed_answer: Any
    sources: Any
    result: Any


@dataclass
class ProgressView:
    tab: Any
    refresh: Any
    plot: Any
    delivery_plot: Any
    weakest: Any
    reviews: Any
    sessions: Any
    unfinished: Any
    resume: Any


@dataclass
class LibraryView:
    tab: Any
    status: Any
    folder: Any
    add_folder: Any
    files: Any
    add_files: Any
    reindex: Any
    report: Any


@dataclass
class Layout:
    practice: Any  # gr.State holding the tab's state.InterviewTabState
    tabs: Any
    interview: InterviewView
    ask: AskView
    progress: ProgressView
    library: LibraryView


def layout(tracks: list[str], difficulties: list[str]) -> Layout:
    """Build every component in the current gr.Blocks context, in page order."""
    practice = gr.State(None)
    gr.Markdown("## Interview Coach\nPractise ML interview questions, graded against a rubric and your notes.")
    with gr.Tabs() as tabs:
        with gr.Tab("Interview", id="interview", elem_id="interview-tab"):
            interview = _interview_tab(tracks, difficulties)
        with gr.Tab("Ask your notes", id="ask", elem_id="ask-tab"):
            ask = _ask_tab()
        with gr.Tab("Progress", id="progress", elem_id="progress-tab") as progress_tab:
            progress = _progress_tab(progress_tab)
        with gr.Tab("Library", id="library", elem_id="library-tab") as library_tab:
            library = _library_tab(library_tab)
    return Layout(practice, tabs, interview, ask, progress, library)


def _interview_tab(tracks: list[str], difficulties: list[str]) -> InterviewView:
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
            # No floating label (it covered scrolled text); 440 px keeps the answer box and Submit on a
            # 1000-px-high screen when a session starts.
            chat = gr.Chatbot(label="Coach", show_label=False, height=440, elem_id="chat", feedback_options=None,
                              placeholder="Choose tracks and press **Start**.")
            with gr.Row(equal_height=False):
                answer_in = gr.Textbox(lines=4, max_lines=14, label="Your answer", elem_id="answer-box", scale=3,
                                       placeholder="Answer as you would out loud; several sentences. Or record "
                                                   "it: the transcript appears here to edit before you submit.")
                with gr.Column(scale=2, min_width=240):
                    audio_in = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="answer-audio",
                                        label="Or speak your answer (transcribed offline)")
                    delivery_md = gr.Markdown("", elem_id="delivery")
            with gr.Row():
                submit_btn = gr.Button("Submit answer", variant="primary", elem_id="submit-btn")
                retry_btn = gr.Button("Retry", elem_id="retry-btn", interactive=False)
                skip_btn = gr.Button("Skip", elem_id="skip-btn")
                hint_btn = gr.Button("Hint", elem_id="hint-btn")
                model_btn = gr.Button("Show model answer", elem_id="model-btn", interactive=False)
                end_btn = gr.Button("End session", variant="stop", elem_id="end-btn")
                read_btn = gr.Button("Read the question aloud", elem_id="read-aloud-btn",
                                     visible=can_read_aloud())
            question_audio = gr.Audio(label="The question, read aloud", autoplay=True, interactive=False,
                                      visible=False, elem_id="question-audio")
        with gr.Column(scale=2):
            gr.Markdown("### Sources\nClick a [n] marker to open its note.")
            sources_html = gr.HTML(render.sources_panel([]), label="sources", elem_id="sources-panel")
    result_json = gr.JSON(visible=False, label="result")
    return InterviewView(track_in, difficulty_in, mode_in, n_in, start_btn, chat, answer_in, submit_btn,
                         retry_btn, skip_btn, hint_btn, model_btn, end_btn, sources_html, result_json,
                         audio_in, delivery_md, gr.State(None), read_btn, question_audio)


def _ask_tab() -> AskView:
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
            ask_sources = gr.HTML(render.sources_panel([], empty=ASK_SOURCES_EMPTY),
                                  label="sources", elem_id="ask-sources")
    ask_json = gr.JSON(visible=False, label="result")
    return AskView(ask_in, closed_in, ask_btn, rag_html, closed_html, ask_sources, ask_json)


def _progress_tab(tab) -> ProgressView:
    refresh_btn = gr.Button("Refresh", size="sm")
    history_plot = gr.Plot(label="Score per track over time", format="png", elem_id="progress-plot")
    delivery_plot = gr.Plot(label="Delivery of spoken answers per session", format="png",
                            elem_id="delivery-plot")
    with gr.Row():
        weakest_df = gr.Dataframe(headers=["topic", "track", "score", "answers"],
                                  label="Weakest topics", interactive=False, wrap=True)
        # Every column named; the status column wide enough for "upcoming" on one line.
        due_df = gr.Dataframe(headers=["question", "due", "last score", "status"], label="Reviews", wrap=True,
                              column_widths=["44%", "22%", "14%", "20%"], elem_id="reviews-table",
                              interactive=False)
    sessions_df = gr.Dataframe(headers=["session", "mode", "started", "questions", "answered", "skipped",
                                        "score", "status"],
                               label="Session history", interactive=False, elem_id="sessions-table")
    with gr.Row():
        resume_in = gr.Dropdown([], label="Unfinished sessions", scale=3, allow_custom_value=True,
                                elem_id="unfinished")
        resume_btn = gr.Button("Resume", scale=1)
    return ProgressView(tab, refresh_btn, history_plot, delivery_plot, weakest_df, due_df, sessions_df, resume_in,
                        resume_btn)


def _library_tab(tab) -> LibraryView:
    status_md = gr.Markdown()
    with gr.Row():
        folder_in = gr.Textbox(label="Add a folder of .md/.txt notes", scale=4,
                               placeholder="/home/me/my-notes")
        folder_btn = gr.Button("Add folder and re-index", scale=1)
    upload_in = gr.File(file_count="multiple", file_types=list(USER_SUFFIXES), label="Upload .md, .markdown or .txt files")
    with gr.Row():
        upload_btn = gr.Button("Add uploaded files and re-index")
        reindex_btn = gr.Button("Re-index")
    ingest_md = gr.Markdown()
    return LibraryView(tab, status_md, folder_in, folder_btn, upload_in, upload_btn, reindex_btn, ingest_md)
