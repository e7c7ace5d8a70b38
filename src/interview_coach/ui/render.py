"""Turn the library's plain results (Grade, Answer, Summary, citations) into the chat markdown and
panel HTML the UI shows; pure functions, everything user-supplied is escaped.

No Gradio here and no model calls: the tab modules wire these into components.
"""

from __future__ import annotations

import html
import re

_MARKERS = re.compile(r"\[(\d+)\]")


def esc(text) -> str:
    return html.escape(str(text or ""), quote=True)


def cite(n: int | None, prefix: str = "") -> str:
    """A clickable citation marker; the page script opens source `prefix+n` in the panel beside it.
    The prefix keeps markers of several critiques shown together (interview review) apart."""
    if n is None:
        return ""
    return f'<a class="cite" href="#source-{prefix}{n}" data-n="{prefix}{n}">[{n}]</a>'


def link_markers(escaped: str, prefix: str = "") -> str:
    """Replace plain [n] markers in already-escaped text with clickable ones."""
    return _MARKERS.sub(lambda m: cite(int(m.group(1)), prefix), escaped)


def _quote(text: str, limit: int = 240) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


# -- interview ------------------------------------------------------------------------------------
def question_message(turn) -> str:
    """The coach asking a main question or a follow-up."""
    where = " · ".join(esc(p) for p in (getattr(turn, "track", ""), getattr(turn, "topic", "")) if p)
    if getattr(turn, "kind", "main") == "follow_up":
        head = f"**Follow-up** <small>({where})</small>" if where else "**Follow-up**"
    else:
        head = f"**Question {turn.number} of {turn.total}** <small>({where})</small>"
    return f"{head}\n\n{esc(turn.question)}"


def score_card(grade, delta: int | None = None, previous: int | None = None, prefix: str = "",
               show_follow_up: bool = True) -> str:
    """The critique of one answer: score, covered points with the candidate's own words as evidence,
    missed points and doubtful claims with citation markers, and the follow-up."""
    change = ""
    if delta is not None:
        sign = "+" if delta > 0 else ""
        change = f" <span class='delta'>({sign}{delta} vs {previous if previous is not None else 'before'})</span>"
    lines = [f"<div class='score-card'>\n\n### Score: {int(grade.score)}/100{change}\n"]
    if grade.reason:
        lines.append(f"*{esc(grade.reason)}*\n")
    if grade.covered:
        lines.append("**Covered**\n")
        for p in grade.covered:
            evidence = f' — you said: *“{esc(_quote(p.evidence))}”*' if p.evidence else ""
            lines.append(f"- ✓ {esc(p.point)}{evidence}")
        lines.append("")
    if grade.missed:
        lines.append("**Missed**\n")
        for p in grade.missed:
            excerpt = f' — notes: “{esc(_quote(p.excerpt, 200))}”' if p.excerpt else ""
            lines.append(f"- ✗ {esc(p.point)} {cite(p.citation, prefix)}{excerpt}")
        lines.append("")
    if grade.check_this:
        lines.append("**Check this**\n")
        for c in grade.check_this:
            instead = f' Notes say: “{esc(_quote(c.excerpt, 200))}”' if c.excerpt else ""
            lines.append(f"- ⚠ *“{esc(_quote(c.sentence))}”* — {esc(str(c.reason).rstrip('.'))}.{instead} {cite(c.citation, prefix)}")
        lines.append("")
    if grade.feedback:
        lines.append(f"**Feedback:** {link_markers(esc(grade.feedback), prefix)}\n")
    if grade.follow_up and show_follow_up:  # not when the coach asks it next anyway
        lines.append(f"**Follow-up to think about:** {esc(grade.follow_up)}\n")
    if getattr(grade, "graded_against", "bank") != "bank":
        lines.append(f"<small>graded against: {esc(grade.graded_against)}</small>\n")
    lines.append("</div>")
    return "\n".join(lines)


def summary_message(summary) -> str:
    mean = f"mean score {summary.score:.0f}/100" if summary.score is not None else "no graded answers"
    lines = [f"### Session {summary.session_id} finished · {mean}\n"]
    for turn, grade in summary.turns:
        score = f"{int(grade.score)}/100" if grade is not None else "not graded"
        label = "follow-up" if getattr(turn, "kind", "main") == "follow_up" else f"Q{turn.number}"
        lines.append(f"- **{label}** {esc(_quote(turn.question, 120))} — **{score}**")
    if summary.per_topic:
        lines.append("\n**By topic:** " + ", ".join(f"{esc(t)} {s:.0f}" for t, s in summary.per_topic.items()))
    if summary.weakest:
        lines.append("\n**Weakest:** " + ", ".join(esc(t) for t in summary.weakest))
    if summary.notes_to_read:
        lines.append("\n**Read next:**")
        for note in summary.notes_to_read:
            lines.append(f"- {esc(note.get('title') or note.get('id'))} <small>({esc(note.get('source', ''))})</small>")
    return "\n".join(lines)


