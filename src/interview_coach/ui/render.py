"""Turn the library's plain results (Grade, Answer, Summary, citations) into the chat markdown and
panel HTML the UI shows; pure functions, everything user-supplied is escaped.

No Gradio here and no model calls: the tab modules wire these into components.
"""

from __future__ import annotations

import html
import re

from interview_coach.extractive import note_blocks, whole_excerpt

_MARKERS = re.compile(r"\[(\d+)\]")
EXCERPT_CHARS = 320  # a whole sentence of the notes; longer ones end in " …" rather than mid-markdown


def esc(text) -> str:
    return html.escape(str(text or ""), quote=True)


def cite(n: int | None, numbers: dict[int, int] | None = None) -> str:
    """A clickable citation marker; the page script opens source n in the panel beside it. `numbers` maps
    a grade's or answer's own numbering to the session's (chunking.CitationBook); a marker it does not
    know is dropped rather than shown opening nothing."""
    if n is not None and numbers is not None:
        n = numbers.get(n)
    if n is None:
        return ""
    return f'<a class="cite" href="#source-{n}" data-n="{n}">[{n}]</a>'


def link_markers(escaped: str, numbers: dict[int, int] | None = None) -> str:
    """Replace plain [n] markers in already-escaped text with clickable ones."""
    return _MARKERS.sub(lambda m: cite(int(m.group(1)), numbers), escaped)


def cited(answer) -> list:
    """The answer's sources that its shown sentences cite (chunking.Citation list), in source order."""
    used = {n for s in answer.sentences or [] for n in s.citations}
    if not answer.sentences:
        used = {int(n) for n in _MARKERS.findall(answer.answer or "")}
    return [s.citation for s in answer.sources if s.n in used]


def _quote(text: str, limit: int = 240) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


# -- interview ------------------------------------------------------------------------------------
def turn_label(turn) -> str:
    """How the chat names a turn: "Question 2", or "the follow-up to question 1"."""
    if getattr(turn, "kind", "main") == "follow_up":
        return f"the follow-up to question {turn.number}"
    return f"Question {turn.number}"


def about(turn) -> str:
    """What ties a retry or model answer to its question: its label and text."""
    return f"{esc(turn_label(turn))}: *{esc(_quote(turn.question, 160))}*"


def question_message(turn, by_model: bool = False) -> str:
    """The coach asking a main question or a follow-up (`by_model`: the model wrote it from the answer)."""
    where = " · ".join(esc(p) for p in (getattr(turn, "track", ""), getattr(turn, "topic", "")) if p)
    if getattr(turn, "kind", "main") == "follow_up":
        where = " · ".join(p for p in (where, "✍ written by the model from your answer" if by_model else "") if p)
        head = f"**Follow-up to question {turn.number}**" + (f" <small>({where})</small>" if where else "")
    else:
        head = f"**Question {turn.number} of {turn.total}** <small>({where})</small>"
    return f"{head}\n\n{esc(turn.question)}"


