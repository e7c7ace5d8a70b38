"""`coach serve-index`: run a Chroma server over a folder under COACH_HOME, for several coaches to share.

A thin wrapper around chromadb's own `chroma run`; what goes into the index is index.py's business.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..errors import ConfigError, ErrorCode, UsageError
from .common import settings_from
from .ui import check_port_free, is_loopback


def chroma_executable() -> str:
    """The `chroma` command installed with chromadb: beside this Python first, so the venv's own is used."""
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.is_file() else shutil.which("chroma")
    if not found:
        raise ConfigError("the `chroma` command was not found; install chromadb in this environment")
    return found


def cmd_serve_index(args) -> int:
    settings = settings_from(args)
    if not is_loopback(args.host):
        # Chroma's server has no login here: anyone who can reach it can read and change the index.
        if not args.no_auth:
            raise UsageError(f"serving the index on {args.host} lets others read and change it: keep the "
                             "default 127.0.0.1, or add --no-auth to allow it", code=ErrorCode.AUTH_REQUIRED)
        print(f"warning: serving the index on {args.host} without a login (--no-auth)", file=sys.stderr)
    check_port_free(args.host, args.port)
    path = Path(args.path).expanduser() if args.path else settings.home / "chroma-server"
    path.mkdir(parents=True, exist_ok=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"COACH_CHROMA_URL=http://{host}:{args.port}", flush=True)
    print(f"serving the index stored in {path}; set the line above in every coach that shares it "
          "(stop with Ctrl-C)", file=sys.stderr, flush=True)
    chroma = chroma_executable()
    # stdout carries only the URL line; Chroma's banner and request log go to stderr, so a caller that
    # reads the line and stops reading stdout cannot block the server on a full pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # exec, not a child: stopping this process stops the server, and no server is left behind.
    os.execv(chroma, [chroma, "run", "--path", str(path), "--host", args.host, "--port", str(args.port)])
    return 0  # not reached


def add_parsers(sub) -> None:
    p = sub.add_parser("serve-index", help="run a Chroma server that several coaches share (COACH_CHROMA_URL)",
                       description="Run `chroma run` over an index folder (default COACH_HOME/chroma-server) "
                                   "and print the COACH_CHROMA_URL for each coach that shares it.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--path", help="folder for the server's data (default COACH_HOME/chroma-server)")
    p.add_argument("--no-auth", action="store_true",
                   help="allow a non-loopback --host although the server has no login (warns)")
    p.set_defaults(func=cmd_serve_index)
