"""The judgement model's own data: hand-written (premise, statement, label) pairs per note, and the
split rule (by note, so test notes are unseen) shared by training and `coach eval judge`.

Training itself is training/train_judge.py; scoring a judge is eval/judge.py.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .eval.data import LabelledClaim, read_jsonl
from .resources import judge_data_dir

JUDGE_DATA_DIR = judge_data_dir()
# hand/: minimal and close pairs (the first training stage); distant/: wrong and right statements in a
# candidate's own words, not edits of the premise (the second stage, train_judge.py --stage2). All three
# folders are split by note alike and scored in dev and test.
HAND_DIR = JUDGE_DATA_DIR / "hand"
DISTANT_DIR = JUDGE_DATA_DIR / "distant"
# claims/: standalone claims in a formal, reworded voice (a textbook's or a fact-checker's, not a candidate's):
# reworded supports, contradictions said in other words, and on-topic facts the premise does not settle.
CLAIMS_DIR = JUDGE_DATA_DIR / "claims"
# reversals/: training notes only. A contradiction that turns one fact around (roles, direction, cause) in
# another voice (a candidate, a slide, a forum reply), each with a correct twin in the same voice. Training
# data for the second stage; dev and test stay the three folders above, so recipes remain comparable.
REVERSALS_DIR = JUDGE_DATA_DIR / "reversals"
# misconceptions/: for each listed misconception of a bank question the graded answers do not use, two
# sentences a candidate might say that commit it and one that states its correction. They teach the grader's
# judge (models/grading_judge) to read a listed misconception in an answer's own words
# (training/train_grading_judge.py); split by question, not by note.
MISCONCEPTIONS_DIR = JUDGE_DATA_DIR / "misconceptions"
# Notes added to the corpus after the pairs were written (one id a line). They have no pairs yet: the split
# below is drawn over the notes that have pairs, so giving them pairs moves other notes between train, dev and
# test, which only a retrained judge can take. They join at the next round of data and training.
PENDING_NOTES_FILE = JUDGE_DATA_DIR / "pending_notes.txt"
LABELS = ("supports", "contradicts", "neither")
SPLITS = ("train", "dev", "test")
DEV_SHARE = TEST_SHARE = 0.15


@dataclass(frozen=True)
class JudgePair:
    id: str
    note: str
    premise: str
    statement: str
    label: str                   # supports | contradicts | neither
    kind: str = ""

    @property
    def track(self) -> str:
        return self.note.split("-", 1)[0]

    def as_claim(self) -> LabelledClaim:
        """Two-way, as verification sees it: only `supports` is supported."""
        return LabelledClaim(self.premise, self.statement, "supported" if self.label == "supports" else "unsupported",
                             f"{self.label}:{self.kind}" if self.kind else self.label)


def jsonl_rows(folder: Path, what: str):
    """(file:line, object) for every line of the folder's *.jsonl files, in file order; a folder without
    any is a UsageError naming `what` it should hold."""
    files = sorted(Path(folder).glob("*.jsonl"))
    if not files:
        raise UsageError(f"no {what} in {folder}; expected *.jsonl files")
    for path in files:
        for number, row in read_jsonl(path):
            yield f"{path}:{number}", row


def load_pairs(folder: Path = HAND_DIR) -> list[JudgePair]:
    pairs, seen = [], set()
    for where, row in jsonl_rows(folder, "judge training data"):
        try:
            pair = JudgePair(str(row["id"]), str(row["note"]), str(row["premise"]).strip(),
                             str(row["statement"]).strip(), str(row["label"]), str(row.get("kind", "")))
        except KeyError as missing:
            raise UsageError(f"{where}: missing field {missing}") from None
        if pair.label not in LABELS:
            raise UsageError(f"{where}: label must be one of {', '.join(LABELS)}, got {pair.label!r}")
        if not pair.premise or not pair.statement:
            raise UsageError(f"{where}: empty premise or statement")
        if pair.id in seen:
            raise UsageError(f"{where}: duplicate id {pair.id!r}")
        seen.add(pair.id)
        pairs.append(pair)
    return pairs


def load_all_pairs() -> list[JudgePair]:
    """Every written pair, hand/, distant/ then claims/: what dev and test are scored on."""
    return load_pairs(HAND_DIR) + load_pairs(DISTANT_DIR) + load_pairs(CLAIMS_DIR)


def pending_notes() -> set[str]:
    """Ids of the notes that have no judge data yet (PENDING_NOTES_FILE; # starts a comment)."""
    if not PENDING_NOTES_FILE.is_file():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in PENDING_NOTES_FILE.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def note_splits(notes) -> dict[str, str]:
    """note id -> train/dev/test. Within each track, notes are ordered by a hash of their id and the
    first 15% go to test, the next 15% to dev: stable when notes are added elsewhere, and every track
    is represented in every split."""
    by_track: dict[str, list[str]] = defaultdict(list)
    for note in sorted(set(notes)):
        by_track[note.split("-", 1)[0]].append(note)
    split = {}
    for track_notes in by_track.values():
        ordered = sorted(track_notes, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        n_test = max(1, round(len(ordered) * TEST_SHARE))
        n_dev = max(1, round(len(ordered) * DEV_SHARE))
        for i, note in enumerate(ordered):
            split[note] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return split


def split_pairs(pairs: list[JudgePair], notes=None) -> dict[str, list[JudgePair]]:
    """Pairs by split; `notes` (default: the pairs' own) are the notes the split is drawn over, so that a
    folder covering only some notes splits them as the hand pairs' notes are split."""
    split = note_splits(notes if notes is not None else (p.note for p in pairs))
    out: dict[str, list[JudgePair]] = {s: [] for s in SPLITS}
    for pair in pairs:
        out[split[pair.note]].append(pair)
    return out


@dataclass(frozen=True)
class MisconceptionSentences:
    """One bank misconception (claim and correction, verbatim) with a candidate's sentences about it."""

    id: str                      # <question id>-m<n>
    question_id: str
    claim: str
    correction: str
    says: tuple[str, ...]        # sentences that commit the misconception
    corrects: str                # a sentence that states the correction

    @property
    def split(self) -> str:
        return question_split(self.question_id)


def question_split(question_id: str) -> str:
    """train/dev/test for the misconception sentences: by a hash of the question id, 15% test, 15% dev."""
    bucket = int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 100
    return "test" if bucket < 100 * TEST_SHARE else "dev" if bucket < 100 * (TEST_SHARE + DEV_SHARE) else "train"


def load_misconception_sentences(folder: Path = MISCONCEPTIONS_DIR) -> list[MisconceptionSentences]:
    out, seen = [], set()
    for where, row in jsonl_rows(folder, "misconception sentences"):
        try:
            says = tuple(str(s).strip() for s in row["says"])
            item = MisconceptionSentences(str(row["id"]), str(row["question_id"]), str(row["claim"]).strip(),
                                          str(row["correction"]).strip(), says, str(row["corrects"]).strip())
        except (KeyError, TypeError) as problem:
            raise UsageError(f"{where}: missing or malformed field ({problem})") from None
        if not item.claim or not item.correction or not item.corrects or not says or not all(says):
            raise UsageError(f"{where}: empty claim, correction or sentence")
        if item.id in seen:
            raise UsageError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        out.append(item)
    return out
