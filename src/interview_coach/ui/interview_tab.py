"""The Interview tab: start, answer (typed, or recorded and transcribed into the answer box), retry, skip,
hint, model answer, end and the question read aloud, over interview.InterviewSession.

Every session handler returns `emit(...)`, so the chat, the sources panel and the Retry / Show model answer
buttons always match the session.
"""

from __future__ import annotations

import gradio as gr

from interview_coach.chunking import CitationBook
from interview_coach.errors import UsageError
from interview_coach.limits import check_answer_length

from . import render
from .common import Services, bind, friendly, message, stream_call, turn_dict
from .layout import ANY, Layout
from .state import InterviewTabState


def outputs(ui: Layout) -> list:
    """What every interview handler returns, in emit's order."""
    v = ui.interview
    return [v.chat, ui.practice, v.sources, v.result, v.answer, v.retry, v.model_answer,
            v.submit, v.skip, v.hint, v.end]


def emit(history, p: InterviewTabState | None, result=None, *, clear_answer=False, answer: str | None = None):
    can_follow_up = bool(p is not None and p.running and p.mode == "practice" and p.attempted)
    # An ended session takes no more answers; with no session yet, Submit explains how to start one.
    can_answer = not (p is not None and p.finished)
    return (history, p, render.sources_panel(p.book.notes if p else []),
            result if result is not None else gr.skip(),
            answer if answer is not None else "" if clear_answer else gr.skip(),
            gr.update(interactive=can_follow_up),
            gr.update(interactive=can_follow_up),
            *(gr.update(interactive=can_answer) for _ in range(4)))


def no_session(history, p):
    history = list(history or []) + [message(
        "assistant", "No session is running. Choose tracks and press **Start** to begin.")]
    return emit(history, p)


def finish_messages(p: InterviewTabState) -> tuple[list[dict], object]:
    """Finish the session: the summary (and, in interview mode, the held feedback) as chat messages."""
    summary = p.session.finish()
    messages = []
    if p.mode == "interview":
        # The held feedback: one score card per answer, its markers numbered in the session's book.
        for turn, grade in summary.turns:
            if grade is not None:
                messages.append(message("assistant", render.review_card(turn, grade, p.book.add(grade.citations))))
    messages.append(message("assistant", render.summary_message(summary)))
    return messages, summary


def on_start(services: Services, tracks_value, difficulty, mode, n, history, p):
    from interview_coach.interview import InterviewSession, SessionConfig

    p = p or InterviewTabState()
    with p.step() as claimed:
        if not claimed:
            yield emit(history, p)
            return
        try:
            note = []
            if p.running:
                note = [message("assistant", f"Session {p.session.session_id} was left unfinished; "
                                             "resume it any time from the Progress tab.")]
            history = note + [message("assistant", "Picking questions…")]
            yield emit(history, p)
            config = SessionConfig(tracks=list(tracks_value or []),
                                   difficulty=None if difficulty in (None, "", ANY) else difficulty,
                                   n_questions=int(n or 3), mode=mode or "practice")
            p.session = InterviewSession.start(services.coach, config, store=services.store())
            p.book = CitationBook()
            turn = p.session.current
            held = " Feedback is held until the end, as in a real interview." if config.mode == "interview" else ""
            history = note + [
                message("assistant", f"Session {p.session.session_id}: {turn.total} question(s), "
                                     f"{config.mode} mode.{held}"),
                message("assistant", render.question_message(turn))]
            final = emit(history, p, {"session_id": p.session.session_id, "turn": turn_dict(turn)},
                         clear_answer=True)
        except Exception as e:
            gr.Warning(friendly(e))
            final = emit(list(history or []) + [message("assistant", f"Could not start: {friendly(e)}")], p)
    yield final


def graded(history, p: InterviewTabState, feedback, *, retry=False, delivery=None):
    """Append the score card (or the held-feedback note) and a spoken answer's delivery; `what_next` follows."""
    grade = feedback.grade
    if grade is not None:
        asked_next = feedback.next_turn is not None and feedback.next_turn.kind == "follow_up" and not retry
        history.append(message("assistant", render.score_card(
            grade, delta=feedback.delta, previous=feedback.previous_score, numbers=p.book.add(grade.citations),
            show_follow_up=not asked_next, title=f"Retry of {render.about(feedback.turn)}" if retry else "")))
        if delivery is not None:
            history.append(message("assistant", delivery_markdown(delivery)))
    else:
        history.append(message("assistant", "Answer recorded. Feedback comes at the end of the interview."))
    if getattr(feedback, "timed_out", False):
        history.append(message("assistant", "That answer came in after the time limit."))
    result = {"session_id": p.session.session_id, "turn": turn_dict(feedback.turn),
              "grade": grade.to_dict() if grade else None,
              "delta": feedback.delta, "previous_score": feedback.previous_score,
              "next": turn_dict(feedback.next_turn)}
    if delivery is not None:
        result["delivery"] = delivery.to_dict()
    return history, result


