"""What every tab's handlers share: chat messages, user-facing errors, streaming a blocking library call,
and the collaborators (the Coach, its bank questions, one lazily opened Store) shared by all users."""

from __future__ import annotations

import functools
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


def message(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def friendly(exc: BaseException) -> str:
    """One line for the user; unexpected errors are logged with their traceback on the server."""
    from interview_coach.errors import CoachError

    if isinstance(exc, CoachError):
        return str(exc)
    traceback.print_exception(exc, file=sys.stderr)
    return f"Something went wrong ({type(exc).__name__}: {exc}). The details are in the server log."


def stream_call(fn, *args, **kwargs):
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


def turn_dict(turn) -> dict | None:
    """The API's view of an interview.Turn."""
    if turn is None:
        return None
    return {"turn_id": turn.turn_id, "question_id": turn.question_id, "question": turn.question,
            "kind": turn.kind, "number": turn.number, "total": turn.total, "track": turn.track,
            "topic": turn.topic}


@dataclass(eq=False)
class Services:
    """Shared by every browser tab and API client: the Coach, its bank questions (empty when the bank
    does not load) and one Store, opened on first use."""

    coach: Any
    questions: list = field(default_factory=list)
    _store: Any = field(default=None, init=False, repr=False)
    _store_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def settings(self):
        return self.coach.settings

    def store(self):
        with self._store_lock:
            if self._store is None:
                from interview_coach.store import Store

                self._store = Store.open(self.settings)
            return self._store


def bind(fn, *collaborators):
    """fn with its leading collaborators filled in, for an event listener. Name and docstring are kept:
    Gradio derives an event's default API name and its API description from them."""
    bound = functools.partial(fn, *collaborators)
    bound.__name__, bound.__doc__ = fn.__name__, fn.__doc__
    return bound
