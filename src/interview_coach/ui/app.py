"""Build the Blocks app over one shared Coach and serve it.

Handlers only adapt: the work is the library's (interview.InterviewSession, coach.ask, progress.progress_data,
coach.ingest). Per-user state lives in gr.State (state.InterviewTabState), never in module globals.
"""

from __future__ import annotations

import sys

import gradio as gr

from interview_coach.corpus import DIFFICULTIES
from interview_coach.errors import CoachError

from . import ask_tab, interview_tab, library_tab, progress_tab
from .common import Services
from .layout import layout
from .page import CSS, HEAD


def bank_questions(coach) -> list:
    """The question bank, or none (with a warning on the server) when it does not load: the app still
    opens, and its Library tab can index notes."""
    try:
        return coach.corpus.questions
    except CoachError as e:
        print(f"warning: {e}", file=sys.stderr)
        return []


def build_app(coach) -> gr.Blocks:
    """The whole UI over one shared `coach`; every browser tab and API client gets its own state."""
    services = Services(coach, bank_questions(coach))
    tracks = sorted({q.track for q in services.questions})
    difficulties = [d for d in DIFFICULTIES if any(q.difficulty == d for q in services.questions)]
    with gr.Blocks(title="Interview Coach", analytics_enabled=False) as app:
        ui = layout(tracks, difficulties)
        interview_tab.wire(ui, services)
        ask_tab.wire(ui, coach)
        progress_tab.wire(ui, services)
        library_tab.wire(ui, app, coach)
    return app


def launch(coach, host: str = "127.0.0.1", port: int = 7860, auth=None, share: bool = False):
    """Serve the app through Gradio's queue (each browser tab and API client gets its own state)."""
    app = build_app(coach)
    # Two workers keep quick actions responsive while another user's model call runs.
    app.queue(default_concurrency_limit=2, max_size=64)
    app.launch(server_name=host, server_port=port, auth=auth, share=share, ssr_mode=False,
               show_error=False, max_file_size="60mb", theme=gr.themes.Default(), css=CSS, head=HEAD,
               footer_links=["api"], pwa=False, mcp_server=False)
    return app
