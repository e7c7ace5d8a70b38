"""The Progress tab: scores per track over time, weakest topics, reviews, session history, and resuming
an unfinished session (which switches to the Interview tab)."""

from __future__ import annotations

import gradio as gr

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
        reviews = [[r["question"] or r["question_id"], when(r["due"]), r["last_score"], label]
                   for key, label in (("due", "due now"), ("upcoming", "upcoming")) for r in data[key]]
        sessions = data["sessions"]
        table = [[r["id"], r["mode"], when(r["created_at"]), r["questions"], r["answered"],
                  r["score"] if r["score"] is not None else "", r["status"]] for r in sessions]
        unfinished = [(f"#{r['id']} · {r['mode']} · {when(r['created_at'])} · "
                       f"{r['answered']}/{r['questions']} answered", r["id"])
                      for r in sessions if r["finished_at"] is None]
        return (history_figure(store.main_scores()), weakest or None, reviews or None, table or None,
                gr.update(choices=unfinished, value=unfinished[0][1] if unfinished else None))
    except Exception as e:
        gr.Warning(friendly(e))
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()


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
            p.sources = []
            history = [message("assistant", f"Resumed session {p.session.session_id}.")]
            if p.session.current is not None:
                history.append(message("assistant", render.question_message(p.session.current)))
            else:
                messages, _ = finish_messages(p)
                history += messages
            return (*emit(history, p, {"session_id": p.session.session_id,
                                       "turn": turn_dict(p.session.current)}), gr.Tabs(selected="interview"))
        except Exception as e:
            gr.Warning(friendly(e))
            return (*emit(history, p), gr.skip())


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
        fig.autofmt_xdate()
    else:
        ax.text(0.5, 0.5, "No graded answers yet: finish a practice session to see your progress.",
                ha="center", va="center", transform=ax.transAxes)
    return fig


def wire(ui: Layout, services: Services) -> None:
    v = ui.progress
    refresh = bind(on_progress, services)
    progress_outs = [v.plot, v.weakest, v.reviews, v.sessions, v.unfinished]
    v.refresh.click(refresh, None, progress_outs, api_name="progress")
    v.tab.select(refresh, None, progress_outs, api_visibility="private")
    v.resume.click(bind(on_resume, services), [v.unfinished, ui.interview.chat, ui.practice],
                   outputs(ui) + [ui.tabs], api_name="resume", trigger_mode="once")
