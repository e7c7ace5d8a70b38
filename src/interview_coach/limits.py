"""The longest answer the coach grades, checked the same way, with the same message, by the CLI and the UI.

Upload limits are in uploads.py; what a grade means is left to grading.py.
"""

from __future__ import annotations

from .errors import ErrorCode, UsageError

# The rubric is for a spoken-length answer (a few hundred characters); a pasted essay is refused, not graded.
MAX_ANSWER_CHARS = 8000


def check_answer_length(answer: str) -> None:
    """UsageError (code ANSWER_TOO_LONG) when the answer, without surrounding blanks, is over the limit."""
    length = len(answer.strip())
    if length > MAX_ANSWER_CHARS:
        raise UsageError(f"That answer is {length:,} characters; the limit is {MAX_ANSWER_CHARS:,} (a spoken "
                         "answer is a few hundred). Shorten it and submit again: it was not graded.",
                         code=ErrorCode.ANSWER_TOO_LONG)