def score_card(grade, delta: int | None = None, previous: int | None = None, numbers: dict[int, int] | None = None,
               show_follow_up: bool = True, title: str = "") -> str:
    """The critique of one answer: score, covered points with the candidate's own words as evidence,
    missed points and doubtful claims with citation markers, and the follow-up. `title` (markdown, already
    escaped) names the question when the card is not right under it (a retry)."""
    change = ""
    if delta is not None:
        sign = "+" if delta > 0 else ""
        change = f" <span class='delta'>({sign}{delta} vs {previous if previous is not None else 'before'})</span>"
    lines = ["<div class='score-card'>\n\n" + (f"{title}\n\n" if title else "")
             + f"### Score: {int(grade.score)}/100{change}\n"]
    if getattr(grade, "why", ""):
        lines.append(f"<span class='why'>{esc(grade.why)}</span>\n")
    elif grade.reason:
        lines.append(f"*{esc(grade.reason)}*\n")
    if getattr(grade, "wrong", None):
        lines.append("**Wrong**\n")
        for c in grade.wrong:
            lines.append(f"- ✗ *“{esc(_quote(c.sentence))}”* — {esc(str(c.reason).rstrip('.'))}. "
                         f"**Correction:** {esc(c.excerpt)} {cite(c.citation, numbers)}")
        lines.append("")
    if grade.covered:
        lines.append("**Covered**\n")
        for p in grade.covered:
            evidence = f' — you said: *“{esc(_quote(p.evidence))}”*' if p.evidence else ""
            lines.append(f"- ✓ {esc(p.point)}{evidence}")
        lines.append("")
    passages = {c.n: c.text for c in grade.citations}  # the excerpts are shown as whole, plain sentences
    if grade.missed:
        lines.append("**Missed**\n")
        for p in grade.missed:
            excerpt = whole_excerpt(p.excerpt, passages.get(p.citation, ""))
            excerpt = f' — notes: “{esc(_quote(excerpt, EXCERPT_CHARS))}”' if excerpt else ""
            lines.append(f"- ✗ {esc(p.point)} {cite(p.citation, numbers)}{excerpt}")
        lines.append("")
    if grade.check_this:
        lines.append("**The notes say otherwise**\n")
        for c in grade.check_this:
            excerpt = whole_excerpt(c.excerpt, passages.get(c.citation, ""))
            instead = f' Notes say: “{esc(_quote(excerpt, EXCERPT_CHARS))}”' if excerpt else ""
            lines.append(f"- ⚠ *“{esc(_quote(c.sentence))}”* — {esc(str(c.reason).rstrip('.'))}.{instead} {cite(c.citation, numbers)}")
        lines.append("")
    if grade.feedback:
        lines.append(f"**Feedback:** {link_markers(esc(grade.feedback), numbers)}\n")
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
        label = "follow-up" if getattr(turn, "kind", "main") == "follow_up" else f"Q{turn.number}"
        lines.append(f"- **{label}** {esc(_quote(turn.question, 120))} — {attempts(summary, turn, grade)}")
    if summary.retried:
        lines.append("\n<small>Your first attempt counts for the score and the review schedule; a retry comes "
                     "right after the critique, so it shows what you took in, not what you recalled.</small>")
    if summary.per_topic:
        lines.append("\n**By topic:** " + ", ".join(f"{esc(t)} {s:.0f}" for t, s in summary.per_topic.items()))
    if summary.weakest:
        lines.append("\n**Weakest:** " + ", ".join(esc(t) for t in summary.weakest))
    if summary.notes_to_read:
        lines.append("\n**Read next:**")
        for note in summary.notes_to_read:
            lines.append(f"- {esc(note.get('title') or note.get('id'))} <small>({esc(note.get('source', ''))})</small>")
    return "\n".join(lines)


def attempts(summary, turn, grade) -> str:
    """One turn's result in the summary: skipped, or the first attempt's score and any retry with its delta."""
    if grade is None:
        return "**not answered**"
    if turn.turn_id in summary.skipped:
        return "**skipped**"
    first = int(grade.score)
    if turn.turn_id not in summary.retried:
        return f"**{first}/100**"
    retry = summary.retried[turn.turn_id]
    return f"**{first}/100** first attempt (counts) · retry {retry}/100 ({retry - first:+d})"


def review_card(turn, grade, numbers: dict[int, int] | None = None) -> str:
    """Interview mode holds feedback until the end: the score card of one turn, headed by its question."""
    return (f"**Review — {esc(_quote(turn.question, 160))}**\n\n"
            + score_card(grade, numbers=numbers, show_follow_up=False))


# -- sources panel --------------------------------------------------------------------------------
def sources_panel(notes, *, empty: str = "Sources cited by the coach appear here.") -> str:
    """notes: chunking.CitedNote list (a CitationBook's). Each note is one <details> the page script opens,
    holding every passage of it that was cited."""
    if not notes:
        return f"<div class='sources-empty'>{esc(empty)}</div>"
    parts = ["<div class='sources-list'>"]
    for note in notes:
        parts.append(f"<details class='source' data-n='{note.n}'>"
                     f"<summary><b>[{note.n}]</b> {esc(note.title or note.source)}</summary>"
                     f"<div class='source-path'>{esc(note.source)}</div>")
        for c in note.passages:
            heading = f"<div class='source-heading'>{esc(c.heading)}</div>" if c.heading else ""
            text = "\n".join(note_blocks(c.text))  # plain text, one line per paragraph or list item
            parts.append(f"<div class='passage' data-chunk='{esc(c.id)}'>{heading}"
                         f"<div class='source-text'>{esc(text)}</div></div>")
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


