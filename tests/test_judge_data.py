"""The judgement models' hand-written training data (training/judge/data/hand/, distant/, claims/,
reversals/ and misconceptions/): every note has pairs, every premise is its note's own text, every pair was second-read, every
twin answers a contradiction, every distant premise has a wrong and a right statement, every note has
reworded claims, every training note has reversals (and no dev or test note has any), and the split keeps
whole notes apart; every bank misconception outside the graded questions has sentences in other words,
split by question. No model is loaded."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from interview_coach.corpus import load_corpus
from interview_coach.eval.data import load_graded, read_jsonl
from interview_coach.judge_data import (CLAIMS_DIR, DISTANT_DIR, HAND_DIR, LABELS, MISCONCEPTIONS_DIR, REVERSALS_DIR,
                                        load_all_pairs, load_misconception_sentences, load_pairs, note_splits,
                                        pending_notes, split_pairs)
from interview_coach.settings import Settings
from interview_coach.text import plain


def read_rows(folder) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.jsonl")):
        for _, row in read_jsonl(path):
            out[row["id"]] = {**row, "file": path.name}
    return out


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    return read_rows(HAND_DIR)


@pytest.fixture(scope="module")
def distant() -> dict[str, dict]:
    return read_rows(DISTANT_DIR)


@pytest.fixture(scope="module")
def claims() -> dict[str, dict]:
    return read_rows(CLAIMS_DIR)


@pytest.fixture(scope="module")
def reversals() -> dict[str, dict]:
    return read_rows(REVERSALS_DIR)


@pytest.fixture(scope="module")
def notes() -> dict[str, str]:
    """Every note with judge data: all but the pending ones (checked below)."""
    corpus, pending = load_corpus(Settings().corpus_dir), pending_notes()
    return {n.id: plain_lines(n.body) for n in corpus.notes if n.id not in pending}


def test_pending_notes_are_corpus_notes_without_any_pairs(rows, distant, claims, reversals):
    """The pending list names real notes and only notes that have no data yet, so it cannot hide a note
    whose pairs exist or an id with a typo."""
    pending = pending_notes()
    assert pending <= {n.id for n in load_corpus(Settings().corpus_dir).notes}
    with_data = {row["note"] for folder in (rows, distant, claims, reversals) for row in folder.values()}
    assert not pending & with_data, sorted(pending & with_data)


def plain_lines(text: str) -> str:
    """Each line as plain text (a premise that spans two list items keeps its line break), one space between."""
    return " ".join(plain(line) for line in text.splitlines())


def repeats_five_words(sentence: str, source: str) -> bool:
    """`sentence` repeats five words running from `source` (as plain text, case folded)."""
    source_words, sentence_words = (re.findall(r"[a-z0-9]+", plain(text).lower()) for text in (source, sentence))
    runs = {tuple(source_words[i:i + 5]) for i in range(len(source_words) - 4)}
    return any(tuple(sentence_words[i:i + 5]) in runs for i in range(len(sentence_words) - 4))


def copies_five_words(row) -> bool:
    """The statement repeats five words running from its premise."""
    return repeats_five_words(row["statement"], row["premise"])


def assert_answers_its_contradiction(twin, rows) -> dict:
    """A twin is `supports`, on its contradiction's premise, and says something else; returns the contradiction."""
    original = rows.get(twin["twin_of"])
    assert original is not None and original["label"] == "contradicts", twin["id"]
    assert twin["label"] == "supports" and twin["premise"] == original["premise"], twin["id"]
    assert twin["statement"] != original["statement"], twin["id"]
    return original


def test_every_note_has_pairs_of_all_three_labels(rows, notes):
    labels = defaultdict(Counter)
    for row in rows.values():
        labels[row["note"]][row["label"]] += 1
    assert set(labels) == set(notes), f"notes without pairs: {sorted(set(notes) - set(labels))[:5]}"
    thin = {note: dict(c) for note, c in labels.items() if any(c[label] < 3 for label in LABELS)}
    assert not thin, f"notes short of a label: {list(thin.items())[:3]}"


def test_every_premise_is_copied_from_its_note(rows, distant, claims, reversals, notes):
    strays = [row["id"] for row in [*rows.values(), *distant.values(), *claims.values(), *reversals.values()]
              if plain_lines(row["premise"]) not in notes[row["note"]]]
    assert not strays, f"premises not found verbatim in their note: {strays[:5]}"


def test_every_pair_was_second_read(rows, distant, claims, reversals):
    assert not [i for i, row in {**rows, **distant, **claims, **reversals}.items() if row.get("reviewed") is not True][:5]


CLAIM_KINDS = {"reworded": "supports", "negation": "contradicts", "swapped-role": "contradicts",
               "wrong-number": "contradicts", "wrong-method": "contradicts", "outside-context": "neither"}


def test_every_note_has_claims_half_of_them_supported(rows, distant, claims, notes):
    """claims/: per note four reworded supports, three contradictions in other words and one on-topic fact
    the premise does not settle; no statement copies five words running from its premise."""
    assert set(claims) and not set(claims) & (set(rows) | set(distant)), "claim ids must be new"
    per_note = defaultdict(Counter)
    for row in claims.values():
        assert CLAIM_KINDS.get(row["kind"]) == row["label"], row["id"]
        assert not copies_five_words(row), row["id"]
        per_note[row["note"]][row["label"]] += 1
    assert set(per_note) == set(notes), f"notes without claims: {sorted(set(notes) - set(per_note))[:5]}"
    odd = {note: dict(c) for note, c in per_note.items() if c != Counter(supports=4, contradicts=3, neither=1)}
    assert not odd, list(odd.items())[:3]


