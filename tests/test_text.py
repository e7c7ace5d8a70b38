"""Sentence splitting (text.py) under threads: the UI grades several users' answers at once."""

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
