"""The lexical side of hybrid search: an SQLite FTS5 index (bm25() ranking) of each chunk's search tokens,
persisted beside the Chroma index and kept in step with the manifest, plus the chunk records, read by id.

Vector search and fusion are left to retrieval.py; what to index is decided by ingest (index.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from .chunking import Chunk
from .text import search_tokens

# Bump when the tables or text.search_tokens change: a stored index of another layout is rebuilt.
LAYOUT = "2"  # 2: camelCase parts are terms too
FETCH_BATCH = 2000  # chunk records per Chroma request while syncing
SYNC_WAIT_S = 600  # how long a sync waits for another process's sync of the same file (a 100k build is ~1 min)

_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, hash TEXT NOT NULL, chunks TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, file TEXT NOT NULL,
                                  track TEXT NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file);
CREATE INDEX IF NOT EXISTS chunks_track ON chunks(track);
-- The documents are stored already tokenised by text.search_tokens (tokens joined by spaces), so that
-- unicode61 with '_' as a token character splits them back into exactly those tokens: documents and
-- queries share one tokeniser, as with the rank-bm25 index this replaced.
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(tokens, tokenize="unicode61 tokenchars '_'");
"""


def match_expression(tokens: list[str]) -> str:
    """An FTS5 query matching any token: quoted, so a token such as `not` or `and` is a term, not an
    operator. Repeats are kept: bm25() then counts a repeated query term twice, as rank-bm25 did."""
    return " OR ".join(f'"{t}"' for t in tokens)