def test_every_distant_premise_has_a_wrong_and_a_right_statement(rows, distant, notes):
    """distant/: per note, premises each with one statement a candidate gets wrong in other words
    (contradicts) and one they get right in other words (supports), so wording is no cue for the label."""
    assert set(distant) and not set(distant) & set(rows), "distant ids must be new"
    by_premise = defaultdict(list)
    for row in distant.values():
        assert (row["kind"], row["label"]) in {("distant-wrong", "contradicts"), ("distant-paraphrase", "supports")}, row["id"]
        assert row["statement"].strip() != row["premise"].strip(), row["id"]
        by_premise[(row["note"], row["premise"])].append(row["label"])
    assert {note for note, _ in by_premise} == set(notes), "notes without distant pairs"
    unbalanced = [key for key, labels in by_premise.items() if labels.count("contradicts") != labels.count("supports")]
    assert not unbalanced, unbalanced[:3]


REVERSAL_KINDS = {"swapped-role", "wrong-direction", "reversed-cause", "wrong-method", "wrong-number"}


def test_every_training_note_has_reversals_each_with_a_twin_in_its_voice(rows, distant, claims, reversals):
    """reversals/: per training note three contradictions that turn one fact around in another voice, each
    with a correct twin (same premise, same voice); no statement copies five words running from its
    premise; no dev or test note has any, so dev and test are the same pairs for every recipe."""
    assert set(reversals) and not set(reversals) & (set(rows) | set(distant) | set(claims)), "reversal ids must be new"
    split = note_splits({row["note"] for row in rows.values()})
    per_note = defaultdict(Counter)
    for row in reversals.values():
        assert split[row["note"]] == "train", row["id"]
        assert not copies_five_words(row), row["id"]
        if row["label"] == "supports":
            original = assert_answers_its_contradiction(row, reversals)
            assert row["kind"] == "voice-twin" and row["voice"] == original["voice"], row["id"]
        else:
            assert row["label"] == "contradicts" and row["kind"] in REVERSAL_KINDS, row["id"]
        per_note[row["note"]][row["label"]] += 1
    training_notes = {note for note, name in split.items() if name == "train"}
    assert set(per_note) == training_notes, f"training notes without reversals: {sorted(training_notes - set(per_note))[:5]}"
    odd = {note: dict(c) for note, c in per_note.items() if c != Counter(supports=3, contradicts=3)}
    assert not odd, list(odd.items())[:3]


def test_every_twin_states_right_what_its_contradiction_states_wrong(rows):
    twins = [row for row in rows.values() if "twin_of" in row]
    assert twins
    for twin in twins:
        assert_answers_its_contradiction(twin, rows)


def test_the_split_keeps_whole_notes_apart_and_covers_every_track():
    splits = split_pairs(load_all_pairs())
    hand_test = {p.note for p in split_pairs(load_pairs())["test"]}
    assert {p.note for p in split_pairs(load_pairs(DISTANT_DIR))["test"]} <= hand_test
    assert {p.note for p in split_pairs(load_pairs(CLAIMS_DIR), {p.note for p in load_pairs()})["test"]} <= hand_test
    notes = {name: {p.note for p in pairs} for name, pairs in splits.items()}
    assert not (notes["train"] & notes["dev"]) and not (notes["train"] & notes["test"]) and not (notes["dev"] & notes["test"])
    tracks = {name: {p.track for p in pairs} for name, pairs in splits.items()}
    assert tracks["dev"] == tracks["test"] == tracks["train"]


def test_every_misconception_outside_the_graded_questions_has_sentences_written_in_other_words():
    corpus = load_corpus(Settings().corpus_dir)
    graded = {answer.question_id for answer in load_graded()}
    bank = {f"{q.id}-m{i}": (q.id, m) for q in corpus.questions if q.id not in graded
            for i, m in enumerate(q.misconceptions, start=1)}
    lines = read_rows(MISCONCEPTIONS_DIR)
    assert set(lines) == set(bank), (sorted(set(bank) - set(lines))[:5], sorted(set(lines) - set(bank))[:5])
    for item in load_misconception_sentences():
        question_id, listed = bank[item.id]
        assert item.question_id == question_id and item.claim == listed.claim.strip(), item.id
        assert item.correction == listed.correction.strip(), item.id
        assert len(item.says) == 2 and item.says[0] != item.says[1], item.id
        for sentence in item.says + (item.corrects,):
            assert not repeats_five_words(sentence, item.claim), (item.id, sentence)
            assert not repeats_five_words(sentence, item.correction), (item.id, sentence)
        assert lines[item.id]["reviewed"] is True, item.id


def test_the_misconception_split_keeps_whole_questions_apart():
    items = load_misconception_sentences()
    by_split = defaultdict(set)
    for item in items:
        by_split[item.split].add(item.question_id)
    assert set(by_split) == {"train", "dev", "test"}
    assert not (by_split["train"] & by_split["dev"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["dev"] & by_split["test"])
    share = {name: len(questions) / sum(map(len, by_split.values())) for name, questions in by_split.items()}
    assert 0.08 < share["test"] < 0.25 and 0.08 < share["dev"] < 0.25, share
