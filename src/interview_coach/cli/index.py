"""`coach ingest`, `coach search`, `coach questions` and `coach status`: the index and the bank, through
the Coach.

Chunking, embedding and retrieval live in the library (index.py, retrieval.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..corpus import USER_SUFFIXES
from ..errors import CoachError, ErrorCode, UsageError
from .common import coach_from, print_json, progress_bar


def check_note_files(paths: list[Path]) -> None:
    """A file given by name must be one ingest indexes; otherwise it would be remembered and skipped in silence."""
    for path in paths:
        if path.is_file() and path.suffix.lower() not in USER_SUFFIXES:
            raise UsageError(f"{path}: not a notes file; ingest reads {', '.join(USER_SUFFIXES)} files "
                             "(or folders of them)", code=ErrorCode.NOT_NOTES)


def check_forgettable(forget: list[Path], roots: list[str]) -> None:
    """--forget must name a remembered folder, as `coach status --json` lists them under roots."""
    for path in forget:
        if str(path.expanduser().resolve()) not in roots:
            known = f"your folders are {', '.join(roots)}" if roots else "no folders of yours are indexed"
            raise UsageError(f"{path} is not an indexed folder, so there is nothing to forget ({known})",
                             code=ErrorCode.NOT_REMEMBERED)


def cmd_ingest(args) -> int:
    coach = coach_from(args)
    paths, forget = [Path(p) for p in args.paths], [Path(p) for p in args.forget]
    check_note_files(paths)
    if forget:
        check_forgettable(forget, coach.index.status()["roots"])
    update, close = progress_bar(False if args.json else None)
    try:
        report = coach.ingest(paths, progress=update, forget=forget)
    finally:
        close()
    for line in report.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict())
    else:
        from rich.console import Console

        Console().print(
            f"[bold]Indexed[/] {report.documents} documents, {report.chunks} chunks "
            f"({report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged) in {report.seconds:.1f}s"
            # A new collection is built on the first ingest and after a model or chunk-settings change.
            + (" [dim](built a fresh index)[/]" if report.rebuilt else ""))
    return 0


def cmd_search(args) -> int:
    results = coach_from(args).search(args.query, k=args.k, track=args.track, mode=args.mode)
    if args.json:
        print_json([r.to_dict() for r in results])
        return 0
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    if not results:
        console.print("No matching notes.")
    for rank, r in enumerate(results, 1):
        c = r.chunk
        where = f"{c.source}" + (f" › {c.heading}" if c.heading else "")
        text = c.text if len(c.text) <= 600 else c.text[:600].rstrip() + " …"
        console.print(Panel(text, title=f"[{rank}] {c.title}", subtitle=f"{where}  score {r.score:.4f}",
                            title_align="left", subtitle_align="left"))
    return 0


def cmd_questions(args) -> int:
    corpus = coach_from(args).corpus
    questions = [q for q in corpus.questions if not args.track or q.track == args.track]
    if args.track and not questions:
        tracks = sorted({q.track for q in corpus.questions})
        raise CoachError(f"no questions in track {args.track!r}; tracks: {', '.join(tracks)}")
    if args.json:
        fields = ("id", "track", "topic", "difficulty", "question", "key_points", "follow_ups", "notes", "sources")
        print_json([{f: (list(v) if isinstance(v := getattr(q, f), tuple) else v) for f in fields} for q in questions])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "track", "difficulty", "question", show_lines=False)
    for q in questions:
        table.add_row(q.id, q.track, q.difficulty, q.question)
    Console().print(table)
    return 0


def cmd_status(args) -> int:
    status = coach_from(args).index.status()
    if args.json:
        print_json(status)
    else:
        where = status.get("chroma_url") or status["index_dir"]  # a shared server, or the local folder
        print(f"{status['documents']} documents, {status['chunks']} chunks in {where}"
              f" (last ingest: {status['last_ingest'] or 'never'})")
        for line in status.get("skipped", []):  # ingest reports each once; status always lists them
            print(f"skipped: {line}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ingest", help="index the bundled corpus plus your own .md/.txt folders",
                       description="Chunk, embed and index the bundled notes plus any folders you give "
                                   "(remembered for next time). Unchanged files are skipped.")
    p.add_argument("paths", nargs="*", help="folders or files of .md/.txt notes to add")
    p.add_argument("--forget", action="append", default=[], metavar="PATH",
                   help="stop indexing a previously added folder")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="hybrid (BM25 + vector) search over the notes",
                       description="Search the indexed notes; best match first.")
    p.add_argument("query", help="what to look for, e.g. \"why divide by sqrt(d_k)?\"")
    p.add_argument("-k", type=int, default=None, help="number of results (default 5)")
    p.add_argument("--track", help="only notes of this track, e.g. transformers")
    p.add_argument("--mode", choices=("hybrid", "vector", "bm25"), default="hybrid",
                   help="retrieval method (default hybrid)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("questions", help="list the question bank")
    p.add_argument("--track", help="only this track")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("status", help="what is in the index")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_status)
