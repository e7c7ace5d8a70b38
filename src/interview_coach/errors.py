"""Exception types whose messages say how to fix the problem.

Only the edges (CLI, UI) turn these into one stderr line or a chat message.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """What went wrong, for code to branch on (like judge.Reason); messages are for people only."""

    ANSWER_TOO_LONG = "answer-too-long"        # over limits.MAX_ANSWER_CHARS
    ANSWER_TWICE = "answer-twice"              # more than one of --answer, --answer-file, --answer-audio
    NOT_NOTES = "not-notes"                    # ingest was given a file that is not .md/.markdown/.txt
    NOT_REMEMBERED = "not-remembered"          # --forget names a folder the index does not hold
    AUTH_REQUIRED = "auth-required"            # a non-loopback host without --auth or --no-auth
    UPLOAD_REFUSED = "upload-refused"          # wrong type, too large or an unusable name
    INDEX_UNREACHABLE = "index-unreachable"    # COACH_CHROMA_URL names a Chroma server that does not answer
    STORE_CORRUPT = "store-corrupt"            # coach.db is damaged or not a database (left untouched)
    STORE_LOCKED = "store-locked"              # another program held coach.db's lock past the busy timeout
    STORE_WRITE_FAILED = "store-write-failed"  # a write to coach.db failed (disk full, read-only, I/O): nothing saved
    STORE_UNREADABLE = "store-unreadable"      # coach.db cannot be opened or read (permissions, I/O error)


class CoachError(Exception):
    """Base class: str(error) is a complete, user-facing sentence; `code` (an ErrorCode) says which
    problem it is where a caller needs to tell them apart."""

    exit_code = 1
    code: ErrorCode | None = None

    def __init__(self, *args, code: ErrorCode | None = None):
        super().__init__(*args)
        if code is not None:
            self.code = code


class ConfigError(CoachError):
    exit_code = 2


class UsageError(CoachError):
    exit_code = 2


class CorpusError(CoachError):
    """The corpus has validation problems; `problems` lists them as file:line: message."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "unknown problem"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")


class IndexMissingError(CoachError):
    pass


class IndexUnreachableError(CoachError):
    """The Chroma server in COACH_CHROMA_URL did not answer; the message names the URL."""

    code = ErrorCode.INDEX_UNREACHABLE


class ModelUnavailableError(CoachError):
    pass
