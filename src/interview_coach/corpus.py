"""Load and validate the corpus: notes and sources (markdown + front matter), the question bank (YAML),
and user folders of .md/.txt files.

Problems are collected as `file:line: what is wrong`, never raised one at a time; chunking and indexing
are left to other modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DIFFICULTIES = ("easy", "medium", "hard")
NOTE_FIELDS = ("id", "title", "track", "tags")
QUESTION_FIELDS = (
    "id", "track", "topic", "difficulty", "question", "key_points", "follow_ups", "notes", "sources",
)
USER_SUFFIXES = (".md", ".markdown", ".txt")
# Fences are '---' lines; Windows line ends are accepted, and the closing fence may end the file.
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\n)---[ \t]*\r?(?:\n|\Z)", re.DOTALL)
FENCE_OPEN = re.compile(r"\A---[ \t]*\r?(?:\n|\Z)")
FENCE_LINE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
UNCLOSED_FRONT_MATTER = ("front matter opened with '---' on line 1 is never closed; add a '---' line after "
                         "the YAML (or remove the first line)")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Document:
    """Anything that gets chunked and indexed: an authored note, a source document, or a user file."""

    id: str
    title: str
    track: str
    kind: str  # "note" | "source" | "user"
    source: str  # path relative to its corpus root
    path: Path
    body: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Misconception:
    """A common wrong claim about a question and its correction, in our own words."""

    claim: str
    correction: str


@dataclass(frozen=True)
class Question:
    id: str
    track: str
    topic: str
    difficulty: str
    question: str
    key_points: tuple[str, ...]
    follow_ups: tuple[str, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    misconceptions: tuple[Misconception, ...] = ()
    file: str = ""
    line: int = 0


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def notes(self) -> list[Document]:
        return [d for d in self.documents if d.kind == "note"]

    @property
    def sources(self) -> list[Document]:
        return [d for d in self.documents if d.kind == "source"]

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records where each mapping and each of its keys start (1-based lines)."""


def _mapping_with_lines(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__lines__"] = {
        key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_lines)


def _yaml_problem(file: str, error: yaml.YAMLError, line_offset: int = 0) -> Problem:
    # Point at where the broken construct opened (an unclosed bracket), not where the parser gave up.
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    line = (mark.line + 1 if mark else 1) + line_offset
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    return Problem(file, line, f"invalid YAML: {problem}" + (f" {context}" if context else ""))


def read_text(path: Path, shown: str) -> tuple[str | None, Problem | None]:
    """Read a UTF-8 file; on failure return a Problem instead of raising."""
    try:
        return path.read_bytes().decode("utf-8"), None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        return None, Problem(shown, line, "not valid UTF-8 text; re-save the file as UTF-8")
    except OSError as e:
        return None, Problem(shown, 1, f"cannot read file ({e.strerror or e})")


def unclosed_front_matter(text: str) -> bool:
    """The first line opens front matter and no later line closes it: the whole file would read as YAML."""
    opening = FENCE_OPEN.match(text)
    return bool(opening) and not FENCE_LINE.search(text, opening.end())


def split_front_matter(text: str, shown: str) -> tuple[dict | None, str, list[Problem]]:
    """Return (front matter with line numbers, body, problems). Front matter lines are file lines."""
    match = FRONT_MATTER.match(text)
    if not match:
        return None, text, [Problem(shown, 1, UNCLOSED_FRONT_MATTER)] if unclosed_front_matter(text) else []
    try:
        meta = yaml.load(match.group(1), Loader=_LineLoader)
    except yaml.YAMLError as e:
        return None, text[match.end():], [_yaml_problem(shown, e, line_offset=1)]
    if not isinstance(meta, dict):
        return None, text[match.end():], [Problem(shown, 2, "front matter must be a YAML mapping")]
    # Shift recorded lines by the opening '---'.
    meta["__lines__"] = {k: v + 1 for k, v in meta.get("__lines__", {}).items()}
    return meta, text[match.end():], []