def what_next(history, p: InterviewTabState, feedback, result: dict):
    """After the card and its critique: the next question (a follow-up the model may rewrite first from the
    answer), or the interview's summary, or the practice session's last-question note."""
    if feedback.next_turn is not None:
        nxt = feedback.next_turn
        by_model = nxt.kind == "follow_up" and p.session.write_follow_up()
        result["next"] = turn_dict(nxt)
        result["follow_up_by_model"] = by_model
        history.append(message("assistant", render.question_message(nxt, by_model=by_model)))
    elif p.mode == "interview":
        messages, summary = finish_messages(p)
        history += messages
        result["summary"] = {"score": summary.score, "per_topic": summary.per_topic,
                             "weakest": summary.weakest}
    else:
        # Practice: the last answer can still be retried or compared before the summary.
        history.append(message("assistant", "That was the last question. **Retry** it, "
                               "**show the model answer**, or press **End session** for your summary."))
    return history, result


def stream_critique(history, p, grade, at: int, result: dict):
    """Stream the model's critique into history[at] (a draft while it arrives), then show what was verified."""
    history.insert(at, message("assistant", render.CRITIQUE_HEAD + "\n" + render.draft("")))
    yield emit(history, p, result)
    for kind, value in stream_call(p.session.critique, grade):
        if kind == "token":
            history[at] = message("assistant", render.CRITIQUE_HEAD + "\n" + render.draft(value))
            yield emit(history, p, result)
        elif kind == "error":  # the score card stands; only the model's words are missing
            history[at] = message("assistant", f"{render.CRITIQUE_HEAD}: {friendly(value)}")
        else:
            history[at] = message("assistant", render.critique_message(value))
            result["critique"] = value.to_dict()
    yield emit(history, p, result)


def answer_step(text, history, p, *, retry: bool, voice=None):
    history = list(history or [])
    if p is None or not p.running:
        yield no_session(history, p)
        return
    text = (text or "").strip()
    if not text and retry and p.attempted:
        # A toast alone was easy to miss: say in the chat what Retry needs and which question it retries.
        asked = render.turn_label(p.session.last_attempted)
        gr.Warning(f"Type your new answer to {asked} first, then press Retry.")
        yield emit(history + [message("assistant", f"To retry {render.esc(asked)}, type your new answer in the "
                                                   "box, then press **Retry**.")], p)
        return
    if not text:
        gr.Warning("Type your answer first, then press Submit.")
        yield emit(history, p)
        return
    try:
        check_answer_length(text)  # the same limit and message as `coach grade`
    except UsageError as e:
        refused = str(e)
        gr.Warning(refused)
        yield emit(history + [message("assistant", refused)], p)
        return
    if retry and p.mode != "practice":
        yield emit(history + [message("assistant", "Retry is for practice mode; in an interview the "
                                                   "first answer counts.")], p)
        return
    with p.step("Still grading your previous answer; one moment.") as claimed:
        if not claimed:
            yield emit(history, p)
            return
        turn = None
        try:
            turn = p.session.last_attempted if retry else p.session.current
            label = f"**Retry of {render.esc(render.turn_label(turn))}:** " if retry else ""
            history += [message("user", label + render.esc(text)),
                        message("assistant", "⏳ Grading your answer against the rubric and your notes…")]
            yield emit(history, p, clear_answer=True)
            try:
                feedback = p.session.retry(text) if retry else p.session.answer(text)
            finally:  # the answer is stored before grading: its delivery is kept even if grading fails
                delivery = keep_delivery(p, turn, text, voice)
            history.pop()
            history, result = graded(history, p, feedback, retry=retry, delivery=delivery)
            # The grade is on screen before the model writes anything: grading never waits for the model.
            yield emit(history, p, result)
            if feedback.grade is not None and feedback.grade.answer:
                for step in stream_critique(history, p, feedback.grade, len(history), result):
                    yield step
            if not retry:
                history, result = what_next(history, p, feedback, result)
            final = emit(history, p, result)
        except Exception as e:
            if history and history[-1]["content"].startswith("⏳"):
                history.pop()
            # An answer that never reached the store (disk full, locked coach.db) goes back into the box,
            # cleared when grading began, so that the candidate can submit it again instead of retyping it.
            back = None if p.session.is_stored(turn, text) else text
            history.append(message("assistant", friendly(e) + (
                " Your answer is back in the answer box: submit it again once this is fixed." if back else "")))
            final = emit(history, p, answer=back)
    yield final  # after the release: the next click is free as soon as the user sees this


