"""Entry point kept at the repository root: the UI itself is the package `interview_coach.ui`.

`python ui/app.py [--port N ...]` is `coach ui [--port N ...]`; importing this file gives the package's
build_app and launch.
"""

from __future__ import annotations

import sys

from interview_coach.ui import build_app, launch

__all__ = ["build_app", "launch"]

if __name__ == "__main__":
    from interview_coach.cli import main

    sys.exit(main(["ui", *sys.argv[1:]]))
