"""Exception types whose messages say how to fix the problem.

Only the edges (CLI, UI) turn these into one stderr line or a chat message.
"""


class CoachError(Exception):
    """Base class: str(error) is a complete, user-facing sentence."""

    exit_code = 1


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


class ModelUnavailableError(CoachError):
    pass
