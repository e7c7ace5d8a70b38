"""The Library tab: index status, and coach.ingest of a folder, of uploaded files or of what changed."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from interview_coach.errors import UsageError
from interview_coach.uploads import UPLOAD_DIR, keep_uploads

from . import render
from .common import bind, friendly
from .layout import Layout


def status_text(coach) -> str:
    st = coach.index.status()
    roots = st.get("roots") or []
    extra = "\n\nYour folders: " + ", ".join(f"`{r}`" for r in roots) if roots else ""
    return (f"**{st['documents']} documents, {st['chunks']} chunks** in `{st['index_dir']}` · "
            f"last ingest: {st['last_ingest'] or 'never'}{extra}")


def on_status(coach):
    try:
        return status_text(coach)
    except Exception as e:
        return f"Index status unavailable: {friendly(e)}"


def reindex(coach, paths, progress) -> str:
    progress(0, desc="Checking for changes")

    def update(done, total):
        if total:
            progress((done, total), desc="Embedding", unit="chunks")

    report = coach.ingest(paths, progress=update)
    skipped = "".join(f"\n- skipped: {render.esc(s)}" for s in report.skipped)
    return (f"Indexed {report.documents} documents, {report.chunks} chunks ({report.added} added, "
            f"{report.updated} updated, {report.removed} removed, {report.unchanged} unchanged) "
            f"in {report.seconds:.1f}s.{skipped}")


def on_add_folder(coach, folder, progress=gr.Progress()):
    folder = (folder or "").strip()
    if not folder:
        gr.Warning("Type the path of a folder of .md/.txt notes first.")
        return gr.skip(), gr.skip()
    try:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UsageError(f"{path} is not a folder on the machine running the coach")
        return reindex(coach, [path], progress), status_text(coach)
    except Exception as e:
        gr.Warning(friendly(e))
        return friendly(e), gr.skip()


def on_upload(coach, files, progress=gr.Progress()):
    if not files:
        gr.Warning("Choose one or more .md or .txt files first.")
        return gr.skip(), gr.skip()
    try:
        # Type, size and name are checked there: nothing is written outside COACH_HOME/uploads.
        kept = keep_uploads(files, coach.settings.home)
        for line in kept.refused:
            gr.Warning(f"{line} (not added)")
        refused = "".join(f"\n- not added: {render.esc(line)}" for line in kept.refused)
        if not kept.names:
            return "Nothing to add." + refused, gr.skip()
        added = f"Added {', '.join(render.esc(n) for n in kept.names)}.{refused}\n\n"
        return added + reindex(coach, [coach.settings.home / UPLOAD_DIR], progress), status_text(coach)
    except Exception as e:
        gr.Warning(friendly(e))
        return friendly(e), gr.skip()


def on_reindex(coach, progress=gr.Progress()):
    try:
        return reindex(coach, [], progress), status_text(coach)
    except Exception as e:
        gr.Warning(friendly(e))
        return friendly(e), gr.skip()


def wire(ui: Layout, app, coach) -> None:
    v = ui.library
    outs = [v.report, v.status]
    # One ingest at a time across all users: they write the same index.
    for button, handler, inputs, api_name in ((v.add_folder, on_add_folder, [v.folder], "add_folder"),
                                              (v.add_files, on_upload, [v.files], "upload"),
                                              (v.reindex, on_reindex, None, "reindex")):
        button.click(bind(handler, coach), inputs, outs, api_name=api_name,
                     trigger_mode="once", concurrency_id="ingest", concurrency_limit=1)
    status = bind(on_status, coach)
    v.tab.select(status, None, v.status, api_visibility="private")
    app.load(status, None, v.status, api_visibility="private")
