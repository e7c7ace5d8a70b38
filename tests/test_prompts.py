"""Prompts are data: every template renders, and a missing variable fails loudly."""

from __future__ import annotations

import jinja2
import pytest

from interview_coach import prompts

VARIABLES = {
    "answer": {"question": "Q?", "sources": [{"n": 1, "title": "T", "text": "body"}]},
    "closed_book": {"question": "Q?"},
    "critique": {"question": "Q?", "score": 40, "facts": [{"n": 1, "text": "Missed: X."}]},
    "follow_up": {"question": "Q?", "answer": "A.", "weak_point": "X."},
    "judge": {"context": "C", "claim": "X"},
}


def test_every_prompt_renders_to_system_and_user_messages():
    assert sorted(VARIABLES) == prompts.names()
    for name, variables in VARIABLES.items():
        messages = prompts.render(name, **variables)
        assert [m.role for m in messages] == ["system", "user"]
        assert all(m.content for m in messages)


def test_missing_variable_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("answer", question="Q?")


def test_sources_are_quoted_inside_delimiters_with_their_number():
    user = prompts.render("answer", **VARIABLES["answer"])[1].content
    assert '<source n="1" title="T">\nbody\n</source>' in user
    assert user.rstrip().endswith("Answer with citations:")
