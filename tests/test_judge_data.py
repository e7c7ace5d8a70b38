"""The judgement model's hand-written training data (training/judge/data/hand/): every note has pairs,
every premise is its note's own text, every pair was second-read, every twin answers a contradiction,
and the split keeps whole notes apart. No model is loaded."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from interview_coach.corpus import load_corpus
from interview_coach.eval.data import read_jsonl
from interview_coach.judge_data import JUDGE_DATA_DIR, LABELS, load_pairs, split_pairs
from interview_coach.settings import Settings
from interview_coach.text import plain


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    out = {}
    for path in sorted((JUDGE_DATA_DIR / "hand").glob("*.jsonl")):
        for _, row in read_jsonl(path):
            out[row["id"]] = {**row, "file": path.name}
    return out


@pytest.fixture(scope="module")
def notes() -> dict[str, str]:
    corpus = load_corpus(Settings().corpus_dir)
    return {n.id: plain_lines(n.body) for n in corpus.notes}


def plain_lines(text: str) -> str:
    """Each line as plain text (a premise that spans two list items keeps its line break), one space between."""
    return " ".join(plain(line) for line in text.splitlines())


def test_every_note_has_pairs_of_all_three_labels(rows, notes):
    labels = defaultdict(Counter)
    for row in rows.values():
        labels[row["note"]][row["label"]] += 1
    assert set(labels) == set(notes), f"notes without pairs: {sorted(set(notes) - set(labels))[:5]}"
    thin = {note: dict(c) for note, c in labels.items() if any(c[label] < 3 for label in LABELS)}
    assert not thin, f"notes short of a label: {list(thin.items())[:3]}"


def test_every_premise_is_copied_from_its_note(rows, notes):
    strays = [row["id"] for row in rows.values() if plain_lines(row["premise"]) not in notes[row["note"]]]
    assert not strays, f"premises not found verbatim in their note: {strays[:5]}"


def test_every_pair_was_second_read(rows):
    assert not [i for i, row in rows.items() if row.get("reviewed") is not True][:5]


def test_every_twin_states_right_what_its_contradiction_states_wrong(rows):
    twins = [row for row in rows.values() if "twin_of" in row]
    assert twins
    for twin in twins:
        original = rows.get(twin["twin_of"])
        assert original is not None and original["label"] == "contradicts", twin["id"]
        assert twin["label"] == "supports" and twin["premise"] == original["premise"], twin["id"]
        assert twin["statement"] != original["statement"], twin["id"]


def test_the_split_keeps_whole_notes_apart_and_covers_every_track():
    splits = split_pairs(load_pairs())
    notes = {name: {p.note for p in pairs} for name, pairs in splits.items()}
    assert not (notes["train"] & notes["dev"]) and not (notes["train"] & notes["test"]) and not (notes["dev"] & notes["test"])
    tracks = {name: {p.track for p in pairs} for name, pairs in splits.items()}
    assert tracks["dev"] == tracks["test"] == tracks["train"]
