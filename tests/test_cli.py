"""The real `coach` command in a subprocess: JSON contract, idempotent ingest, one-line errors."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import coach_command

pytestmark = pytest.mark.slow


def coach(env, *args, check=True):
    proc = subprocess.run([*coach_command(), *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def assert_one_line_error(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_ingest_twice_then_search_contract(coach_env):
    missing = coach(coach_env, "search", "attention", check=False)
    assert "run `coach ingest`" in assert_one_line_error(missing)

    first = json.loads(coach(coach_env, "ingest", "--json").stdout)
    assert set(first) >= {"documents", "chunks", "added", "updated", "removed", "unchanged", "seconds"}
    assert first["added"] == first["documents"] == 5 and first["chunks"] >= 8
    second = json.loads(coach(coach_env, "ingest", "--json").stdout)
    assert (second["added"], second["updated"], second["removed"], second["unchanged"]) == (0, 0, 0, 5)

    results = json.loads(coach(coach_env, "search", "why divide by sqrt(d_k)?", "-k", "3", "--json").stdout)
    assert len(results) == 3
    assert set(results[0]) >= {"id", "source", "title", "score", "text"}
    assert results[0]["source"] == "notes/attention.md" and results[0]["id"].startswith("attention::")
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)

    pretty = coach(coach_env, "search", "layer normalisation", "--track", "transformers").stdout
    assert "BatchNorm versus LayerNorm" in pretty

    assert "empty" in assert_one_line_error(coach(coach_env, "search", "  ", check=False))
    assert "k must be at least 1" in assert_one_line_error(coach(coach_env, "search", "x", "-k", "0", check=False))
    err = assert_one_line_error(coach(coach_env, "ingest", "/definitely/not/here", check=False))
    assert "/definitely/not/here: no such file or folder" in err


def test_bad_yaml_is_reported_with_file_and_line(coach_env, corpus_dir):
    bank = corpus_dir / "questions" / "bank.yaml"
    bank.write_text(bank.read_text().replace("  topic: attention\n", "  topic: [attention\n"))
    proc = coach(coach_env, "ingest", check=False)
    line = assert_one_line_error(proc)
    assert line.startswith("error: corpus/questions/bank.yaml:") and "invalid YAML" in line


def test_questions_lists_the_bank(coach_env):
    bank = json.loads(coach(coach_env, "questions", "--json").stdout)
    assert [q["id"] for q in bank] == ["q-sqrt-dk", "q-layernorm"]
    assert bank[0]["key_points"][0].startswith("The dot product")
    err = assert_one_line_error(coach(coach_env, "questions", "--track", "cooking", check=False))
    assert "no questions in track 'cooking'" in err
