"""Evaluation datasets: read JSON Lines into dataclasses (bad lines named `file:line:`), detect kinds, subsets.
Leaves out scoring (the suites) and where the bundled files are (resources.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..resources import eval_datasets_dir

DATASETS_DIR = eval_datasets_dir()  # the repository's eval/datasets, or its copy in an installed wheel
BUNDLED = {
    "retrieval": DATASETS_DIR / "retrieval_queries.jsonl",
    "claims": DATASETS_DIR / "labelled_claims.jsonl",
    "graded": DATASETS_DIR / "graded_answers.jsonl",
}
# How people type bank questions (and ones the bank lacks): which bank question free text is graded against.
PARAPHRASES = DATASETS_DIR / "question_paraphrases.jsonl"
# Keys that identify each kind; extra keys are allowed.
REQUIRED = {
    "retrieval": ("query", "relevant"),
    "claims": ("context", "claim", "label"),
    "graded": ("answer", "reference_score"),  # and question_id (a bank id) or question (free text)
}
LABELS = ("supported", "unsupported")


@dataclass(frozen=True)
class RetrievalQuery:
    query: str
    relevant: tuple[str, ...]    # note ids; a chunk of any of them is a hit
    track: str = ""


@dataclass(frozen=True)
class LabelledClaim:
    context: str
    claim: str
    label: str                   # "supported" | "unsupported"
    kind: str = ""               # paraphrase, negation, wrong-number, ... (optional)


@dataclass(frozen=True)
class GradedAnswer:
    question_id: str             # a bank id, or the question as a user types it when free_text
    answer: str
    reference_score: float
    level: str = ""              # strong | brief | partial | wrong | off-topic (optional)
    free_text: bool = False      # the row gave `question` (graded as typed), not a bank `question_id`

    @property
    def split(self) -> str:
        """"dev" (the grading calibration is fitted on it) or "test" (reported): by question, so every
        answer to a question lands on the same side, and stable across runs and machines."""
        return grading_split(self.question_id)


@dataclass(frozen=True)
class QuestionParaphrase:
    question: str                # how a person types it
    bank_id: str | None          # the bank question it asks, or None when the bank has no such question

    @property
    def split(self) -> str:
        """"dev" (the bank-match threshold is chosen on it) or "test": by bank question, and by the text
        for questions the bank does not ask."""
        return grading_split(self.bank_id or self.question)


def grading_split(question_id: str) -> str:
    import hashlib

    return "dev" if int(hashlib.sha1(question_id.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "test"


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line is a UsageError naming file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such dataset file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read the dataset ({e})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object per line")
        rows.append((number, row))
    if not rows:
        raise UsageError(f"{path}: the dataset is empty")
    return rows


def detect_kind(path: Path) -> str:
    """"retrieval", "claims" or "graded", from the keys of the file's first line."""
    number, first = read_jsonl(path)[0]
    for kind, keys in REQUIRED.items():
        if all(k in first for k in keys):
            return kind
    expected = "; ".join(f"{kind}: {', '.join(keys)}" for kind, keys in REQUIRED.items())
    raise UsageError(f"{path}:{number}: not an eval dataset (expected the keys of one kind: {expected})")


def _rows(path: Path, kind: str) -> list[tuple[int, dict]]:
    rows = read_jsonl(path)
    for number, row in rows:
        missing = [k for k in REQUIRED[kind] if k not in row]
        if missing:
            raise UsageError(f"{path}:{number}: missing {', '.join(missing)}")
    return rows


def load_queries(path: Path | None = None) -> list[RetrievalQuery]:
    path = path or BUNDLED["retrieval"]
    out = []
    for number, row in _rows(path, "retrieval"):
        relevant = row["relevant"]
        if isinstance(relevant, str):
            relevant = [relevant]
        if not str(row["query"]).strip() or not relevant:
            raise UsageError(f"{path}:{number}: the query and its relevant note ids must not be empty")
        out.append(RetrievalQuery(str(row["query"]), tuple(str(r) for r in relevant), str(row.get("track", ""))))
    return out


def load_paraphrases(path: Path | None = None) -> list[QuestionParaphrase]:
    path = path or PARAPHRASES
    out = []
    for number, row in read_jsonl(path):
        if "bank_id" not in row or not str(row.get("question", "")).strip():
            raise UsageError(f"{path}:{number}: needs a question and a bank_id (null when the bank lacks it)")
        out.append(QuestionParaphrase(" ".join(str(row["question"]).split()), row["bank_id"] or None))
    return out


def load_claims(path: Path | None = None) -> list[LabelledClaim]:
    path = path or BUNDLED["claims"]
    out = []
    for number, row in _rows(path, "claims"):
        if row["label"] not in LABELS:
            raise UsageError(f"{path}:{number}: label must be \"supported\" or \"unsupported\", got {row['label']!r}")
        out.append(LabelledClaim(str(row["context"]), str(row["claim"]), row["label"], str(row.get("kind", ""))))
    return out


def load_graded(path: Path | None = None) -> list[GradedAnswer]:
    path = path or BUNDLED["graded"]
    out = []
    for number, row in _rows(path, "graded"):
        try:
            score = float(row["reference_score"])
        except (TypeError, ValueError):
            raise UsageError(f"{path}:{number}: reference_score must be a number") from None
        free_text = not row.get("question_id")
        question = str((row.get("question") if free_text else row["question_id"]) or "").strip()
        if not question:
            raise UsageError(f"{path}:{number}: needs question_id (a bank id) or question (the text a user types)")
        out.append(GradedAnswer(question, str(row["answer"]), score, str(row.get("level", "")), free_text))
    return out


def spread(items, n: int) -> list:
    """n items evenly spaced through the list (all tracks, not just the first), in order."""
    items = list(items)
    if n >= len(items):
        return items
    return [items[i * len(items) // n] for i in range(n)]


def spread_groups(rows, n: int) -> list:
    """About n graded answers as whole question groups evenly spaced (pairwise accuracy compares
    answers to the same question, so a group is never split)."""
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.question_id, []).append(r)
    size = max(1, len(rows) // max(1, len(groups)))
    chosen = spread(list(groups.values()), max(1, n // size))
    return [r for g in chosen for r in g]