class LexicalIndex:
    """One SQLite file. `sync(index)` brings it in line with the index's manifest, reading from Chroma only
    the chunks of files whose hash or chunk list changed; `search` ranks with FTS5's bm25()."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection shared by the UI's threads, one statement at a time

    @classmethod
    def for_index(cls, index) -> LexicalIndex:
        """The file for an Index: under COACH_HOME/index; with a Chroma server, a local cache named after
        its URL, so that switching between servers (or embedded) does not thrash one file."""
        settings = index.settings
        name = "lexical.sqlite3"
        if settings.chroma_url:
            name = f"lexical-{hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:12]}.sqlite3"
        return cls(settings.index_dir / name)

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.OperationalError:
                raise  # locked or unreadable: not a reason to delete anything
            except sqlite3.DatabaseError:  # not a database (a torn or foreign file): a cache, so start over
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=SYNC_WAIT_S, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # searches in other processes read while one syncs
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost last commit is redone by the next sync
            db.executescript(_TABLES)
            if self._meta(db, "layout") not in (None, LAYOUT):
                db.executescript("DROP TABLE meta; DROP TABLE files; DROP TABLE chunks; DROP TABLE terms;")
                db.executescript(_TABLES)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def _write(self):
        """One transaction holding SQLite's write lock from the start: a second process's sync waits here,
        then finds the work done."""
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- keeping in step with the manifest -----------------------------------------------------------
    def synced_version(self) -> str:
        """The Index.version() this file was last brought in line with ("" when never)."""
        with self._lock:
            return self._meta(self.db, "version") or ""

    def sync(self, index) -> int:
        """Bring the tables in line with `index`'s manifest; returns how many chunks were read from Chroma
        (0 when the stored version already matched, the cost of a start is then one version check).

        The version is read before the manifest: if an ingest saves in between, the tables reflect the newer
        manifest under the older version, and the next check syncs again (finding little or nothing to do)."""
        version = index.version()
        if version and version == self.synced_version():
            return 0
        manifest = index.load_manifest()
        collection = index.collection()  # IndexMissingError when nothing was ingested yet
        with self._write() as db:
            if version and version == self._meta(db, "version"):
                return 0  # another process synced while this one waited for the lock
            if self._meta(db, "collection") != manifest.collection:
                for table in ("files", "chunks", "terms"):  # another collection (a rebuild): start over
                    db.execute(f"DELETE FROM {table}")
            stored = {path: (h, json.loads(ids)) for path, h, ids in db.execute("SELECT * FROM files")}
            wanted = {path: (entry["hash"], entry["chunks"]) for path, entry in manifest.files.items()}
            for path in [p for p in stored if wanted.get(p) != stored[p]]:
                self._remove_file(db, path)
            pending = {path: value for path, value in wanted.items() if stored.get(path) != value}
            got = self._fetch(db, index, collection, pending) if pending else set()
            # A file whose chunks Chroma lacks (lost in a crash; the next ingest re-embeds them under the same
            # hash) is not recorded, so that the next sync reads it again.
            db.executemany("INSERT INTO files VALUES (?, ?, ?)",
                           [(path, h, json.dumps(ids)) for path, (h, ids) in pending.items() if set(ids) <= got])
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [("version", version), ("collection", manifest.collection), ("layout", LAYOUT)])
        return len(got)

    @staticmethod
    def _remove_file(db: sqlite3.Connection, path: str) -> None:
        db.execute("DELETE FROM terms WHERE rowid IN (SELECT rowid FROM chunks WHERE file = ?)", (path,))
        db.execute("DELETE FROM chunks WHERE file = ?", (path,))
        db.execute("DELETE FROM files WHERE path = ?", (path,))

    @staticmethod
    def _fetch(db: sqlite3.Connection, index, collection, pending: dict) -> set[str]:
        """Read the pending files' chunks from Chroma and index them; returns the ids found."""
        owner = {cid: path for path, (_, ids) in pending.items() for cid in ids}
        ids = list(owner)
        got: set[str] = set()
        for start in range(0, len(ids), FETCH_BATCH):
            with index.server_errors():
                data = collection.get(ids=ids[start:start + FETCH_BATCH], include=["documents", "metadatas"])
            for cid, text, meta in zip(data["ids"], data["documents"], data["metadatas"]):
                chunk = Chunk.from_record(cid, text, meta)
                # A chunk id moved to another file (a renamed note) replaces its old row.
                db.execute("DELETE FROM terms WHERE rowid IN (SELECT rowid FROM chunks WHERE id = ?)", (cid,))
                db.execute("DELETE FROM chunks WHERE id = ?", (cid,))
                rowid = db.execute("INSERT INTO chunks(id, file, track, text, meta) VALUES (?, ?, ?, ?, ?)",
                                   (cid, owner[cid], chunk.track, text, json.dumps(meta))).lastrowid
                db.execute("INSERT INTO terms(rowid, tokens) VALUES (?, ?)",
                           (rowid, " ".join(search_tokens(chunk.search_text))))
            got.update(data["ids"])
        return got

    # -- reading --------------------------------------------------------------------------------
    def search(self, tokens: list[str], track: str | None, limit: int) -> list[str]:
        """Chunk ids best first by bm25(); FTS5 scores only the chunks holding a query term."""
        if not tokens or limit < 1:
            return []
        sql = ("SELECT c.id FROM terms JOIN chunks c ON c.rowid = terms.rowid WHERE terms MATCH ?"
               + (" AND c.track = ?" if track else "") + " ORDER BY terms.rank LIMIT ?")
        params = (match_expression(tokens), *((track,) if track else ()), limit)
        with self._lock:
            return [row[0] for row in self.db.execute(sql, params)]

    def get(self, ids: list[str]) -> dict[str, Chunk]:
        """The stored chunks among `ids`; an id it does not hold (not yet synced) is left out."""
        out: dict[str, Chunk] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                batch = ids[start:start + 500]
                rows = self.db.execute(f"SELECT id, text, meta FROM chunks WHERE id IN ({','.join('?' * len(batch))})",
                                       batch)
                out.update((cid, Chunk.from_record(cid, text, json.loads(meta))) for cid, text, meta in rows)
        return out

    def count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def tracks(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self.db.execute("SELECT DISTINCT track FROM chunks ORDER BY track")]

    def ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self.db.execute("SELECT id FROM chunks ORDER BY rowid")]

    def all_chunks(self) -> list[Chunk]:
        with self._lock:
            rows = self.db.execute("SELECT id, text, meta FROM chunks ORDER BY rowid").fetchall()
        return [Chunk.from_record(cid, text, json.loads(meta)) for cid, text, meta in rows]


class StoredChunks(Mapping):
    """Chunk id -> Chunk, read from the lexical index on demand, so that no process holds every chunk in
    memory; iterating `values()` reads them all (the eval harness does, once)."""

    def __init__(self, lexical: LexicalIndex):
        self.lexical = lexical

    def __getitem__(self, chunk_id: str) -> Chunk:
        found = self.lexical.get([chunk_id])
        if chunk_id not in found:
            raise KeyError(chunk_id)
        return found[chunk_id]

    def __iter__(self):
        return iter(self.lexical.ids())

    def __len__(self) -> int:
        return self.lexical.count()

    def values(self):
        return self.lexical.all_chunks()
