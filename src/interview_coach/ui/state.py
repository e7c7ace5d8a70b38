"""Per browser tab (and per API client) state, kept in a gr.State: the interview running there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from interview_coach.chunking import CitationBook

BUSY_WAIT_S = 3  # how long a click waits for the same tab's previous step before it is refused
STILL_WORKING = "Still working on the previous step; one moment."


@dataclass(eq=False)  # compared by identity, as Gradio's state holder expects of a mutable object
class InterviewTabState:
    """One tab's interview session and every note its chat has cited.

    Whether an answer exists to retry and whether the session is over are the session's own facts
    (`last_attempted`, `finished`), read through the properties below, never copied here.
    """

    session: Any = None  # interview.InterviewSession
    # Every note cited in this session's chat, numbered once for the session (the sources panel).
    book: CitationBook = field(default_factory=CitationBook)
    # A second click while a step runs gets a message, not a second run.
    busy: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def mode(self) -> str | None:
        """The session's mode, "practice" or "interview" (None with no session)."""
        return None if self.session is None else self.session.config.mode

    @property
    def running(self) -> bool:
        """A session is open: started or resumed, and not finished."""
        return self.session is not None and not self.finished

    @property
    def finished(self) -> bool:
        return self.session is not None and bool(self.session.finished)

    @property
    def attempted(self) -> bool:
        """An answered (or skipped) turn exists for retry and the model answer to act on."""
        return self.session is not None and self.session.last_attempted is not None

    @contextmanager
    def step(self, busy_message: str = STILL_WORKING) -> Iterator[bool]:
        """Take the tab's step lock, waiting BUSY_WAIT_S for a previous step that is just ending; yields
        whether it was taken (if not, the user is warned with `busy_message`); released on leaving."""
        if not self.busy.acquire(timeout=BUSY_WAIT_S):
            gr.Warning(busy_message)
            yield False
            return
        try:
            yield True
        finally:
            self.busy.release()
