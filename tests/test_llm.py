"""The chat-model interface: registry and settings on a fake, generation on the real bundled GGUF via llama.cpp."""

from __future__ import annotations

import re
from typing import Iterator

import pytest

from interview_coach.errors import ConfigError, ModelUnavailableError
from interview_coach.llm import ChatModel, Message, backends, load_chat_model, register_backend
from interview_coach.settings import Settings


class EchoModel(ChatModel):
    """Deterministic fake: streams the last user message back word by word."""

    def stream(self, messages, max_tokens=256, temperature=0.0, avoid=()) -> Iterator[str]:
        for word in messages[-1].content.split()[:max_tokens]:
            yield word + " "


register_backend("echo-test")(lambda settings: EchoModel())


def test_backends_are_chosen_by_setting():
    assert {"llamacpp", "echo-test"} <= set(backends())
    model = load_chat_model(Settings.load({"COACH_LLM": "echo-test"}))
    assert model.chat([Message("user", "one two three")], max_tokens=2) == "one two "
    with pytest.raises(ConfigError, match="unknown LLM backend 'nope'"):
        load_chat_model(Settings.load({"COACH_LLM": "nope"}))


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="model file not found: .*missing.gguf"):
        load_chat_model(Settings.load({"COACH_LLM_MODEL": str(tmp_path / "missing.gguf")}))


@pytest.mark.slow
def test_bundled_gguf_generates_deterministically_and_streams():
    model = load_chat_model(Settings.load({}))
    messages = [Message("system", "You are a concise assistant."),
                Message("user", "Name one activation function used in neural networks.")]
    pieces = list(model.stream(messages, max_tokens=24))
    assert len(pieces) > 3  # really streamed, not one blob
    text = "".join(pieces)
    assert text.strip() and len(text.split()) <= 40
    assert model.chat(messages, max_tokens=24) == text  # temperature 0 is deterministic


@pytest.mark.slow
def test_avoided_words_are_banned_by_llama_cpp():
    """`avoid` steers the real model away from words (the critique bans praise when nothing was covered):
    the word it writes unsteered is gone, and only one-token forms are banned, so other words survive."""
    model = load_chat_model(Settings.load({"COACH_LLM_ADAPTER": "none"}))
    messages = [Message("user", "Repeat this sentence exactly: You correctly said that the model works well.")]
    free = model.chat(messages, max_tokens=24)
    llm = model.llama()
    # The word to ban is one the model wrote unsteered (which one depends on the CPU's arithmetic: an AVX2
    # and an AVX-512 build of llama.cpp decode this prompt differently), and one that has one-token forms.
    word = next((w for w in re.findall(r"[A-Za-z]{5,}", free) if model._bans(llm, [w])), None)
    assert word, free
    steered = model.chat(messages, max_tokens=24, avoid=(word,))
    assert steered.strip() and not re.search(rf"\b{word}\b", steered, re.IGNORECASE), (word, free, steered)
    banned = model._bans(llm, ["correctly", "Good"])
    assert banned and set(banned.values()) == {-100.0}
    pieces = {llm.detokenize([t]).decode("utf-8").strip() for t in banned}
    assert pieces <= {"correctly", "Correctly", "Good"}
