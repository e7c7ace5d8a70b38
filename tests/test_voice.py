"""Voice answers: delivery metrics, word error rate, the domain prompt, bad audio refused with one line, spoken
answers stored with their delivery (and old databases upgraded), and, on the real Whisper tiny.en, `coach
transcribe` on espeak-ng speech, delivery on a recording with inserted pauses and fillers, and grading from audio."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import wave

import numpy as np
import pytest
from conftest import coach_command

from interview_coach import store as store_module
from interview_coach.delivery import Delivery, count_fillers, long_pauses, measure
from interview_coach.eval.voice import (
    jargon_recall,
    normalise_words,
    pooled_wer,
    word_error_rate,
)
from interview_coach.spoken_text import follow_pauses, silences, small_numbers_as_words
from interview_coach.transcribe import (
    AudioError,
    Word,
    domain_prompt,
    domain_terms,
    hear_answer,
    load_audio,
)

RATE = 16_000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="needs Debian's espeak-ng (`make test` installs it)")

STRONG = ("The dot product of two vectors with unit variance components has variance d k, so the logits grow "
          "with the dimension. Large logits saturate the softmax, and a saturated softmax gives vanishing "
          "gradients. Dividing by the square root of d k brings the variance back to one.")


def words(*timed) -> list[Word]:
    return [Word(w, s, e) for w, s, e in timed]


def write_wav(path, samples: np.ndarray, rate: int = RATE):
    """16-bit mono WAV with the standard library."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speak(text: str, wpm: int = 150) -> np.ndarray:
    """espeak-ng's voice reading `text`, as 16 kHz mono float32."""
    from faster_whisper import decode_audio

    wav = subprocess.run(["espeak-ng", "-s", str(wpm), "--stdout"], input=text.encode(), capture_output=True,
                         check=True, timeout=60).stdout
    return decode_audio(io.BytesIO(wav), sampling_rate=RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


# -- delivery metrics (pure) ----------------------------------------------------------------------------


def test_delivery_counts_pace_fillers_pauses_and_length():
    spoken = words(("So,", 0.0, 0.4), ("um,", 0.5, 0.7), ("models", 3.5, 3.9), ("like", 4.0, 4.2),
                   ("BERT,", 4.2, 4.6), ("like,", 4.7, 4.9), ("uh", 5.0, 5.2), ("you", 5.3, 5.4), ("know,", 5.4, 5.6),
                   ("you", 5.7, 5.8), ("know", 5.8, 6.0), ("the", 6.0, 6.1), ("answer.", 6.1, 6.5))
    d = measure(spoken)
    assert d.words == 13 and d.speaking_s == 6.5 and d.wpm == pytest.approx(13 / 6.5 * 60, abs=0.1)
    # "models like BERT" and "you know the answer" are words, not fillers.
    assert d.filler_words == {"um": 1, "like": 1, "uh": 1, "you know": 1} and d.fillers == 4
    assert d.fillers_per_min == pytest.approx(4 / 6.5 * 60, abs=0.01)
    assert [(p.start, p.seconds) for p in d.long_pauses] == [(0.7, 2.8)]
    assert d.length == "short" and d.target_s == (60.0, 120.0)
    assert d.summary().startswith("120 words/min · 4 fillers (36.9/min: ")
    assert "1 pause over 2 s · spoke 0:06 (target 1:00-2:00)" in d.summary()
    assert any("short" in note for note in d.advice()) and any("fillers a minute" in n for n in d.advice())
    assert Delivery.from_dict(json.loads(json.dumps(d.to_dict()))) == d


def test_delivery_on_target_and_empty():
    # 150 words over 75 s, evenly spaced, no pauses: on target, nothing to advise.
    even = [{"word": "word", "start": i * 0.5, "end": i * 0.5 + 0.4} for i in range(150)]
    d = measure(even)
    assert d.length == "on target" and d.wpm == pytest.approx(120.0, abs=0.5) and not d.long_pauses
    assert d.advice() == []
    assert measure([]).words == 0 and measure([]).length == "short"
    assert count_fillers(["Umm,", "erm", "I", "like", "it."]) == {"umm": 1, "erm": 1}
    assert count_fillers(["Uh,", "uh,", "uh,", "uh,", "so", "uh"]) == {"uh": 2}  # a loop counts once
    # Timing from the text pass, fillers from the verbatim pass.
    said = measure(words(("the", 0, 1), ("point", 1, 2)), verbatim=words(("Um,", 0, 0.2), ("the", 0.2, 1)))
    assert said.words == 2 and said.filler_words == {"um": 1}
    assert long_pauses(words(("a", 0, 1), ("b", 3.0, 3.5)), threshold=2.0) == []  # exactly 2 s is not "over"


# -- word error rate and the domain prompt ---------------------------------------------------------------


def test_word_error_rate_counts_edits_over_reference_words():
    assert word_error_rate("The cat sat.", "the cat sat") == 0
    assert word_error_rate("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert word_error_rate("a b c", "a c") == pytest.approx(1 / 3)         # one deletion
    assert word_error_rate("a b", "a x b y") == pytest.approx(2 / 2)       # two insertions
    assert word_error_rate("", "") == 0 and word_error_rate("", "noise") == 1
    assert normalise_words("ECAPA-TDNN's d_k, 1% and 0.5") == ["ecapa", "tdnn's", "d", "k", "1", "percent",
                                                                "and", "0.5"]
    assert word_error_rate("under one percent, four times", "under 1%, 4 times") == 0


def test_domain_prompt_holds_the_question_jargon():
    terms = domain_terms(["Why divide by sqrt(d_k)? Compare LayerNorm and BatchNorm on unit-variance inputs.",
                          "EER is where FAR equals FRR; ECAPA-TDNN and L2 norms, 80-10-10. It is fine."])
    assert terms == ["d_k", "LayerNorm", "BatchNorm", "EER", "FAR", "FRR", "ECAPA-TDNN", "L2", "80-10-10"]
    # The question as asked, then the key terms of question and rubric; no terms, no list.
    assert domain_prompt(["Define  the EER.", "EER is where FAR equals FRR"]) == "Define the EER. EER, FAR, FRR."
    assert domain_prompt(["plain words?"]) == "plain words?" and domain_prompt([]) == ""


def test_pooled_wer_weighs_answers_by_length_and_jargon_recall_counts_terms():
    assert pooled_wer(["a b c d", "e f"], ["a b c d", "x y"]) == pytest.approx(2 / 6)
    assert jargon_recall("The EER on VoxCeleb with ECAPA-TDNN.", "the ER on VoxCeleb with ecapa tdnn") == (2, 3)


# -- a transcript written as typed: numbers and sentence ends -----------------------------------------------------


def raw(*timed) -> list[Word]:
    """Whisper's words as _pass keeps them: each with its leading space."""
    return [Word(w, s, e) for w, s, e in timed]


def text(ws) -> str:
    return "".join(w.word for w in ws).strip()


def test_small_counts_become_words_and_measurements_stay_figures():
    said = raw((" 1", 0, .2), (" term", .2, .5), (" per", .5, .6), (" layer.", .6, 1), (" 4", 1, 1.2),
               (" times", 1.2, 1.5), (" the", 1.5, 1.6), (" data,", 1.6, 2), (" 15%", 2, 2.4), (" and", 2.4, 2.5),
               (" 2", 2.5, 2.7), (" percent,", 2.7, 3), (" 16", 3, 3.2), (" kHz,", 3.2, 3.5), (" toward", 3.5, 3.8),
               (" 1", 3.8, 4), (".5", 4, 4.2), (" n", 4.2, 4.3), (" minus", 4.3, 4.5), (" 1.", 4.5, 4.7))
    assert text(small_numbers_as_words(said)) == ("One term per layer. Four times the data, 15% and 2 percent, 16 kHz, "
                                                  "toward 1.5 n minus one.")
    # Timings are untouched: delivery is measured on the same words.
    assert [(w.start, w.end) for w in small_numbers_as_words(said)] == [(w.start, w.end) for w in said]


def test_sentence_ends_follow_the_pauses():
    said = raw((" the", 0, .2), (" scores", .2, .6), (" grow", .6, 1.0), (" Large", 1.4, 1.8), (" logits.", 1.8, 2.2),
               (" Saturate", 2.25, 2.7), (" the", 2.7, 2.8), (" softmax,", 2.8, 3.2), (" so", 3.6, 3.8),
               (" self", 3.8, 4.0), ("-attention", 4.0, 4.6))
    # A pause after "grow" and after "softmax,"; none at Whisper's full stop after "logits".
    heard = follow_pauses(said, [(1.0, 1.4), (3.2, 3.6)])
    assert text(heard) == "the scores grow. Large logits, saturate the softmax. So self-attention"
    assert follow_pauses(said, []) == said  # no measurable pause (a noisy recording): Whisper's text stands


@needs_espeak
def test_silences_finds_the_pause_at_a_full_stop_in_speech():
    first, second = speak("The scores grow with the dimension."), speak("Large logits saturate the softmax.")
    audio = np.concatenate([first, silence(0.5), second])
    found = silences(audio, RATE)
    # espeak-ng's own trailing silence plus the 0.5 s between the sentences, and nothing inside a sentence.
    inside = [(a, b) for a, b in found if a < len(first) / RATE < b]
    assert len(inside) == 1 and inside[0][1] - inside[0][0] >= 0.5, found
    assert all(b - a >= 0.32 for a, b in found) and silences(silence(1.0), RATE) == []


@needs_espeak
def test_read_aloud_writes_one_wav_per_question(tmp_path):
    from interview_coach.read_aloud import can_read_aloud, read_aloud

    assert can_read_aloud()
    path = read_aloud("  What is the  equal error rate? ", tmp_path)
    with wave.open(str(path)) as f:
        assert f.getnframes() / f.getframerate() > 1.0
    assert read_aloud("What is the equal error rate?", tmp_path) == path and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(AudioError, match="no question to read aloud"):
        read_aloud("   ", tmp_path)


# -- bad input: one line, no model needed ------------------------------------------------------------------


@pytest.fixture
def bad_audio(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(rng.integers(0, 255, 4000,
                                                                                                 dtype=np.uint8)))
    (tmp_path / "empty.wav").write_bytes(b"")
    write_wav(tmp_path / "silent.wav", silence(3))
    # Ten minutes at 8 kHz: refused from the header, before decoding.
    write_wav(tmp_path / "ten-minutes.wav", 0.1 * np.sin(np.arange(600 * 8000) / 8000 * 2 * np.pi * 220), 8000)
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("notes.txt", "unsupported audio type '.txt'"), ("missing.wav", "audio file not found"),
    ("corrupt.wav", "corrupt or not really WAV"), ("empty.wav", "empty.wav is empty"),
    ("silent.wav", "silent.wav is silent"),
    ("ten-minutes.wav", "ten-minutes.wav is 10:00 long; answers are limited to 5:00"),
])
def test_bad_audio_is_refused_with_one_clear_line(bad_audio, name, message, capsys):
    from interview_coach.cli import main

    with pytest.raises(AudioError, match=message):
        load_audio(bad_audio / name)
    assert main(["transcribe", str(bad_audio / name), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err and "Traceback" not in err


# -- stored with the answer; old databases keep working ------------------------------------------------------


def test_delivery_is_stored_with_the_answer_and_old_databases_upgrade(tmp_path, monkeypatch):
    from test_interview import T0

    from interview_coach.store import Store

    with monkeypatch.context() as m:  # a database written before voice answers existed
        m.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
        m.setattr(store_module, "SCHEMA_VERSION", 1)
        with Store(tmp_path / "coach.db") as old:
            sid = old.create_session("practice", {}, ["q1"], T0)
            turn = old.add_turn(sid, question_id="q1", question="Q?", kind="main", number=1, track="t", topic="x",
                                asked_at=T0)
            old.add_answer(turn, "typed before the upgrade", created_at=T0)
    with Store(tmp_path / "coach.db") as s:
        assert s.schema_version == len(store_module.MIGRATIONS) >= 2
        spoken, _ = s.add_answer(turn, "spoken answer", created_at=T0)
        d = measure(words(("spoken", 0.0, 0.5), ("answer", 3.0, 3.5)))
        s.add_delivery(spoken, "spoken answer", d.to_dict())
        rows = s.answers(turn)
        assert [r["delivery"] for r in rows] == [None, d.to_dict()] and rows[0]["text"] == "typed before the upgrade"
        history = s.delivery_history()
        assert [(h["session_id"], h["delivery"]["long_pauses"]) for h in history] == [(sid, [{"start": 0.5,
                                                                                           "seconds": 2.5}])]
    raw = sqlite3.connect(tmp_path / "coach.db").execute("SELECT transcript FROM answers ORDER BY id").fetchall()
    assert raw == [(None,), ("spoken answer",)]


def test_ui_keeps_typed_text_and_stores_delivery_only_for_the_recorded_answer(settings):
    """The UI's voice handlers on a fake grader: failed audio leaves the typed answer alone, a transcript
    is appended (never replaces typing), and the delivery is stored with the answer that used it."""
    import gradio as gr
    from test_interview import fake_coach

    from interview_coach.interview import InterviewSession, SessionConfig
    from interview_coach.store import Store
    from interview_coach.ui.common import Services
    from interview_coach.ui.interview_tab import keep_delivery, merged, on_transcribe
    from interview_coach.ui.state import InterviewTabState

    class Failing:
        def transcribe(self, audio, prompt="", verbatim=False):
            raise AudioError("cannot decode x.wav: the file is corrupt or not really WAV")

    coach = fake_coach(settings)
    services = Services(coach, coach.corpus.questions)
    session = InterviewSession.start(coach, SessionConfig(n_questions=2), store=Store.open(settings))
    p = InterviewTabState(session=session)
    box, voice, note = on_transcribe(services, Failing(), "x.wav", "my typed answer", p)
    assert isinstance(box, type(gr.skip())) and voice is None and "typed answer is unchanged" in note
    assert merged("my typed answer", "heard words") == "my typed answer\n\nheard words"
    assert merged("", "heard words") == "heard words"
    assert merged("a\n\nheard words", "heard words") == "a\n\nheard words"  # the same recording twice

    spoken = {"transcript": "the softmax saturates", "delivery": measure(words(("the", 0, 1))).to_dict()}
    turn = p.session.current
    p.session.answer("A typed answer about something else entirely")
    assert keep_delivery(p, turn, "A typed answer about something else entirely", dict(spoken)) is None
    turn = p.session.current
    p.session.answer("The softmax saturates, I think.")
    voice = dict(spoken)
    kept = keep_delivery(p, turn, "The softmax saturates, I think.", voice)
    assert kept is not None and kept.words == 1 and voice == {}
    assert p.session.store.answers(turn.turn_id)[-1]["delivery"] == spoken["delivery"]


# -- the real model: espeak-ng speech through Whisper tiny.en -------------------------------------------------


@pytest.mark.slow
@needs_espeak
def test_coach_transcribe_on_espeak_speech(tmp_path, coach_env):
    text = "Layer normalisation normalises each token over its own features, so it does not depend on the batch."
    wav = write_wav(tmp_path / "answer.wav", np.concatenate([silence(0.5), speak(text), silence(0.5)]))
    run = subprocess.run(coach_command() + ["transcribe", str(wav), "--json"], capture_output=True, text=True, check=False,
                         env=coach_env, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out) >= {"text", "duration", "words", "delivery"}
    assert word_error_rate(text, out["text"]) <= 0.25, out["text"]
    assert out["duration"] == pytest.approx(len(speak(text)) / RATE + 1.0, abs=0.1)
    assert all(set(w) == {"word", "start", "end"} and w["start"] <= w["end"] for w in out["words"])
    assert [w["start"] for w in out["words"]] == sorted(w["start"] for w in out["words"])
    assert len(out["words"]) == len(out["text"].split())


@pytest.fixture(scope="module")
def transcriber():
    from interview_coach.settings import Settings
    from interview_coach.transcribe import load_transcriber

    return load_transcriber(Settings.load({}))


@pytest.mark.slow
@needs_espeak
def test_delivery_on_a_recording_with_inserted_pauses_and_fillers(transcriber):
    audio = np.concatenate([
        speak("So, the softmax turns the scores into probabilities."), silence(3.0),
        speak("Um, the largest logit takes most of the weight."), silence(2.5),
        speak("Uh, you subtract the maximum first, like, you know, for stability."), silence(0.5)])
    transcript, d = hear_answer(transcriber, audio, ["Why subtract the max in a softmax over logits?"])
    pauses = [p.seconds for p in d.long_pauses]
    # The inserted silence plus espeak-ng's own short silences around each clip.
    assert len(pauses) == 2 and 3.0 <= pauses[0] <= 4.3 and 2.5 <= pauses[1] <= 3.8, (pauses, transcript.words)
    assert d.filler_words.get("um") == 1 and d.filler_words.get("uh") == 1, transcript.text
    assert d.fillers >= 3, transcript.text
    assert d.speaking_s == pytest.approx(len(audio) / RATE - 0.5, abs=1.0)


@pytest.mark.slow
@needs_espeak
def test_transcript_is_written_as_typed(transcriber):
    """Counts as words and one sentence per sentence said, as the grader reads a typed answer."""
    from interview_coach.text import split_sentences

    said = ("The gradient is a product of one term per layer. If the terms are below one, it shrinks. "
            "With four layers it is much smaller.")
    transcript = transcriber.transcribe(speak(said))
    assert not any(ch.isdigit() for ch in transcript.text), transcript.text
    assert len(split_sentences(transcript.text)) == 3, transcript.text
    assert word_error_rate(said, transcript.text) <= 0.2, transcript.text
    assert len(transcript.words) == len(transcript.text.split())


@pytest.mark.slow
@needs_espeak
def test_silence_and_noise_give_one_line_not_invented_words(transcriber, tmp_path):
    noise = (np.random.default_rng(1).standard_normal(4 * RATE) * 0.1).astype(np.float32)
    with pytest.raises(AudioError, match="no speech was recognised"):
        transcriber.transcribe(write_wav(tmp_path / "noise.wav", noise))


@pytest.mark.slow
@needs_espeak
def test_grade_from_audio_matches_the_typed_grade(tmp_path, settings, coach_env, embeddings):
    from interview_coach.coach import Coach

    coach = Coach(settings, embeddings=embeddings)
    coach.ingest()
    typed = coach.grade("q-sqrt-dk", STRONG)
    wav = write_wav(tmp_path / "strong.wav", np.concatenate([speak(STRONG), silence(0.5)]))
    run = subprocess.run(coach_command() + ["grade", "--question", "q-sqrt-dk", "--answer-audio", str(wav), "--json"],
                         capture_output=True, text=True, check=False, env=coach_env, timeout=300)
    assert run.returncode == 0, run.stderr
    spoken = json.loads(run.stdout)
    assert set(spoken) >= {"question_id", "score", "covered", "missed", "transcript", "delivery"}
    assert spoken["answer"] == spoken["transcript"]["text"] and spoken["transcript"]["words"]
    assert spoken["delivery"]["words"] == len(spoken["transcript"]["words"])
    assert typed.score >= 60 and abs(spoken["score"] - typed.score) <= 15, (typed.score, spoken["score"],
                                                                            spoken["answer"])
