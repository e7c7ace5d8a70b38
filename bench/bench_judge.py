"""Benchmark the trained judge: warm time to verify a three-sentence cited answer against three real
note chunks, against the raw CrossEncoder.predict on the same (window, sentence) pairs; asserts nothing.

Usage: .venv/bin/python bench/bench_judge.py
"""

from __future__ import annotations

import os
import statistics
import time

os.environ["HF_HUB_OFFLINE"] = "1"

from interview_coach.chunking import chunk_document  # noqa: E402
from interview_coach.corpus import load_valid_corpus  # noqa: E402
from interview_coach.judge import load_judge  # noqa: E402
from interview_coach.judge_data import load_pairs, split_pairs  # noqa: E402
from interview_coach.judge_model import windows  # noqa: E402
from interview_coach.settings import Settings  # noqa: E402
from interview_coach.text import plain, split_sentences  # noqa: E402
from interview_coach.verification import parse_citations, verify  # noqa: E402

ANSWERS = 20


def cases(settings):
    """(answer, sources): three held-out supported statements of a test note, citing its first chunks."""
    notes = {d.id: d for d in load_valid_corpus(settings.corpus_dir).notes}
    by_note: dict[str, list[str]] = {}
    for p in split_pairs(load_pairs())["test"]:
        if p.label == "supports":
            by_note.setdefault(p.note, []).append(p.statement)
    out = []
    for note_id, statements in sorted(by_note.items()):
        chunks = chunk_document(notes[note_id], settings.chunk_size, settings.chunk_overlap)[:3]
        if len(chunks) == 3 and len(statements) >= 3:
            out.append((" ".join(f"{s.rstrip('.')} [{i}]." for i, s in enumerate(statements[:3], 1)),
                        [c.text for c in chunks]))
    return out[:ANSWERS]


def main() -> None:
    settings = Settings.load({})
    judge = load_judge(settings.replace(judge="model"))  # the trained judge, whatever COACH_JUDGE says
    answers = cases(settings)
    verify(*answers[0], judge)  # load the model
    ours = []
    for answer, sources in answers:
        judge.model._cache.clear()  # no help from earlier answers: every answer is new
        start = time.perf_counter()
        verify(answer, sources, judge)
        ours.append(time.perf_counter() - start)
    raw_model = judge.model._load()
    raw = []
    for answer, sources in answers:
        spans = [w for s in sources for w in windows(s)]
        sentences = [parse_citations(s, 3)[0] for s in split_sentences(answer)]
        pairs = [(w, plain(s)) for s in sentences for w in spans]
        start = time.perf_counter()
        raw_model.predict(pairs, batch_size=32, apply_softmax=True, show_progress_bar=False)
        raw.append(time.perf_counter() - start)
    p50, raw_p50 = statistics.median(ours), statistics.median(raw)
    print(f"verify a 3-sentence answer citing 3 note chunks, warm ({'bf16' if judge.model.bf16 else 'fp32'}): "
          f"p50 {p50 * 1000:.0f} ms, max {max(ours) * 1000:.0f} ms over {len(ours)} answers")
    print(f"raw fp32 CrossEncoder.predict on every window pair: p50 {raw_p50 * 1000:.0f} ms  (ours / raw {p50 / raw_p50:.2f}x)")


if __name__ == "__main__":
    main()
