"""Validation of the corpus format: every problem is reported as file:line: message."""


from interview_coach.corpus import load_corpus, load_user_documents


def messages(corpus_dir):
    return [str(p) for p in load_corpus(corpus_dir).problems]


def test_fixture_corpus_is_valid(corpus_dir):
    corpus = load_corpus(corpus_dir)
    assert corpus.problems == []
    assert {d.id for d in corpus.notes} == {"attention", "normalisation", "mfcc", "optimisers"}
    assert [d.id for d in corpus.sources] == ["src-fixture"]
    q = corpus.question("q-sqrt-dk")
    assert q.notes == ("attention",) and len(q.key_points) == 3 and q.line == 1


def test_duplicate_question_id_names_both_places(corpus_dir):
    bank = corpus_dir / "questions" / "bank.yaml"
    text = bank.read_text()
    (corpus_dir / "questions" / "more.yaml").write_text(text.split("- id: q-layernorm")[0])
    problems = messages(corpus_dir)
    assert any(p.startswith("corpus/questions/more.yaml:1: duplicate question id 'q-sqrt-dk'")
               and "bank.yaml:1" in p for p in problems), problems


def test_missing_field_and_dangling_note(corpus_dir):
    bank = corpus_dir / "questions" / "bank.yaml"
    text = bank.read_text().replace("  difficulty: easy\n", "").replace("notes: [attention]", "notes: [nope]")
    bank.write_text(text)
    problems = messages(corpus_dir)
    assert "corpus/questions/bank.yaml:17: question q-layernorm is missing difficulty" in problems
    assert "corpus/questions/bank.yaml:1: question q-sqrt-dk points at note 'nope', which does not exist" in problems


def test_bad_yaml_reports_its_line(corpus_dir):
    bank = corpus_dir / "questions" / "bank.yaml"
    lines = bank.read_text().splitlines()
    lines[5] = "  key_points: [unclosed"
    bank.write_text("\n".join(lines))
    problems = messages(corpus_dir)
    assert len(problems) >= 1 and problems[0].startswith("corpus/questions/bank.yaml:")
    assert "invalid YAML" in problems[0]
    line = int(problems[0].split(":")[1])
    assert 6 <= line <= 8


def test_note_front_matter_problems(corpus_dir):
    (corpus_dir / "notes" / "broken.md").write_text("---\nid: broken\ntitle: Broken\n---\n# Broken\n\ntext\n")
    (corpus_dir / "notes" / "dup.md").write_text((corpus_dir / "notes" / "mfcc.md").read_text())
    (corpus_dir / "notes" / "latin1.md").write_bytes("---\nid: x\n---\nna\xefve\n".encode("latin-1"))
    problems = messages(corpus_dir)
    assert "corpus/notes/broken.md:2: front matter is missing track, tags" in problems
    assert any(p.startswith("corpus/notes/mfcc.md:2: duplicate id 'mfcc'") or
               p.startswith("corpus/notes/dup.md:2: duplicate id 'mfcc'") for p in problems), problems
    assert "corpus/notes/latin1.md:4: not valid UTF-8 text; re-save the file as UTF-8" in problems


def test_user_documents_skip_unreadable_and_carry_on(tmp_path):
    folder = tmp_path / "my notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Alpha title\n\nSome text.")
    (folder / "sub" / "b.txt").write_text("plain text note")
    (folder / "bad.md").write_bytes(b"\xff\xfe\x00bad")
    (folder / "empty.md").write_text("  \n")
    (folder / "image.png").write_bytes(b"\x89PNG")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "c.md").write_text("# hidden")
    docs, skipped = load_user_documents([folder, tmp_path / "gone"])
    assert sorted(d.source for d in docs) == ["a.md", "sub/b.txt"]
    alpha = next(d for d in docs if d.source == "a.md")
    assert alpha.title == "Alpha title" and alpha.id == "my-notes/a.md" and alpha.kind == "user"
    assert any("bad.md: not valid UTF-8" in s for s in skipped)
    assert any("empty.md: empty file" in s for s in skipped)
    assert any(s.startswith(str(tmp_path / "gone")) for s in skipped)


def test_misconceptions_are_read_and_malformed_ones_reported(corpus_dir):
    bank = corpus_dir / "questions" / "bank.yaml"
    text = bank.read_text()
    block = ("  misconceptions:\n"
             "    - claim: Dividing by d_k instead of its square root is what the paper does.\n"
             "      correction: The paper divides by the square root of d_k, which keeps the variance at one.\n")
    bank.write_text(text.replace("  notes: [attention]", block + "  notes: [attention]", 1))
    corpus = load_corpus(corpus_dir)
    assert corpus.problems == []
    q = corpus.question("q-sqrt-dk")
    assert [m.claim for m in q.misconceptions] == ["Dividing by d_k instead of its square root is what the paper does."]
    assert q.misconceptions[0].correction.startswith("The paper divides")

    bank.write_text(text.replace("  notes: [attention]", "  misconceptions:\n    - just a string\n"
                                 "  notes: [attention]", 1))
    problems = messages(corpus_dir)
    assert any("misconceptions must be a list of {claim, correction}" in p and p.startswith("corpus/questions/bank.yaml:")
               for p in problems), problems