# -- ask your notes -------------------------------------------------------------------------------
DRAFT_LABEL = "Drafting — not yet verified"


def draft(text: str) -> str:
    """The model's text while it arrives, in a box marked provisional: nothing in it has been checked
    against the notes yet, so it is never shown as the answer, and its [n] markers are not links."""
    body = esc(text) or "<i>waiting for the model…</i>"
    return (f"<div class='provisional'><div class='provisional-label'>⏳ {DRAFT_LABEL}</div>"
            f"<div class='draft'>{body}<span class='cursor'>▍</span></div></div>")


def streaming_text(text: str) -> str:
    """The Ask tab's answer area while tokens arrive: the provisional draft."""
    return f"<div class='answer streaming'>{draft(text)}</div>"


def verified_answer(answer, *, title: str, numbers: dict[int, int] | None = None) -> str:
    """Each sentence shown with its verdict; unsupported ones are struck through and flagged."""
    sentences = answer.sentences or []
    closed = getattr(answer, "mode", "rag") == "closed-book"
    parts = [f"<div class='answer'><div class='answer-title'>{esc(title)}</div>"]
    if not sentences:
        parts.append(f"<p>{link_markers(esc(answer.answer), numbers)}</p>")
    for s in sentences:
        # Closed-book answers cite nothing: judge them by whether any retrieved note supports them.
        ok = getattr(s, "content_supported", s.supported) if closed else s.supported
        marks = "".join(cite(n, numbers) for n in s.citations)
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


def model_answer_head(turn) -> str:
    """The model answer's heading: which question it answers (after a skip, not the one on screen)."""
    return f"**Model answer to {esc(turn_label(turn))}** (from your notes)\n\n{about(turn)}\n"


def model_answer_message(answer, turn, numbers: dict[int, int] | None = None) -> str:
    """A model answer in the chat: sentences with their markers; unsupported ones flagged."""
    out = [f"<div class='model-answer'>\n\n{model_answer_head(turn)}"]
    for s in answer.sentences or []:
        marks = " ".join(cite(n, numbers) for n in s.citations)
        text = f"{esc(s.text)} {marks}".strip()
        out.append(text if s.supported else f"⚠ ~~{esc(s.text)}~~ {marks} *(not supported by the notes)*")
    if not answer.sentences:
        out.append(link_markers(esc(answer.answer), numbers))
    if getattr(answer, "fallback", False):
        out.append("*The model's own answer did not hold up against the notes; these are the notes' sentences.*")
    out.append("\n</div>")
    return "\n".join(out)


CRITIQUE_HEAD = "**Coach's critique**"


def critique_message(written) -> str:
    """The critique under a score card: the model's sentences that the grade's facts support, each with
    the [n] of its fact (listed below), and what was dropped; or the grader's own feedback."""
    if not written.by_model:
        dropped = f" <small>(the model's critique did not hold up: {len(written.sentences) - written.kept} of " \
                  f"{len(written.sentences)} sentences unsupported)</small>" if written.sentences else ""
        return f"<div class='critique'>\n\n{CRITIQUE_HEAD} <small>· the grader's feedback</small>{dropped}\n\n" \
               f"{esc(written.text)}\n\n</div>"
    body = []
    for s in written.sentences:
        if s.supported:
            marks = "".join(f"<sup class='fact'>[{n}]</sup>" for n in s.citations)
            body.append(f"{esc(s.text)}{marks}")
    dropped = len(written.sentences) - written.kept
    note = f" · {dropped} unsupported sentence(s) dropped" if dropped else ""
    facts = "\n".join(f"- [{f.n}] {esc(f.text)}" for f in written.facts)
    return (f"<div class='critique'>\n\n{CRITIQUE_HEAD} <small>· ✍ written by the model, "
            f"✓ each sentence checked against the grade{note}</small>\n\n" + " ".join(body)
            + f"\n\n<details><summary>The facts it cites</summary>\n\n{facts}\n\n</details>\n\n</div>")
