"""Benchmark voice answers on espeak-ng speech; prints numbers, asserts nothing.

On the strong answers of eval/datasets/graded_answers.jsonl spoken by espeak-ng, split in two halves by
position (even: the tuning half the transcript fixes were chosen on; odd: the held-out half, the default):
word error rate and jargon recall of Whisper tiny.en without a prompt, with the key terms alone, with the
question and its key terms (the domain prompt) and with the filler line in front; fillers found in fluent
speech and in answers with fillers inserted (the verbatim pass); the time to transcribe a 60-second answer;
the grade of each spoken answer against the same answer typed, before (key terms, Whisper's text as it
comes) and after (the domain prompt, written as typed); and resident memory with the coach's models and the
transcriber loaded.

Usage: .venv/bin/python bench/bench_voice.py [--home DIR] [--half report|tune|all] [--skip-grades]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np

from interview_coach.coach import Coach
from interview_coach.delivery import count_fillers
from interview_coach.eval.voice import jargon_recall, pooled_wer, word_error_rate
from interview_coach.settings import Settings
from interview_coach.transcribe import (
    FILLER_PROMPT,
    SAMPLE_RATE,
    domain_prompt,
    domain_terms,
    hear_answer,
    load_transcriber,
)

DATASET = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "graded_answers.jsonl"
ESPEAK_WPM = 150
FILLERS = ["Um,", "Uh,", "So, like,", "You know,"]  # one filler each, before every other sentence


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speak(text: str) -> np.ndarray:
    from faster_whisper import decode_audio

    wav = subprocess.run(["espeak-ng", "-s", str(ESPEAK_WPM), "--stdout"], input=text.encode(),
                         capture_output=True, check=True).stdout
    return decode_audio(io.BytesIO(wav), sampling_rate=SAMPLE_RATE)


def strong_answers(half: str = "all") -> list[dict]:
    """The strong answers in file order: all, the tuning half (even positions) or the held-out half (odd)."""
    rows = [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]
    strong = [r for r in rows if r["level"] == "strong"]
    return strong if half == "all" else strong[half == "report"::2]


def with_fillers(text: str) -> tuple[str, int]:
    """The text with a filler before every other sentence, and how many fillers that is."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    out = [f"{FILLERS[i // 2 % 4]} {s[0].lower()}{s[1:]}" if i % 2 == 0 else s for i, s in enumerate(sentences)]
    return " ".join(out), (len(sentences) + 1) // 2


def key_terms(texts) -> str:
    """The domain prompt before the question was added to it: the key terms alone."""
    terms = domain_terms(texts)
    return ", ".join(terms) + "." if terms else ""


def text_pass(transcriber, audio, prompt: str, as_typed: bool = True) -> str:
    transcriber.written = as_typed
    try:
        return transcriber.transcribe(audio, prompt=prompt).text
    except Exception as e:  # noqa: BLE001 - a dropped answer counts as all words deleted
        print(f"    ({type(e).__name__}: {e})")
        return ""
    finally:
        transcriber.written = True


def wer_table(transcriber, rows, audios, corpus) -> dict[str, list[str]]:
    """Transcripts per prompt variant; prints pooled WER, jargon recall and false fillers for each."""
    variants = {"no prompt": ("", True), "key terms, as Whisper writes": (key_terms, False),
                "key terms": (key_terms, True), "question + key terms (default)": (domain_prompt, True),
                "filler line + question + key terms": (lambda q: f"{FILLER_PROMPT} {domain_prompt(q)}", True)}
    out = {}
    for name, (prompt_of, as_typed) in variants.items():
        start = time.perf_counter()
        hyps = [text_pass(transcriber, a, prompt_of(question_texts(corpus, r)) if prompt_of else "", as_typed)
                for r, a in zip(rows, audios)]
        seconds = time.perf_counter() - start
        per = [word_error_rate(r["answer"], h) for r, h in zip(rows, hyps)]
        found, total = map(sum, zip(*(jargon_recall(r["answer"], h) for r, h in zip(rows, hyps))))
        false = sum(sum(count_fillers(h.split()).values()) for h in hyps)
        print(f"  {name:35s} WER {pooled_wer([r['answer'] for r in rows], hyps):.3f} (worst answer "
              f"{max(per):.3f}); jargon {found}/{total}; fillers in fluent speech {false}; {seconds:.0f} s")
        out[name] = hyps
    return out


def question_texts(corpus, row) -> list[str]:
    q = corpus.question(row["question_id"])
    return [q.question, *q.key_points]


def filler_recall(transcriber, rows, corpus) -> None:
    """Fillers inserted before every other sentence: how many the verbatim pass finds, and the false ones."""
    found = inserted = 0
    for row in rows:
        text, n = with_fillers(row["answer"])
        _, delivery = hear_answer(transcriber, speak(text), question_texts(corpus, row))
        found, inserted = found + delivery.fillers, inserted + n
    print(f"fillers found by the verbatim pass in {len(rows)} answers with fillers inserted: {found} of {inserted}")
    fluent = sum(hear_answer(transcriber, speak(r["answer"]), question_texts(corpus, r))[1].fillers for r in rows)
    print(f"fillers reported on the same {len(rows)} answers spoken fluently: {fluent}")


def sixty_seconds(rows) -> np.ndarray:
    audio = np.concatenate([speak(r["answer"]) for r in rows[:4]])
    return audio[:60 * SAMPLE_RATE]


def timing(fn, runs: int = 3) -> str:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return f"median {statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data directory with (or for) the bundled index; default a temp dir")
    parser.add_argument("--half", choices=["report", "tune", "all"], default="report",
                        help="which strong answers: the held-out half (default), the tuning half, or all")
    parser.add_argument("--transcripts", metavar="FILE", help="write every variant's transcripts here as JSON")
    parser.add_argument("--skip-grades", action="store_true", help="skip the typed vs spoken grade comparison")
    parser.add_argument("--memory", action="store_true", help="only the resident memory figure")
    args = parser.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-voice-"))
    settings = Settings.load({}, home=home)
    if args.memory:
        return memory(settings)
    coach = Coach(settings)
    rows = strong_answers(args.half)
    print(f"threads {os.cpu_count()}; espeak-ng at {ESPEAK_WPM} words/min; {len(rows)} strong answers "
          f"({args.half} half)")

    transcriber = load_transcriber(settings)
    before = rss_mb()
    start = time.perf_counter()
    transcriber.transcribe(speak("Warming up the speech model."))
    print(f"first transcription (model load included) {time.perf_counter() - start:.2f} s; "
          f"resident memory {before:.0f} -> {rss_mb():.0f} MiB")

    audio, texts = sixty_seconds(rows), question_texts(coach.corpus, rows[0])
    print("60 s answer, text pass only:", timing(lambda: transcriber.transcribe(audio, prompt=domain_prompt(texts))))
    print("60 s answer, text + verbatim pass (what the coach runs):",
          timing(lambda: hear_answer(transcriber, audio, texts)))

    audios = [speak(r["answer"]) for r in rows]
    print(f"text pass on {len(rows)} answers ({sum(len(a) for a in audios) / SAMPLE_RATE:.0f} s of speech):")
    hyps = wer_table(transcriber, rows, audios, coach.corpus)
    if args.transcripts:
        Path(args.transcripts).write_text(json.dumps({"answers": rows, "transcripts": hyps}, indent=1))
    filler_recall(transcriber, rows[:6], coach.corpus)

    coach.ingest()
    if not args.skip_grades:
        typed = [coach.grade(r["question_id"], r["answer"]).score for r in rows]
        print(f"typed grades: {typed} (mean {statistics.mean(typed):.1f})")
        for name in ("key terms, as Whisper writes", "no prompt", "key terms", "question + key terms (default)"):
            deltas = [coach.grade(r["question_id"], h).score - t for r, h, t in zip(rows, hyps[name], typed)]
            print(f"spoken - typed grade, {name}: mean {statistics.mean(deltas):+.1f}, mean |delta| "
                  f"{statistics.mean(abs(d) for d in deltas):.1f}, worst {min(deltas):+d}, within 15 points "
                  f"{sum(abs(d) <= 15 for d in deltas)}/{len(deltas)}; each: {deltas}")
    # In a fresh process: this one holds every answer's audio and transcripts.
    subprocess.run([sys.executable, __file__, "--home", str(home), "--memory"], check=True)


def memory(settings) -> None:
    """Resident memory with what the UI holds after a spoken answer: embedder, judge, LLM and transcriber."""
    coach = Coach(settings)
    coach.ingest()
    row = strong_answers()[0]
    coach.grade(row["question_id"], row["answer"])
    coach.ask("What is the equal error rate?")
    before = rss_mb()
    hear_answer(load_transcriber(settings), sixty_seconds(strong_answers()[:4]), question_texts(coach.corpus, row))
    print(f"resident memory, embedder + judge + LLM: {before:.0f} MiB; with the transcriber after a 60 s "
          f"answer: {rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
