"""Sentence splitting (text.py): formulas kept whole, and the same sentences under threads (the UI grades
several users' answers at once)."""

from __future__ import annotations

import threading

from interview_coach import text
from interview_coach.corpus import load_corpus
from interview_coach.settings import Settings


def test_sentence_splitting_is_the_same_in_concurrent_threads():
    lines = [text.plain(line) for note in load_corpus(Settings().corpus_dir).notes[:60]
             for line in note.body.splitlines() if len(line) > 200][:240]
    split = text._sentences.__wrapped__  # past the cache, so every call really splits
    expected = {line: split(line) for line in lines}
    wrong: list[str] = []

    def work(share):
        wrong.extend(line for line in share if split(line) != expected[line])

    threads = [threading.Thread(target=work, args=(lines[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lines) > 100 and not wrong, f"{len(wrong)} of {len(lines)} lines split differently: {wrong[:1]}"


def test_split_sentences_returns_a_list_the_caller_may_change():
    first = text.split_sentences("One sentence here. Another one there.")
    first.append("changed")
    assert text.split_sentences("One sentence here. Another one there.") == ["One sentence here.", "Another one there."]


def test_a_formula_with_two_parenthesised_groups_stays_one_sentence():
    # pysbd takes "(p - y)" and "(z)" beside each other for list markers and cut the sentence inside them.
    answer = ("Log loss gives nabla_w = (p - y) x, proportional to the error. "
              "With MSE you pick up a factor sigma'(z) = p(1-p), which is near zero.")
    assert text.split_sentences(answer) == [
        "Log loss gives nabla_w = (p - y) x, proportional to the error.",
        "With MSE you pick up a factor sigma'(z) = p(1-p), which is near zero."]
    assert text.split_sentences("For a stationary series, an AR(p) has a PACF that cuts off after lag p, "
                                "while an MA(q) has an ACF that cuts off after lag q.") == [
        "For a stationary series, an AR(p) has a PACF that cuts off after lag p, "
        "while an MA(q) has an ACF that cuts off after lag q."]


def test_an_unclosed_parenthesis_does_not_swallow_the_sentences_after_it():
    assert text.split_sentences("It is fast (mostly. Then it slows down. Asides (like this one) stay.") == [
        "It is fast (mostly.", "Then it slows down.", "Asides (like this one) stay."]
    assert text.split_sentences("It is fast (see below). (This is an aside.) Next one.") == [
        "It is fast (see below).", "(This is an aside.)", "Next one."]


def test_no_note_sentence_is_cut_inside_a_formula():
    cut = [s for note in load_corpus(Settings().corpus_dir).notes for line in note.body.splitlines()
           for s in text.split_sentences(line.strip()) if line.strip() and s.startswith("(")
           and s[1].isalpha() and s.find(")") in (2, 3)]
    assert not cut, cut[:3]
