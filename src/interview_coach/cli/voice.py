"""`coach transcribe`: a recorded answer to text with word timings and delivery feedback, and the helper
`coach grade --answer-audio` shares with it.

Transcription lives in transcribe.py (written as typed by spoken_text.py), the delivery metrics in delivery.py;
this module only adapts.
"""

from __future__ import annotations

import argparse

from .common import print_json, settings_from


def prompt_texts(coach, question: str | None) -> list[str]:
    """What the domain prompt is built from: a bank question's text and rubric, or free question text."""
    if not question:
        return []
    bank = coach.corpus.question(question.strip())
    return [bank.question, *bank.key_points] if bank is not None else [question]


def spoken_answer(settings, audio: str, texts: list[str], *, domain: bool | None = None):
    """(Transcript, Delivery) of a recorded answer (see transcribe.hear_answer)."""
    from ..transcribe import hear_answer, load_transcriber

    return hear_answer(load_transcriber(settings), audio, texts, domain=domain)


def cmd_transcribe(args) -> int:
    texts = []
    if args.question:
        from .common import coach_from

        texts = prompt_texts(coach_from(args), args.question)
    transcript, delivery = spoken_answer(settings_from(args), args.file, texts, domain=args.domain_prompt)
    if args.json:
        print_json({**transcript.to_dict(), "delivery": delivery.to_dict()})
        return 0
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(escape(transcript.text))
    console.print(f"\n[bold]Delivery[/] {escape(delivery.summary())}")
    for note in delivery.advice():
        console.print(f"  • {escape(note)}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe a recorded answer (offline Whisper) with delivery feedback",
                       description="Transcribe a recorded answer with the bundled Whisper tiny.en (or "
                                   "COACH_WHISPER_MODEL): text, word timings, words per minute, fillers, "
                                   "long pauses and speaking time. WAV, MP3, M4A, OGG, FLAC or WebM, up to 5 minutes.")
    p.add_argument("file", metavar="FILE", help="the recording")
    p.add_argument("--question", metavar="ID_OR_TEXT",
                   help="the question answered: it and its key terms help Whisper spell the jargon")
    p.add_argument("--domain-prompt", action=argparse.BooleanOptionalAction, default=None,
                   help="give Whisper the question and its key terms as its prompt (default: on; see the README)")
    p.add_argument("--json", action="store_true",
                   help='print {"text", "duration", "words": [{"word", "start", "end"}], "delivery"} as JSON')
    p.set_defaults(func=cmd_transcribe)
