"""`coach eval` in a subprocess on the fixture corpus: the JSON contract, the report folder, one-line errors."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import coach_command

pytestmark = pytest.mark.slow

METRIC_KEYS = {"hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5", "ci", "n"}


def coach(env, *args, check=True):
    proc = subprocess.run([*coach_command(), *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_eval_retrieval_json_and_report(coach_env, tmp_path):
    coach(coach_env, "ingest", "--json")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in [
        {"query": "why scale dot products by the key dimension", "relevant": ["attention"], "track": "transformers"},
        {"query": "cepstral coefficients from a mel filterbank", "relevant": ["mfcc"], "track": "audio-speech"},
        {"query": "AdamW decoupled weight decay", "relevant": ["optimisers"], "track": "foundations"},
        {"query": "LayerNorm versus BatchNorm", "relevant": ["normalisation"], "track": "transformers"},
    ]))
    out = tmp_path / "report"
    proc = coach(coach_env, "eval", "retrieval", "--dataset", str(queries), "--json", "--out", str(out))
    result = json.loads(proc.stdout)
    assert list(result) == ["retrieval"]
    assert set(result["retrieval"]) == {"hybrid", "vector", "bm25"}
    for method, metrics in result["retrieval"].items():
        assert set(metrics) >= METRIC_KEYS, method
        assert metrics["n"] == 4 and set(metrics["ci"]) == METRIC_KEYS - {"ci", "n"}
        lo, hi = metrics["ci"]["mrr@10"]
        assert 0 <= lo <= metrics["mrr@10"] <= hi <= 1
    assert result["retrieval"]["hybrid"]["hit@5"] == 1.0  # four notes, each query names its own
    assert proc.stderr.strip() == ""  # no progress bars with --json
    assert json.loads((out / "metrics.json").read_text()) == result
    assert (out / "retrieval.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "## Retrieval" in report and "![retrieval by method](retrieval.png)" in report

    # Default report folder: under $COACH_HOME/reports/<timestamp>; a human summary otherwise.
    proc = coach(coach_env, "eval", "retrieval", "--dataset", str(queries))
    assert "hybrid" in proc.stdout and "report:" in proc.stdout
    reports = list((tmp_path / "home" / "reports").glob("*/report.md"))
    assert len(reports) == 1


def test_eval_errors_are_one_line(coach_env, tmp_path):
    claims = tmp_path / "claims.jsonl"
    claims.write_text(json.dumps({"context": "c", "claim": "x", "label": "supported"}) + "\n")
    for args, message in [
        (["eval", "retrieval", "--dataset", str(claims)], "the retrieval suite takes retrieval queries"),
        (["eval", "judge", "--dataset", str(tmp_path / "none.jsonl")], "no such dataset file"),
        (["eval", "retrieval", "--limit", "0"], "--limit must be at least 1"),
    ]:
        proc = coach(coach_env, *args, check=False)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert message in lines[0]