def _load_markdown_dir(directory: Path, root: Path, kind: str, problems: list[Problem]) -> list[Document]:
    documents = []
    for path in sorted(directory.glob("*.md")):
        shown = str(path.relative_to(root.parent))
        text, problem = read_text(path, shown)
        if problem:
            problems.append(problem)
            continue
        meta, body, found = split_front_matter(text, shown)
        problems.extend(found)
        if found:
            continue
        if meta is None:
            problems.append(Problem(shown, 1, "missing YAML front matter (--- id, title, track, tags ---)"))
            continue
        missing = [f for f in NOTE_FIELDS if meta.get(f) in (None, "", [])]
        if missing:
            problems.append(Problem(shown, 2, f"front matter is missing {', '.join(missing)}"))
            continue
        tags = meta["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append(Problem(shown, meta["__lines__"].get("tags", 2), "tags must be a list of strings"))
            continue
        if not body.strip():
            problems.append(Problem(shown, text.count("\n", 0, len(text) - len(body)) + 1, "note has no body"))
            continue
        documents.append(Document(
            id=str(meta["id"]), title=str(meta["title"]), track=str(meta["track"]), kind=kind,
            source=str(path.relative_to(root)), path=path, body=body, tags=tuple(tags),
        ))
    return documents


def _as_str_list(value) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return value
    return None


def _misconceptions(value) -> tuple[Misconception, ...] | None:
    """The optional `misconceptions` list; None when it is malformed."""
    if value is None:
        return ()
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict):
            return None
        claim, correction = item.get("claim"), item.get("correction")
        if not (isinstance(claim, str) and claim.strip() and isinstance(correction, str) and correction.strip()):
            return None
        out.append(Misconception(" ".join(claim.split()), " ".join(correction.split())))
    return tuple(out)


