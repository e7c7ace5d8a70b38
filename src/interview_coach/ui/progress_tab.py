"""The Progress tab: scores per track over time, the delivery of spoken answers per session, weakest
topics, reviews, session history, and resuming an unfinished session (which switches to the Interview tab)."""

from __future__ import annotations

import gradio as gr

from interview_coach.chunking import CitationBook
from interview_coach.delivery import FILLERS_PER_MIN_OK, PACE_WPM, TARGET_S
from interview_coach.progress import progress_data

from . import render
from .common import Services, bind, friendly, message, turn_dict
from .interview_tab import emit, finish_messages, outputs
from .layout import Layout
from .state import InterviewTabState

# Rows shown: the weakest topics, reviews due now and upcoming, and sessions in the history table.
LIMITS = {"weakest": 8, "due": 20, "upcoming": 10, "sessions": 50}


def on_progress(services: Services):
    try:
        store = services.store()
        data = progress_data(store, services.questions, **LIMITS)
        weakest = [[t["topic"], t["track"], t["score"], t["n"]] for t in data["weakest"]]
        reviews = [[r["question"] or r["question_id"], when(r["due"]),
                    "skipped" if r["last_skipped"] else r["last_score"], label]
                   for key, label in (("due", "due now"), ("upcoming", "upcoming")) for r in data[key]]
        sessions = data["sessions"]
        table = [[r["id"], r["mode"], when(r["created_at"]), r["questions"], r["answered"], r["skipped"],
                  r["score"] if r["score"] is not None else "", r["status"]] for r in sessions]
        unfinished = [(f"#{r['id']} · {r['mode']} · {when(r['created_at'])} · "
                       f"{r['answered']}/{r['questions']} answered", r["id"])
                      for r in sessions if r["finished_at"] is None]
        return (history_figure(store.main_scores()), delivery_figure(store.delivery_history()),
                weakest or None, reviews or None, table or None,
                gr.update(choices=unfinished, value=unfinished[0][1] if unfinished else None))
    except Exception as e:
        gr.Warning(friendly(e))
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()


def on_resume(services: Services, session_id, history, p):
    from interview_coach.interview import InterviewSession

    p = p or InterviewTabState()
    if session_id in (None, ""):
        gr.Warning("Pick an unfinished session first.")
        return (*emit(history, p), gr.skip())
    with p.step() as claimed:
        if not claimed:
            return (*emit(history, p), gr.skip())
        try:
            p.session = InterviewSession.resume(services.coach, int(session_id), store=services.store())
            p.book = CitationBook()
            history = [message("assistant", f"Resumed session {p.session.session_id}.")]
            if p.session.current is not None:
                history += resumed_turn(p.session)
            else:
                messages, _ = finish_messages(p)
                history += messages
            return (*emit(history, p, {"session_id": p.session.session_id,
                                       "turn": turn_dict(p.session.current)}), gr.Tabs(selected="interview"))
        except Exception as e:
            gr.Warning(friendly(e))
            return (*emit(history, p), gr.skip())


def resumed_turn(session) -> list[dict]:
    """The open question as the chat shows it on resume: a follow-up comes after the original question and
    the answer it follows up on, so that it reads in context."""
    turn = session.current
    main = session.main_turn(turn)
    if main is turn:
        return [message("assistant", render.question_message(turn))]
    answers = session.store.answers(main.turn_id)
    said = [message("user", render.esc(answers[0]["text"]))] if answers and answers[0]["text"] else []
    return [message("assistant", render.question_message(main)), *said,
            message("assistant", render.question_message(turn))]


def when(stamp: str | None) -> str:
    """Stored UTC ISO time -> local 'YYYY-MM-DD HH:MM' for tables."""
    from datetime import datetime

    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def history_figure(scores: list[dict]):
    """Mean first-attempt score per session and track, over time (one marker per session)."""
    from datetime import datetime

    from matplotlib.figure import Figure  # not pyplot: no global state shared between handler threads

    points: dict[str, dict[int, dict]] = {}
    for r in scores:
        p = points.setdefault(r["track"], {}).setdefault(r["session_id"], {"scores": [], "when": r["answered_at"]})
        p["scores"].append(r["score"])
        p["when"] = max(p["when"], r["answered_at"])
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for track, sessions in sorted(points.items()):
        rows = sorted(sessions.values(), key=lambda p: p["when"])
        ax.plot([datetime.fromisoformat(p["when"]).astimezone() for p in rows],
                [sum(p["scores"]) / len(p["scores"]) for p in rows], marker="o", label=track)
    ax.set_ylim(0, 100)
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    if points:
        ax.legend(loc="lower left", fontsize="small")
        date_axis(ax, [datetime.fromisoformat(r["answered_at"]).astimezone() for r in scores])
    else:
        ax.text(0.5, 0.5, "No graded answers yet: finish a practice session to see your progress.",
                ha="center", va="center", transform=ax.transAxes)
    return fig


def date_axis(ax, times: list) -> None:
    """Dates that fit the data: a few points get a range of days around them (matplotlib's default for
    one point spans years), labelled concisely."""
    from datetime import timedelta

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    lo, hi = min(times), max(times)
    pad = max((hi - lo) / 10, timedelta(days=1))
    ax.set_xlim(lo - pad, hi + pad)
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


# What delivery_figure plots: (Delivery field, panel title, the comfortable band shaded, or None).
DELIVERY_PANELS = (("wpm", "words / min", PACE_WPM), ("fillers_per_min", "fillers / min", (0, FILLERS_PER_MIN_OK)),
                   ("long_pauses", "pauses > 2 s", None), ("speaking_s", "speaking time (s)", TARGET_S))


def delivery_figure(rows: list[dict]):
    """Mean delivery of the spoken answers of each session, in session order: one marker per session."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    sessions: dict[int, dict] = {}
    for r in rows:
        s = sessions.setdefault(r["session_id"], {"when": r["answered_at"], "rows": []})
        s["when"] = max(s["when"], r["answered_at"])
        s["rows"].append({**r["delivery"], "long_pauses": len(r["delivery"].get("long_pauses", []))})
    ordered = sorted(sessions.items(), key=lambda item: item[1]["when"])
    ids = [session_id for session_id, _ in ordered]
    fig = Figure(figsize=(9, 2.6), layout="constrained")
    axes = fig.subplots(1, len(DELIVERY_PANELS))
    for ax, (key, title, band) in zip(axes, DELIVERY_PANELS):
        ax.set_title(title, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.grid(alpha=0.3)
        if band:
            ax.axhspan(*band, color="tab:green", alpha=0.12)
        ax.set_xlabel("session number", fontsize="x-small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        if ordered:
            values = [sum(float(r.get(key, 0)) for r in s["rows"]) / len(s["rows"]) for _, s in ordered]
            ax.plot(ids, values, marker="o")
        if key != "wpm":
            ax.set_ylim(bottom=0)
    if not ordered:
        fig.text(0.5, 0.5, "No spoken answers yet: record an answer in the Interview tab.",
                 ha="center", va="center")
    return fig


def wire(ui: Layout, services: Services) -> None:
    v = ui.progress
    refresh = bind(on_progress, services)
    progress_outs = [v.plot, v.delivery_plot, v.weakest, v.reviews, v.sessions, v.unfinished]
    v.refresh.click(refresh, None, progress_outs, api_name="progress")
    v.tab.select(refresh, None, progress_outs, api_visibility="private")
    v.resume.click(bind(on_resume, services), [v.unfinished, ui.interview.chat, ui.practice],
                   outputs(ui) + [ui.tabs], api_name="resume", trigger_mode="once")
