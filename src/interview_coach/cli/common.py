"""What every `coach` command shares: settings and the Coach from the parsed arguments, JSON output,
and progress display on a terminal.

Parsing and rendering of each command stay in its own module.
"""

from __future__ import annotations

import json
import os
import sys

from ..settings import Settings


def settings_from(args) -> Settings:
    """Defaults, then the environment (COACH_*), then --home."""
    return Settings.load(os.environ, home=getattr(args, "home", None))


def coach_from(args):
    from ..coach import Coach

    return Coach(settings_from(args))


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def progress_bar(enabled: bool | None = None):
    """(update(done, total), close) backed by tqdm on a terminal; a no-op pair otherwise."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc="Embedding", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def progress_iter(enabled: bool | None = None):
    """A wrapper `(iterable, desc=...) -> iterable` showing a tqdm bar on stderr, or None when off
    (None: on for a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    def wrap(iterable, desc: str = ""):
        return tqdm(iterable, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)

    return wrap
