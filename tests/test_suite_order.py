"""The suite's own scheduling (tests/conftest.py): `make test` must hand out the longest files first."""

from __future__ import annotations

from conftest import LONGEST_FIRST, REPO


def test_the_longest_first_files_exist():
    # A renamed file would silently drop back to the end of the run.
    missing = [name for name in LONGEST_FIRST if not (REPO / "tests" / name).exists()]
    assert not missing, missing


def test_make_test_keeps_the_collection_order():
    # Without --no-loadscope-reorder, xdist sorts files by their number of tests and undoes the order.
    line = next(line for line in (REPO / "Makefile").read_text().splitlines() if "pytest -n" in line)
    assert "--dist loadfile" in line and "--no-loadscope-reorder" in line, line