def _load_questions(directory: Path, root: Path, problems: list[Problem]) -> list[Question]:
    questions = []
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        shown = str(path.relative_to(root.parent))
        text, problem = read_text(path, shown)
        if problem:
            problems.append(problem)
            continue
        try:
            items = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as e:
            problems.append(_yaml_problem(shown, e))
            continue
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(Problem(shown, 1, "a question file must be a YAML list of questions"))
            continue
        for item in items:
            if not isinstance(item, dict):
                problems.append(Problem(shown, 1, "each question must be a mapping"))
                continue
            line, lines = item["__line__"], item["__lines__"]
            missing = [f for f in QUESTION_FIELDS if item.get(f) in (None, "", [])]
            if missing:
                problems.append(Problem(shown, line, f"question {item.get('id', '?')} is missing {', '.join(missing)}"))
                continue
            lists = {f: _as_str_list(item[f]) for f in ("key_points", "follow_ups", "notes", "sources")}
            bad = [f for f, v in lists.items() if v is None]
            if bad:
                problems.append(Problem(shown, lines.get(bad[0], line), f"{bad[0]} must be a non-empty list of strings"))
                continue
            misconceptions = _misconceptions(item.get("misconceptions"))
            if misconceptions is None:
                problems.append(Problem(shown, lines.get("misconceptions", line),
                                        "misconceptions must be a list of {claim, correction} mappings of text"))
                continue
            if item["difficulty"] not in DIFFICULTIES:
                problems.append(Problem(shown, lines.get("difficulty", line),
                                        f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {item['difficulty']!r}"))
                continue
            questions.append(Question(
                id=str(item["id"]), track=str(item["track"]), topic=str(item["topic"]),
                difficulty=item["difficulty"], question=str(item["question"]).strip(),
                key_points=tuple(lists["key_points"]), follow_ups=tuple(lists["follow_ups"]),
                notes=tuple(lists["notes"]), sources=tuple(lists["sources"]),
                misconceptions=misconceptions, file=shown, line=lines.get("id", line),
            ))
    return questions


def _cross_check(corpus: Corpus, root: Path) -> None:
    seen: dict[str, Document] = {}
    for doc in corpus.documents:
        if doc.id in seen:
            corpus.problems.append(Problem(
                str(doc.path.relative_to(root.parent)), 2,
                f"duplicate id {doc.id!r} (also in {seen[doc.id].source})"))
        seen[doc.id] = doc
    note_ids = {d.id for d in corpus.notes}
    source_ids = {d.id for d in corpus.sources}
    question_ids: dict[str, Question] = {}
    for q in corpus.questions:
        if q.id in question_ids:
            other = question_ids[q.id]
            corpus.problems.append(Problem(q.file, q.line, f"duplicate question id {q.id!r} (also at {other.file}:{other.line})"))
        question_ids[q.id] = q
        for note in q.notes:
            if note not in note_ids:
                corpus.problems.append(Problem(q.file, q.line, f"question {q.id} points at note {note!r}, which does not exist"))
        for source in q.sources:
            if source not in source_ids:
                corpus.problems.append(Problem(q.file, q.line, f"question {q.id} points at source {source!r}, which does not exist"))


def load_corpus(root: Path) -> Corpus:
    """Load corpus/{notes,sources,questions} under `root`, validating everything."""
    corpus = Corpus()
    if not root.is_dir():
        corpus.problems.append(Problem(str(root), 1, "corpus folder does not exist"))
        return corpus
    for sub, kind in (("notes", "note"), ("sources", "source")):
        if (root / sub).is_dir():
            corpus.documents += _load_markdown_dir(root / sub, root, kind, corpus.problems)
    if (root / "questions").is_dir():
        corpus.questions = _load_questions(root / "questions", root, corpus.problems)
    _cross_check(corpus, root)
    return corpus


def load_valid_corpus(root: Path) -> Corpus:
    """The corpus under `root`, or a CorpusError listing every problem: the one way the package loads it."""
    from .errors import CorpusError

    corpus = load_corpus(root)
    if corpus.problems:
        raise CorpusError(corpus.problems)
    return corpus


def slugify(text: str) -> str:
    """Lowercase kebab-case; empty when nothing alphanumeric is left."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_user_documents(roots: list[Path]) -> tuple[list[Document], list[str]]:
    """Every .md/.markdown/.txt file under each root (a folder or a single file).

    Returns (documents, skipped) where skipped lines read `path: reason`; unreadable files never stop the rest.
    """
    documents: list[Document] = []
    skipped: list[str] = []
    for root in roots:
        if not root.exists():
            skipped.append(f"{root}: no longer exists; its documents were removed from the index")
            continue
        base = root.parent if root.is_file() else root
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.suffix.lower() not in USER_SUFFIXES:
                continue
            if any(part.startswith(".") for part in path.relative_to(base).parts):
                continue
            rel = str(path.relative_to(base))
            text, problem = read_text(path, str(path))
            if problem:
                skipped.append(f"{path}: {problem.message}")
                continue
            if path.suffix != ".txt" and unclosed_front_matter(text):  # else its YAML would be indexed as body
                skipped.append(f"{path}: {UNCLOSED_FRONT_MATTER}")
                continue
            meta, body, found = split_front_matter(text, str(path)) if path.suffix != ".txt" else (None, text, [])
            meta = meta or {}
            if not body.strip():
                skipped.append(f"{path}: empty file")
                continue
            heading = re.search(r"^#\s+(.+)$", body, re.M)
            title = str(meta.get("title") or (heading.group(1).strip() if heading else path.stem))
            tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
            documents.append(Document(
                id=f"{slugify(base.name) or 'notes'}/{rel}", title=title, track=str(meta.get("track") or "user"),
                kind="user", source=rel, path=path, body=body, tags=tuple(str(t) for t in tags),
            ))
    return documents, skipped
