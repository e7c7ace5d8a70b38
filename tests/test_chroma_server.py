"""The index on a real Chroma server (`coach serve-index`, which runs `chroma run`), loopback only.

Ingest, search, ask and grade through COACH_CHROMA_URL; two coaches with separate homes sharing one
index; one clear line per command while the server is down; nothing lost across a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import coach_command, free_port, stop

from interview_coach.coach import Coach
from interview_coach.errors import ErrorCode, IndexUnreachableError
from interview_coach.index import Index
from interview_coach.llm import ChatModel
from interview_coach.settings import Settings

pytestmark = pytest.mark.slow

NEW_NOTE = "# Beam search\n\nBeam search keeps the zorblax best partial hypotheses at every decoding step, not just one.\n"


class ChromaServer:
    """`coach serve-index --path DIR --port N` on 127.0.0.1; start and stop it again over the same folder."""

    def __init__(self, path: Path, env: dict):
        self.path, self.env, self.port = path, env, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            coach_command() + ["serve-index", "--path", str(self.path), "--port", str(self.port)],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == f"COACH_CHROMA_URL={self.url}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the Chroma server exited on start"
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the Chroma server did not answer within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc)
        self.proc = None


class CitingModel(ChatModel):
    """Answers with a sentence of the attention note citing source 1: ask's path without llama.cpp's time."""

    def stream(self, messages, max_tokens=256, temperature=0.0, avoid=()):
        yield "Attention divides the scores by sqrt(d_k) to keep the softmax from saturating [1]."


@pytest.fixture
def server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(tmp_path / "server-home"), HF_HUB_OFFLINE="1")
    chroma = ChromaServer(tmp_path / "chroma-data", env)
    chroma.start()
    yield chroma
    chroma.stop()


@pytest.fixture
def shared(tmp_path, server, corpus_dir):
    """Two coach homes (two users) on one server and one corpus; each its own manifest-free home."""
    return [Settings.load({"COACH_CHROMA_URL": server.url}, home=tmp_path / f"home-{user}", corpus_dir=corpus_dir)
            for user in ("a", "b")]


def cli_env(settings: Settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(settings.home), COACH_CORPUS=str(settings.corpus_dir),
               COACH_CHROMA_URL=settings.chroma_url, HF_HUB_OFFLINE="1")
    return env


def coach_cli(settings: Settings, *argv: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(coach_command() + list(argv), check=False, capture_output=True, text=True,
                          env=cli_env(settings) | (extra or {}), timeout=300)


def test_ingest_search_ask_and_grade_against_the_server(shared, server, embeddings):
    settings = shared[0]
    coach = Coach(settings, embeddings=embeddings, chat_model=CitingModel())
    report = coach.ingest()  # the CLI's ingest runs in the tests below
    assert report.chunks > 0 and report.rebuilt
    # The chunks and the manifest are on the server, not in the local home.
    assert not (settings.index_dir / "chroma").exists() and not (settings.index_dir / "manifest.json").exists()
    status = coach_cli(settings, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["chunks"] == report.chunks

    search = coach_cli(settings, "search", "why divide by sqrt(d_k)?", "--json")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)[0]["doc_id"] == "attention"

    answer = coach.ask("Why divide by sqrt(d_k) in attention?")
    cited = {c["id"] for c in answer.to_dict()["citations"]}
    assert cited and cited <= {c.id for c in Index(settings).all_chunks()}
    assert answer.sentences[0].supported and answer.sentences[0].citations == [1]

    question = coach.corpus.questions[0]
    # One point of several: it scores, the missed ones cite note chunks retrieved from the server.
    grade = coach.grade(question.id, question.key_points[0])  # the CLI's grade runs in the down test
    assert 0 < grade.score < 100 and grade.covered and grade.missed
    assert any(p.citation for p in grade.missed) and grade.citations


def test_two_coaches_share_one_index(shared, embeddings, tmp_path):
    reader_settings, writer_settings = shared
    assert coach_cli(writer_settings, "ingest").returncode == 0
    # A long-lived coach (the UI, say) in another home: it has never ingested and holds no manifest.
    reader = Coach(reader_settings, embeddings=embeddings)
    assert reader.search("attention")
    before = len(reader.retriever.chunks)
    assert not any("beam" in c.doc_id for c in reader.retriever.chunks.values())

    notes = tmp_path / "new-notes"
    notes.mkdir()
    (notes / "beam.md").write_text(NEW_NOTE, encoding="utf-8")
    ingest = coach_cli(writer_settings, "ingest", str(notes), "--json")
    assert ingest.returncode == 0, ingest.stderr

    # No explicit reload: the reader's next search notices the new manifest version and reloads.
    top = reader.search("zorblax best partial hypotheses", k=1)[0]
    assert top.chunk.doc_id.endswith("beam.md")
    assert len(reader.retriever.chunks) == before + json.loads(ingest.stdout)["added"]
    assert reader.index.status()["roots"] == [str(notes.resolve())]


def test_every_command_says_the_server_is_down_in_one_line(shared, server):
    settings = shared[0]
    server.stop()
    for argv in (["ingest"], ["search", "attention"], ["ask", "what is attention?"],
                 ["grade", "--question", "What is attention?", "--answer", "It weighs values by similarity."],
                 ["status"]):
        run = coach_cli(settings, *argv)
        lines = run.stderr.strip().splitlines()
        assert run.returncode != 0, argv
        assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Chroma server at "), (argv, run.stderr)
        assert server.url in lines[0] and "Traceback" not in run.stderr

    # The library raises one error type with a code, for the UI to branch on.
    with pytest.raises(IndexUnreachableError) as caught:
        Index(settings).status()
    assert caught.value.code is ErrorCode.INDEX_UNREACHABLE


def test_a_long_lived_coach_reports_a_server_that_went_away(shared, server, embeddings):
    settings = shared[0]
    coach = Coach(settings, embeddings=embeddings)
    coach.ingest()
    assert coach.search("attention")
    server.stop()
    with pytest.raises(IndexUnreachableError, match=server.url):
        coach.search("attention")


def test_nothing_is_lost_when_the_server_restarts(shared, server):
    settings = shared[0]
    ingest = coach_cli(settings, "ingest", "--json")
    assert ingest.returncode == 0, ingest.stderr
    ids_before = {c.id for c in Index(settings).all_chunks()}
    assert len(ids_before) == json.loads(ingest.stdout)["chunks"]

    server.stop()
    server.start()  # same --path and port

    assert {c.id for c in Index(settings).all_chunks()} == ids_before
    search = coach_cli(settings, "search", "why divide by sqrt(d_k)?", "--json")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)[0]["doc_id"] == "attention"
    again = coach_cli(settings, "ingest", "--json")  # the manifest survived too: nothing to re-embed
    report = json.loads(again.stdout)
    assert again.returncode == 0 and not report["rebuilt"] and report["added"] == report["updated"] == 0


def test_serve_index_refuses_a_public_host_without_no_auth(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(tmp_path / "home"))
    run = subprocess.run(coach_command() + ["serve-index", "--host", "0.0.0.0", "--port", str(free_port())],
                         check=False, capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 2 and "--no-auth" in run.stderr and not run.stdout
    assert not (tmp_path / "home" / "chroma-server").exists()

