"""Render the prompts kept in prompts.yaml into chat messages, failing loudly on a missing variable.

Which prompt to use, and what to do with the reply, is the caller's business.
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from .llm import Message
from .resources import prompts_file

PROMPTS_FILE = prompts_file()


@lru_cache(maxsize=1)
def _templates() -> dict:
    from jinja2 import Environment, StrictUndefined

    # autoescape stays off: these are plain-text prompts, and sources are delimited, not HTML-escaped.
    env = Environment(undefined=StrictUndefined, keep_trailing_newline=False, trim_blocks=True,
                      lstrip_blocks=True)
    raw = yaml.safe_load(PROMPTS_FILE.read_text(encoding="utf-8"))
    return {name: {role: env.from_string(text) for role, text in parts.items()} for name, parts in raw.items()}


def names() -> list[str]:
    return sorted(_templates())


def render(name: str, **variables) -> list[Message]:
    """The system and user messages of prompt `name`; jinja2.UndefinedError if a variable is missing."""
    parts = _templates()[name]
    return [Message(role, parts[role].render(**variables).strip()) for role in ("system", "user") if role in parts]