def interview_review(summary, prefix_of=lambda k: "") -> list[str]:
    """Interview mode holds feedback until the end: one score card per graded turn (k-th turn's markers
    carry prefix_of(k))."""
    cards = []
    for k, (turn, grade) in enumerate(summary.turns, 1):
        if grade is not None:
            cards.append(f"**Review — {esc(_quote(turn.question, 160))}**\n\n"
                         + score_card(grade, prefix=prefix_of(k), show_follow_up=False))
    return cards


# -- sources panel --------------------------------------------------------------------------------
def sources_panel(items, *, empty: str = "Sources cited by the coach appear here.") -> str:
    """items: dicts with n, title, source, heading, text. Each is a <details> the page script opens."""
    if not items:
        return f"<div class='sources-empty'>{esc(empty)}</div>"
    parts = ["<div class='sources-list'>"]
    for it in items:
        where = esc(it.get("source", ""))
        if it.get("heading"):
            where += f" › {esc(it['heading'])}"
        key = f"{it.get('prefix', '')}{it['n']}"
        parts.append(
            f"<details class='source' data-n='{esc(key)}'>"
            f"<summary><b>[{it['n']}]</b> {esc(it.get('title') or it.get('id', ''))}</summary>"
            f"<div class='source-path'>{where}</div>"
            f"<div class='source-text'>{esc(it.get('text', ''))}</div></details>")
    parts.append("</div>")
    return "".join(parts)


def citation_items(citations, prefix: str = "") -> list[dict]:
    """chunking.Citation list (a grade's citations, or an answer's `[s.citation for s in sources]`) ->
    panel items."""
    return [{"n": c.n, "prefix": prefix, "id": c.id, "title": c.title, "source": c.source,
             "heading": c.heading, "text": c.text} for c in citations]


# -- ask your notes -------------------------------------------------------------------------------
def streaming_text(text: str) -> str:
    """The answer while tokens arrive: escaped, markers clickable, a cursor at the end."""
    return f"<div class='answer streaming'>{link_markers(esc(text))}<span class='cursor'>▍</span></div>"


def verified_answer(answer, *, title: str) -> str:
    """Each sentence shown with its verdict; unsupported ones are struck through and flagged."""
    sentences = answer.sentences or []
    closed = getattr(answer, "mode", "rag") == "closed-book"
    parts = [f"<div class='answer'><div class='answer-title'>{esc(title)}</div>"]
    if not sentences:
        parts.append(f"<p>{link_markers(esc(answer.answer))}</p>")
    for s in sentences:
        # Closed-book answers cite nothing: judge them by whether any retrieved note supports them.
        ok = getattr(s, "content_supported", s.supported) if closed else s.supported
        marks = "".join(cite(n) for n in s.citations)
        if ok:
            parts.append(f"<span class='sent supported'>{esc(s.text)} {marks}</span> ")
        else:
            why = esc(s.reason or "not supported by the notes")
            parts.append(f"<span class='sent unsupported' title='{why}'>⚠ {esc(s.text)} {marks}"
                         f"<small class='why'> ({why})</small></span> ")
    supported = sum(1 for s in sentences if (getattr(s, "content_supported", s.supported) if closed else s.supported))
    verdict = f"{supported}/{len(sentences)} sentences supported by the notes" if sentences else "no sentences"
    extra = " · extractive fallback (the model's answer failed verification)" if getattr(answer, "fallback", False) else ""
    parts.append(f"<div class='answer-meta'>{verdict} · faithfulness {answer.faithfulness:.0%}{extra}</div>")
    for notice in getattr(answer, "notices", []) or []:
        parts.append(f"<div class='notice'>{esc(notice)}</div>")
    parts.append("</div>")
    return "".join(parts)


def model_answer_message(answer) -> str:
    """A model answer in the chat: sentences with their markers; unsupported ones flagged."""
    out = ["<div class='model-answer'>\n\n**Model answer** (from your notes)\n"]
    for s in answer.sentences or []:
        marks = " ".join(cite(n) for n in s.citations)
        text = f"{esc(s.text)} {marks}".strip()
        out.append(text if s.supported else f"⚠ ~~{esc(s.text)}~~ {marks} *(not supported by the notes)*")
    if not answer.sentences:
        out.append(link_markers(esc(answer.answer)))
    if getattr(answer, "fallback", False):
        out.append("*The model's own answer did not hold up against the notes; these are the notes' sentences.*")
    out.append("\n</div>")
    return "\n".join(out)
