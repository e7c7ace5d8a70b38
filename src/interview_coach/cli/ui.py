"""The `coach ui` command: make sure the index is current, then serve the Gradio app.

The app itself (tabs, handlers, rendering) is the package interview_coach.ui; this only starts it.
"""

from __future__ import annotations

import os

from ..errors import ErrorCode, UsageError
from .common import progress_bar, settings_from


def is_loopback(host: str) -> bool:
    """Only this machine can reach the address (127.0.0.0/8, ::1, localhost); 0.0.0.0 is every interface."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_exposure(host: str, share: bool, auth, no_auth: bool) -> str | None:
    """Refuse to serve others without a login unless --no-auth says so; returns the warning to print then."""
    if auth is not None or (is_loopback(host) and not share):
        return None
    where = "a public gradio.live link" if share else host
    if not no_auth:
        raise UsageError(f"serving on {where} lets others use the coach and read your notes: add "
                         "--auth USER:PASSWORD, or --no-auth to allow it without a login",
                         code=ErrorCode.AUTH_REQUIRED)
    return f"serving on {where} without a login (--no-auth): anyone who can reach it can use it and read your notes"


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise UsageError("--auth must look like user:password")
    return user, password


def check_port_free(host: str, port: int) -> None:
    """Fail early, in one line, instead of after indexing (and with Gradio's traceback)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            # As uvicorn does: connections of a just-stopped server in TIME_WAIT do not block the port.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another port with --port") from None


def cmd_ui(args) -> int:
    from rich.console import Console

    from ..coach import Coach

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    auth = parse_auth(args.auth)
    exposed = check_exposure(args.host, args.share, auth, args.no_auth)  # before any slow work
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    check_port_free(args.host, args.port)
    console = Console(stderr=True)
    coach = Coach(settings_from(args))

    # Incremental: a few hundred milliseconds when nothing changed, a progress bar when it did.
    update, close = progress_bar()
    try:
        report = coach.ingest(progress=update)
    finally:
        close()
    console.print(f"[bold]Index[/]: {report.documents} documents, {report.chunks} chunks "
                  f"({report.added} added, {report.updated} updated, {report.removed} removed) "
                  f"in {report.seconds:.1f}s")
    for line in report.skipped:
        console.print(f"skipped: {line}")
    # Load the retriever and the grader's models now so the first answer in the browser is not the slow one.
    try:
        coach.search("warm up", k=1)
        if coach.corpus.questions:
            coach.grade(coach.corpus.questions[0].id, "A warm-up answer that loads the grading models.")
    except Exception as e:  # an empty index still opens the UI; its Library tab can fill it
        console.print(f"[yellow]warning[/]: {e}")

    if exposed:
        console.print(f"[yellow]warning[/]: {exposed}")
    from interview_coach.ui import launch

    console.print(f"Interview Coach on http://{args.host}:{args.port}  (Ctrl+C to stop)")
    launch(coach, host=args.host, port=args.port, auth=auth, share=args.share)
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("ui", help="open the coach in your browser (Gradio)",
                       description="Index any changed notes, then serve the Interview Coach web UI "
                                   "(interview practice, ask your notes, progress, library).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    login = p.add_mutually_exclusive_group()
    login.add_argument("--auth", metavar="USER:PASSWORD",
                       help="require this login (needed with a --host other than this machine, or --share)")
    login.add_argument("--no-auth", action="store_true",
                       help="serve a non-loopback --host or --share without a login (warns)")
    p.add_argument("--share", action="store_true",
                   help="also create a public gradio.live link (off by default; needs internet)")
    p.set_defaults(func=cmd_ui)
