"""The `coach` command: parse arguments, call the library, print. Errors become one stderr line.

Each command is a thin adapter; the work lives in the library modules.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import CoachError, CorpusError

# Each module adds its subcommands to the parser (add_parsers) and holds their handlers.
COMMAND_MODULES = ("interview_coach.cli.index", "interview_coach.cli.answers", "interview_coach.cli.interview",
                   "interview_coach.cli.eval", "interview_coach.cli.ui", "interview_coach.cli.voice", "interview_coach.cli.serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coach",
        description="Interview Coach: practise ML interviews and look things up in your notes, offline.",
        epilog="Data (index, sessions, reports) lives in $COACH_HOME (default ~/.interview-coach).")
    parser.add_argument("--home", help="data directory (overrides $COACH_HOME)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CorpusError as e:
        for problem in e.problems:
            print(f"error: {problem}", file=sys.stderr)
        return e.exit_code
    except CoachError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the last line of defence: one line, never a traceback
        if args.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (rerun with --debug for details)", file=sys.stderr)
        return 1