def on_answer(text, history, p, voice=None):
    yield from answer_step(text, history, p, retry=False, voice=voice)


def on_retry(text, history, p, voice=None):
    yield from answer_step(text, history, p, retry=True, voice=voice)


# -- voice: a recorded answer becomes editable text; its delivery is stored with the answer -------------

# A recording's delivery belongs to the submitted answer when at least this share of the transcript's
# words is still in it (edits and additions are fine; a different, typed answer is not the recording).
KEPT_WORDS = 0.6


def delivery_markdown(delivery) -> str:
    notes = "".join(f"\n- {render.esc(n)}" for n in delivery.advice())
    return f"**Delivery** {render.esc(delivery.summary())}" + (notes and "\n" + notes)


def question_texts(services: Services, p) -> list[str]:
    """The current question and its rubric, for Whisper's domain prompt (empty with no session)."""
    turn = p.session.current if p is not None and p.running else None
    if turn is None:
        return []
    bank = next((q for q in services.questions if q.id == turn.question_id), None)
    return [turn.question, *(bank.key_points if bank else ())]


def merged(typed: str | None, heard: str) -> str:
    """The transcript after what is already typed: nothing typed is ever replaced."""
    typed = (typed or "").rstrip()
    if not typed or typed.endswith(heard):
        return heard if not typed else typed
    return f"{typed}\n\n{heard}"


def on_transcribe(services: Services, transcriber, audio, typed, p):
    # A recording or upload -> the transcript appended to the answer box (editable before Submit), its
    # delivery shown beside it and held in the voice state until the answer is submitted.
    from interview_coach.transcribe import hear_answer

    if not audio:
        return gr.skip(), gr.skip(), gr.skip()
    try:
        transcript, delivery = hear_answer(transcriber, audio, question_texts(services, p))
    except Exception as e:
        why = friendly(e)
        gr.Warning(why)
        note = "Your typed answer is unchanged." if (typed or "").strip() else "Type your answer, or record again."
        return gr.skip(), None, f"⚠️ {render.esc(why.rstrip('.'))}. {note}"
    voice = {"transcript": transcript.text, "delivery": delivery.to_dict()}
    return merged(typed, transcript.text), voice, delivery_markdown(delivery) + (
        "\n\n*Check the transcript in the answer box, correct it if needed, then press Submit.*")


def keep_delivery(p, turn, text, voice):
    """Store the recording's delivery with the answer just saved for `turn`, when the submitted text is
    still mostly the transcript; returns the Delivery kept (or None). The voice state is used up."""
    from interview_coach.delivery import Delivery
    from interview_coach.eval.voice import normalise_words

    if not voice or turn is None:
        return None
    heard, sent = normalise_words(voice["transcript"]), set(normalise_words(text))
    if not heard or sum(w in sent for w in heard) / len(heard) < KEPT_WORDS:
        return None
    rows = p.session.store.answers(turn.turn_id)
    if not rows or rows[-1]["text"] != text.strip() or rows[-1]["delivery"] is not None:
        return None
    kept = Delivery.from_dict(voice["delivery"])
    p.session.store.add_delivery(rows[-1]["id"], voice["transcript"], voice["delivery"])
    voice.clear()  # one recording, one answer
    return kept


def on_read_aloud(p):
    # The current question as speech (espeak-ng), played by the question audio player.
    from interview_coach.read_aloud import read_aloud

    if p is None or not p.running or p.session.current is None:
        gr.Warning("Start a session first; then the question can be read aloud.")
        return gr.skip()
    try:
        return gr.update(value=str(read_aloud(p.session.current.question)), visible=True)
    except Exception as e:
        gr.Warning(friendly(e))
        return gr.skip()


