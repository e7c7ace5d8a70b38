"""The Chroma index and its incremental ingest.

A manifest (file hash -> chunk ids, plus a fingerprint of the embedding model and chunking settings)
decides what to embed. Crash safety comes from ordering: Chroma is written before the manifest, the
manifest is replaced atomically after each batch, and every ingest first reconciles the two (orphan
chunks deleted, entries whose chunks went missing re-embedded). A settings change builds a new
collection beside the old one and switches only when it is complete.
With COACH_CHROMA_URL the manifest lives on the server too (collection `coach_manifest`), so every coach
sharing the server shares one index; a server that does not answer is one IndexUnreachableError.
The BM25 side (lexical.py, an SQLite file under the index folder) is synced from the manifest after ingest.
Retrieval is left to retrieval.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from .chunking import Chunk, chunk_document
from .corpus import load_user_documents, load_valid_corpus
from .embeddings import LocalEmbeddings, embedding_model_path, load_embeddings, model_fingerprint
from .errors import IndexMissingError, IndexUnreachableError, UsageError
from .lexical import LexicalIndex
from .settings import Settings

MANIFEST_VERSION = 1
CHUNKER_VERSION = 1  # bump when chunking logic changes so indexes rebuild
COLLECTION_PREFIX = "coach"
MANIFEST_COLLECTION = "coach_manifest"  # server mode: one record, id "manifest", the JSON as its document


@dataclass
class IngestReport:
    documents: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    rebuilt: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Manifest:
    fingerprint: str = ""
    collection: str = ""
    roots: list[str] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)  # path -> {"hash", "doc_id", "chunks": [...]}
    last_ingest: str = ""
    # The skipped-file lines the last complete ingest found: reported once, not again while they stay the same.
    warned: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        try:
            return cls.parse(path.read_text())
        except OSError:
            return cls()  # missing manifest: start over, reconciliation repairs Chroma

    @classmethod
    def parse(cls, text: str) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError:
            return cls()  # torn manifest: start over, reconciliation repairs Chroma
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            return cls()
        data.pop("version")
        return cls(**data)

    def dumps(self) -> str:
        return json.dumps({"version": MANIFEST_VERSION, **asdict(self)})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(self.dumps())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: a reader sees the old or the new manifest, never half of one


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_warnings(skipped: list[str], warned: list[str]) -> list[str]:
    """The skipped-file lines not reported by the last ingest. A line names the file and why, so a file that
    is newly skipped, or skipped for another reason, is reported again; one that was fixed and breaks
    again too, since the last ingest no longer listed it."""
    before = set(warned)
    return [line for line in skipped if line not in before]


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Index:
    """Owns the Chroma client, the manifest and ingest; the embedder is passed in or built lazily."""

    def __init__(self, settings: Settings, embeddings: LocalEmbeddings | None = None):
        self.settings = settings
        self._embeddings = embeddings
        self._client = None
        self.manifest_path = settings.index_dir / "manifest.json"

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def embeddings(self) -> LocalEmbeddings:
        if self._embeddings is None:
            self._embeddings = load_embeddings(self.settings)
        return self._embeddings

    @property
    def client(self):
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            if self.settings.chroma_url:
                from urllib.parse import urlparse

                url = urlparse(self.settings.chroma_url)
                try:
                    self._client = chromadb.HttpClient(
                        host=url.hostname or "127.0.0.1", port=url.port or 8000,
                        ssl=url.scheme == "https", settings=chroma_settings)
                except Exception as e:  # the constructor asks the server for its tenant: refused, timed out, not Chroma
                    raise self._unreachable(e.__cause__ or e.__context__ or e) from None  # the network's reason
            else:
                self.settings.index_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.settings.index_dir / "chroma"), settings=chroma_settings)
        return self._client

    @property
    def where(self) -> str:
        """Where the index lives, for messages: the server URL or the local folder."""
        return f"the Chroma server at {self.settings.chroma_url}" if self.settings.chroma_url else str(self.settings.index_dir)

    def _unreachable(self, error: Exception) -> IndexUnreachableError:
        reason = str(error).strip() or type(error).__name__
        return IndexUnreachableError(
            f"cannot reach the Chroma server at {self.settings.chroma_url} ({reason}); start it with "
            "`coach serve-index` (or `chroma run`) or fix COACH_CHROMA_URL")

    @contextmanager
    def server_errors(self):
        """Turn a lost connection to the Chroma server into one IndexUnreachableError; a no-op when embedded."""
        if not self.settings.chroma_url:
            yield
            return
        import httpx

        try:
            yield
        except httpx.TransportError as e:  # refused, reset, timed out: the server is down or unreachable
            raise self._unreachable(e) from None

    # -- the manifest: a file when embedded, a record on the server otherwise ------------------
    def _manifest_record(self):
        return self.client.get_or_create_collection(MANIFEST_COLLECTION, embedding_function=None)

    def load_manifest(self) -> Manifest:
        if not self.settings.chroma_url:
            return Manifest.load(self.manifest_path)
        with self.server_errors():
            data = self._manifest_record().get(ids=["manifest"], include=["documents"])
        return Manifest.parse(data["documents"][0]) if data["ids"] else Manifest()

    def save_manifest(self, manifest: Manifest) -> None:
        if not self.settings.chroma_url:
            manifest.save(self.manifest_path)
            return
        with self.server_errors():  # one upsert: readers see the old or the new record, never half of one
            self._manifest_record().upsert(
                ids=["manifest"], embeddings=[[1.0]], documents=[manifest.dumps()],
                metadatas=[{"version": uuid.uuid4().hex}])

    def version(self) -> str:
        """A token that changes whenever the manifest is saved; cheap (a stat, or a ~2 ms request) so a
        long-lived process can check it before each search and reload when another process ingested."""
        if not self.settings.chroma_url:
            try:
                st = os.stat(self.manifest_path)
            except OSError:
                return ""
            return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
        with self.server_errors():
            data = self._manifest_record().get(ids=["manifest"], include=["metadatas"])
        return data["metadatas"][0]["version"] if data["ids"] else ""

    def fingerprint(self) -> str:
        model = model_fingerprint(embedding_model_path(self.settings))
        config = json.dumps({
            "model": model, "chunk_size": self.settings.chunk_size,
            "chunk_overlap": self.settings.chunk_overlap, "chunker": CHUNKER_VERSION,
        }, sort_keys=True)
        return hashlib.sha256(config.encode()).hexdigest()

    def _collection(self, name: str, create: bool = False):
        if create:
            return self.client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        return self.client.get_collection(name, embedding_function=None)

    def collection(self):
        """The active collection, or IndexMissingError saying how to build it."""
        manifest = self.load_manifest()
        if not manifest.collection:
            raise IndexMissingError(f"no index in {self.where}; run `coach ingest` to build it")
        with self.server_errors():
            try:
                return self._collection(manifest.collection)
            except Exception as e:
                if self.settings.chroma_url and _is_transport_error(e):
                    raise  # server_errors reports it: the server is down, not the index incomplete
                raise IndexMissingError(
                    f"the index in {self.where} is incomplete; run `coach ingest` to repair it") from None

    def status(self) -> dict:
        manifest = self.load_manifest()  # with a server, this is also the check that it answers
        return {
            "documents": len(manifest.files),
            "chunks": sum(len(f["chunks"]) for f in manifest.files.values()),
            "last_ingest": manifest.last_ingest,
            "roots": manifest.roots,
            "skipped": manifest.warned,
            "index_dir": str(self.settings.index_dir),
            "chroma_url": self.settings.chroma_url,
        }

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path] = (), progress: Callable[[int, int], None] | None = None,
               forget: Iterable[Path] = ()) -> IngestReport:
        """Bring the index in line with the bundled corpus plus remembered and given user folders."""
        with self.server_errors():
            report = self._ingest(paths, progress, forget)
            # The persisted BM25 index follows the manifest just saved (only changed files are re-read), so
            # the first search after an ingest, in this process or another, finds it ready.
            LexicalIndex.for_index(self).sync(self)
            return report

    def _ingest(self, paths: Iterable[Path], progress: Callable[[int, int], None] | None,
                forget: Iterable[Path]) -> IngestReport:
        started = time.perf_counter()
        corpus = load_valid_corpus(self.settings.corpus_dir)
        manifest = self.load_manifest()
        roots = self._roots(manifest, paths, forget)
        user_docs, skipped = load_user_documents([Path(r) for r in roots])
        report = IngestReport(skipped=new_warnings(skipped, manifest.warned))
        run = self._open_run(manifest, roots, report)
        current = {str(doc.path.resolve()): doc for doc in corpus.documents + user_docs}
        hashes = {key: file_hash(doc.path) for key, doc in current.items()}
        changed, removed = self._reconcile(run, current, hashes, report)
        for key in removed:
            if run.state[key]["chunks"]:
                run.collection.delete(ids=run.state[key]["chunks"])
            del run.state[key]
        if removed:
            run.commit()
        self._embed(run, [(key, chunk_document(current[key], self.settings.chunk_size, self.settings.chunk_overlap))
                          for key in changed], hashes, current, progress)
        run.manifest.warned = sorted(set(skipped))  # only now: an ingest that fails reports them again
        self._finish(run)
        report.documents = len(run.state)
        report.chunks = sum(len(entry["chunks"]) for entry in run.state.values())
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    @staticmethod
    def _roots(manifest: "Manifest", paths: Iterable[Path], forget: Iterable[Path]) -> list[str]:
        """Remembered user folders, plus the given ones, minus the forgotten ones."""
        new_roots = []
        for path in paths:
            path = Path(path).expanduser().resolve()
            if not path.exists():
                raise UsageError(f"{path}: no such file or folder")
            new_roots.append(str(path))
        forgotten = {str(Path(p).expanduser().resolve()) for p in forget}
        return [r for r in dict.fromkeys(manifest.roots + new_roots) if r not in forgotten]

    def _open_run(self, manifest: "Manifest", roots: list[str], report: IngestReport) -> "_IngestRun":
        """The collection to write: the active one, or a new one when settings changed or it is gone."""
        fingerprint = self.fingerprint()
        rebuild = manifest.fingerprint != fingerprint or not manifest.collection
        if not rebuild:
            try:
                return _IngestRun(self, manifest, roots, fingerprint, manifest.collection,
                                  self._collection(manifest.collection), dict(manifest.files), rebuild=False)
            except Exception as e:
                if self.settings.chroma_url and _is_transport_error(e):
                    raise  # a server that is down is not a missing collection: do not start a rebuild
                rebuild = True
        report.rebuilt = True
        target_name = f"{COLLECTION_PREFIX}_{fingerprint[:16]}"
        if target_name != manifest.collection:
            # A leftover from an interrupted rebuild is started over.
            self._delete_collection(target_name)
        return _IngestRun(self, manifest, roots, fingerprint, target_name,
                          self._collection(target_name, create=True), {}, rebuild=True)

    @staticmethod
    def _reconcile(run: "_IngestRun", current: dict, hashes: dict, report: IngestReport) -> tuple[list, list]:
        """Delete chunks the manifest does not know; list files to (re-)embed and files to remove."""
        stored_ids = set(run.collection.get(include=[])["ids"])
        known_ids = {cid for entry in run.state.values() for cid in entry["chunks"]}
        for batch in _batches(sorted(stored_ids - known_ids), 5000):
            run.collection.delete(ids=batch)
        removed = [key for key in run.state if key not in current]
        changed = []
        for key in current:
            entry = run.state.get(key)
            if entry is None:
                changed.append(key)
                report.added += 1
            elif entry["hash"] != hashes[key] or not set(entry["chunks"]) <= stored_ids:
                changed.append(key)  # edited, or its chunks were lost in a crash: redo it
                report.updated += 1
            else:
                report.unchanged += 1
        report.removed = len(removed)
        return changed, removed

    def _embed(self, run: "_IngestRun", pending: list, hashes: dict, current: dict,
               progress: Callable[[int, int], None] | None) -> None:
        """Embed and write in groups of about ingest_batch_chunks, committing the manifest after each."""
        total = sum(len(chunks) for _, chunks in pending)
        done = 0
        if progress:
            progress(0, total)
        group: list[tuple[str, list[Chunk]]] = []
        for item in pending + [None]:
            if item is not None:
                group.append(item)
            size = sum(len(chunks) for _, chunks in group)
            if group and (item is None or size >= self.settings.ingest_batch_chunks):
                self._write_group(run.collection, group, run.state, hashes, current)
                run.commit()
                done += size
                group = []
                if progress:
                    progress(done, total)

    def _finish(self, run: "_IngestRun") -> None:
        manifest = run.manifest
        manifest.last_ingest = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest.files = run.state
        manifest.roots = run.roots
        if run.rebuild:
            old = manifest.collection
            manifest.fingerprint, manifest.collection = run.fingerprint, run.target_name
            self.save_manifest(manifest)  # the switch: from here on searches use the new collection
            if old and old != run.target_name:
                self._delete_collection(old)
        else:
            self.save_manifest(manifest)

    def _write_group(self, collection, group, state, hashes, current) -> None:
        chunks = [chunk for _, chunks in group for chunk in chunks]
        if chunks:
            vectors = self.embeddings.embed_documents([c.search_text for c in chunks])
            collection.upsert(
                ids=[c.id for c in chunks], embeddings=vectors,
                documents=[c.text for c in chunks], metadatas=[c.metadata() for c in chunks])
        for key, doc_chunks in group:
            new_ids = [c.id for c in doc_chunks]
            stale = sorted(set(state.get(key, {}).get("chunks", [])) - set(new_ids))
            if stale:
                collection.delete(ids=stale)
            state[key] = {"hash": hashes[key], "doc_id": current[key].id, "chunks": new_ids}

    def _delete_collection(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except Exception:
            pass  # it did not exist

    # -- reading ------------------------------------------------------------------------------
    def all_chunks(self) -> list[Chunk]:
        collection = self.collection()
        with self.server_errors():
            data = collection.get(include=["documents", "metadatas"])
        return [Chunk.from_record(i, d, m) for i, d, m in zip(data["ids"], data["documents"], data["metadatas"])]


def _is_transport_error(error: Exception) -> bool:
    import httpx

    return isinstance(error, httpx.TransportError)


@dataclass
class _IngestRun:
    """One ingest's working state: the collection being written and the manifest entries so far."""

    index: Index
    manifest: Manifest
    roots: list[str]
    fingerprint: str
    target_name: str
    collection: object
    state: dict
    rebuild: bool

    def commit(self) -> None:
        """Save progress, unless a rebuild is under way (its manifest switches only at the end)."""
        if not self.rebuild:
            self.manifest.files = self.state
            self.manifest.roots = self.roots
            self.index.save_manifest(self.manifest)
