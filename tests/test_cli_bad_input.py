"""Bad input found by a user walk-through: too-long answers (one limit and message for CLI and UI), two
answer options at once, ingest of a non-notes file or --forget of an unknown folder, unclosed front
matter, and skipped-file warnings that repeated on every ingest."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from interview_coach.cli import main
from interview_coach.cli.index import check_forgettable
from interview_coach.corpus import UNCLOSED_FRONT_MATTER as UNCLOSED
from interview_coach.corpus import load_corpus, load_user_documents
from interview_coach.errors import ErrorCode, UsageError
from interview_coach.index import Index, Manifest
from interview_coach.limits import MAX_ANSWER_CHARS, check_answer_length


@pytest.fixture
def run(tmp_path, corpus_dir, monkeypatch, capsys):
    """The real `coach` entry point in process, on the fixture corpus: (exit code, stdout, stderr lines)."""
    monkeypatch.setenv("COACH_CORPUS", str(corpus_dir))

    def coach(*argv):
        code = main(["--home", str(tmp_path / "home"), *argv])
        out, err = capsys.readouterr()
        return code, out, [line for line in err.splitlines() if line.strip()]

    return coach


def one_error(code, err) -> str:
    assert code != 0 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def too_long_message(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        check_answer_length(text)
    assert caught.value.code is ErrorCode.ANSWER_TOO_LONG
    return str(caught.value)


# -- one answer limit ------------------------------------------------------------------------------------
def test_answer_limit_counts_the_text_not_surrounding_blanks():
    check_answer_length("a" * MAX_ANSWER_CHARS)
    check_answer_length("  \n" + "a" * MAX_ANSWER_CHARS + "\n\n  ")
    assert "8,001 characters" in too_long_message("a" * (MAX_ANSWER_CHARS + 1))


def test_coach_grade_refuses_a_50000_character_answer_before_grading(run, tmp_path):
    essay = "Attention scales the logits. " * 1725  # 50,025 characters
    expected = f"error: {too_long_message(essay)}"
    answer_file = tmp_path / "essay.txt"
    answer_file.write_text(essay, encoding="utf-8")
    for given in (["--answer", essay], ["--answer-file", str(answer_file)]):
        code, _, err = run("grade", "--question", "q-sqrt-dk", *given)
        assert code == 2 and one_error(code, err) == expected
    assert not (tmp_path / "home" / "index").exists()  # refused before any model or index was touched


def test_ui_refuses_with_the_same_message(monkeypatch):
    from interview_coach.ui import interview_tab
    from interview_coach.ui.state import InterviewTabState

    monkeypatch.setattr(interview_tab.gr, "Warning", lambda message: None)  # no browser to show it in
    session = SimpleNamespace(finished=False, config=SimpleNamespace(mode="practice"), last_attempted=None)
    state = InterviewTabState(session=session)
    essay = "x" * 50_000
    steps = list(interview_tab.answer_step(essay, [], state, retry=False))
    history = steps[-1][0]
    assert history[-1] == {"role": "assistant", "content": too_long_message(essay)}


def test_answer_and_answer_file_together_is_one_error(run, tmp_path):
    answer_file = tmp_path / "a.txt"
    answer_file.write_text("An answer.", encoding="utf-8")
    code, _, err = run("grade", "--question", "q-sqrt-dk", "--answer", "x", "--answer-file", str(answer_file))
    line = one_error(code, err)
    assert code == 2 and "--answer and --answer-file" in line


# -- ingest arguments ------------------------------------------------------------------------------------
def test_ingest_of_a_non_notes_file_is_refused_and_not_remembered(run, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)))
    code, _, err = run("ingest", str(junk))
    assert code == 2 and "junk.bin: not a notes file" in one_error(code, err)
    assert Manifest.load(tmp_path / "home" / "index" / "manifest.json").roots == []


def test_forget_of_a_folder_that_is_not_indexed_is_refused(run):
    code, _, err = run("ingest", "--forget", "/not/there")
    line = one_error(code, err)
    assert code == 2 and "/not/there is not an indexed folder" in line


def test_forget_matches_a_remembered_folder_however_it_is_spelled(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    check_forgettable([folder / ".." / "mine", folder.relative_to(tmp_path)], [str(folder.resolve())])
    with pytest.raises(UsageError) as caught:
        check_forgettable([tmp_path / "other"], [str(folder.resolve())])
    assert caught.value.code is ErrorCode.NOT_REMEMBERED and str(folder.resolve()) in str(caught.value)


# -- unclosed front matter -------------------------------------------------------------------------------
def test_user_note_with_unclosed_front_matter_is_skipped_with_one_line(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "open.md").write_text("---\ntitle: Secret YAML\ntags: [a, b]\n# KV cache\n\nKeys and values.\n")
    (folder / "crlf.md").write_bytes(b"---\r\ntitle: Windows note\r\n---\r\n# Heading\r\n\r\nBody text.\r\n")
    (folder / "plain.txt").write_text("---\nnot front matter in a .txt file\n")
    docs, skipped = load_user_documents([folder])
    assert sorted(d.source for d in docs) == ["crlf.md", "plain.txt"]
    assert [s for s in skipped if "open.md" in s] == [f"{folder / 'open.md'}: {UNCLOSED}"]
    crlf = next(d for d in docs if d.source == "crlf.md")
    assert crlf.title == "Windows note" and "title:" not in crlf.body


def test_bundled_note_with_unclosed_front_matter_is_a_problem_at_line_1(corpus_dir):
    note = corpus_dir / "notes" / "mfcc.md"
    note.write_text(note.read_text().replace("\n---\n", "\n", 1))  # drop the closing fence
    problems = [str(p) for p in load_corpus(corpus_dir).problems]
    assert problems == [f"corpus/notes/mfcc.md:1: {UNCLOSED}"]


# -- skipped files are reported once ---------------------------------------------------------------------
class HashEmbeddings:
    """Deterministic vectors from the text's hash: what is reported about skipped files does not depend on
    what the embedder makes of the notes, and the real one would make this a slow test."""

    def embed_documents(self, texts):
        return [[b / 255 + 0.01 for b in hashlib.sha256(t.encode()).digest()[:16]] for t in texts]


def test_skipped_files_are_reported_once_until_something_changes(settings, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "kv.md").write_text("# KV cache\n\nThe KV cache stores keys and values of earlier tokens.")
    bad = folder / "bad.md"
    bad.write_bytes(b"\xff\xfe\xfa")

    def skipped(*paths):
        return Index(settings, HashEmbeddings()).ingest(list(paths)).skipped

    first = skipped(folder)
    assert len(first) == 1 and str(bad) in first[0] and "UTF-8" in first[0]
    assert skipped() == [] and skipped(folder) == []  # remembered folder, same file, same reason: quiet
    assert Index(settings, HashEmbeddings()).status()["skipped"] == first  # still listed by `coach status`

    bad.write_text("  \n")  # still skipped, for another reason: reported again
    second = skipped()
    assert len(second) == 1 and second[0].endswith("bad.md: empty file")
    bad.write_text("# Fixed\n\nNow a note.")
    assert skipped() == [] and Index(settings, HashEmbeddings()).status()["skipped"] == []
    bad.write_text("")  # broken again after being fixed: reported again
    assert skipped() == second