def simple_step(history, p, action):
    """skip / hint / end: quick library calls with one message back."""
    history = list(history or [])
    if p is None or not p.running:
        return no_session(history, p)
    with p.step() as claimed:
        if not claimed:
            return emit(history, p)
        try:
            return action(history, p)
        except Exception as e:
            history.append(message("assistant", friendly(e)))
            return emit(history, p)


def do_skip(history, p):
    # store and corpus only: no model, so no need to wait for another user's grading
    nxt = p.session.skip()
    history.append(message("assistant", "Skipped."))
    result = {"session_id": p.session.session_id, "next": turn_dict(nxt)}
    if nxt is not None:
        history.append(message("assistant", render.question_message(nxt)))
    else:
        messages, _ = finish_messages(p)
        history += messages
    return emit(history, p, result)


def do_hint(history, p):
    # store and corpus only: no model, so no need to wait for another user's grading
    turn = p.session.current
    hint = p.session.hint()
    history.append(message("assistant", f"**Hint for {render.esc(render.turn_label(turn))}:** {render.esc(hint)}"))
    return emit(history, p, {"hint": hint, "turn": turn_dict(turn)})


def do_end(history, p):
    messages, summary = finish_messages(p)
    history += messages
    return emit(history, p, {"session_id": summary.session_id, "score": summary.score})


def on_skip(history, p):
    return simple_step(history, p, do_skip)


def on_hint(history, p):
    return simple_step(history, p, do_hint)


def on_end(history, p):
    return simple_step(history, p, do_end)


def on_model_answer(history, p):
    # The model's answer to the last attempted question, streamed, then shown verified. (No docstring:
    # an event handler's docstring becomes its API description.)
    history = list(history or [])
    if p is None or not p.running:
        yield no_session(history, p)
        return
    if not p.attempted:
        yield emit(history + [message(
            "assistant", "Answer the question first; the model answer is shown after your attempt.")], p)
        return
    with p.step() as claimed:
        if not claimed:
            yield emit(history, p)
            return
        try:
            turn = p.session.last_attempted  # after a skip, not the question on screen: named in the head
            head = render.model_answer_head(turn)
            history.append(message("assistant", head + "\n" + render.draft("")))
            yield emit(history, p)
            for kind, value in stream_call(p.session.model_answer):
                if kind == "token":
                    history[-1] = message("assistant", head + "\n" + render.draft(value))
                    yield emit(history, p)
                elif kind == "error":
                    raise value
                else:
                    numbers = p.book.add(render.cited(value))
                    history[-1] = message("assistant", render.model_answer_message(value, turn, numbers))
                    final = emit(history, p, {**value.to_dict(), "turn": turn_dict(turn)})
        except Exception as e:
            history[-1] = message("assistant", friendly(e))
            final = emit(history, p)
    yield final


def wire(ui: Layout, services: Services) -> None:
    v = ui.interview
    steps = ((v.start, bind(on_start, services), [v.tracks, v.difficulty, v.mode, v.n_questions], "start"),
             (v.submit, on_answer, [v.answer], "answer"),
             (v.retry, on_retry, [v.answer], "retry"),
             (v.skip, on_skip, [], "skip"),
             (v.hint, on_hint, [], "hint"),
             (v.model_answer, on_model_answer, [], "model_answer"),
             (v.end, on_end, [], "end"))
    for button, handler, inputs, api_name in steps:
        # trigger_mode="once": a double click while the step runs is dropped, not queued. Submit and retry
        # also read the voice state (a State is not part of the API's inputs).
        extra = [v.voice] if api_name in ("answer", "retry") else []
        button.click(handler, inputs + [v.chat, ui.practice] + extra, outputs(ui), api_name=api_name,
                     trigger_mode="once", show_progress="minimal")
    wire_voice(ui, services)


def wire_voice(ui: Layout, services: Services) -> None:
    from interview_coach.transcribe import load_transcriber

    v = ui.interview
    # One transcriber for the app: its model loads on the first recording, once per process.
    transcribe = bind(on_transcribe, services, load_transcriber(services.settings))
    # change: a finished microphone recording and an upload alike (clearing the input gives None: skipped).
    v.audio.change(transcribe, [v.audio, v.answer, ui.practice], [v.answer, v.voice, v.delivery],
                   api_name="transcribe", trigger_mode="always_last", show_progress="minimal")
    v.read_aloud.click(on_read_aloud, [ui.practice], [v.question_audio], api_name="read_aloud",
                       show_progress="minimal")
