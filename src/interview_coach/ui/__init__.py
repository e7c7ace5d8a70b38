"""The Gradio UI: Interview, Ask your notes, Progress and Library tabs over one shared Coach.

    app.py            build_app(coach) and launch(coach, ...)
    layout.py         the components of each tab, as dataclasses
    state.py          InterviewTabState: one browser tab's session, sources panel and step lock
    interview_tab.py  ask_tab.py  progress_tab.py  library_tab.py   handlers and their wiring
    render.py         results -> chat markdown and panel HTML (pure functions)
    common.py         messages, user-facing errors, streaming, shared collaborators
    page.py           CSS and the citation-click script
"""

import os

# No telemetry or version check: the coach runs offline and must not wait on the network. Set before
# Gradio (and huggingface_hub under it) is first imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from .app import build_app, launch  # noqa: E402

__all__ = ["build_app", "launch"]
