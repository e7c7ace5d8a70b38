from pathlib import Path

from interview_coach.chunking import chunk_document
from interview_coach.corpus import Document


def doc(body, doc_id="n1", title="Attention"):
    return Document(id=doc_id, title=title, track="t", kind="note", source="notes/n1.md",
                    path=Path("n1.md"), body=body)


BODY = """# Attention

## Short answer
Short text here.

## How it works
Overview text.
### Masks
Mask text.

## How it works
Second section with the same heading.
"""


def test_heading_paths_and_ids():
    chunks = chunk_document(doc(BODY), 800, 100)
    assert [(c.heading, c.id) for c in chunks] == [
        ("Short answer", "n1::short-answer::0"),
        ("How it works", "n1::how-it-works::0"),
        ("How it works > Masks", "n1::how-it-works-masks::0"),
        ("How it works", "n1::how-it-works-2::0"),
    ]
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(c.search_text.startswith("Attention\n") for c in chunks)
    assert chunks[0].metadata()["source"] == "notes/n1.md"


def test_ids_are_stable_and_hash_tracks_content():
    a = chunk_document(doc(BODY), 800, 100)
    b = chunk_document(doc(BODY), 800, 100)
    assert [c.id for c in a] == [c.id for c in b]
    assert [c.content_hash for c in a] == [c.content_hash for c in b]
    c = chunk_document(doc(BODY.replace("Short text here.", "Different text.")), 800, 100)
    assert c[0].id == a[0].id and c[0].content_hash != a[0].content_hash
    assert [x.content_hash for x in c[1:]] == [x.content_hash for x in a[1:]]


def test_long_sections_split_by_size_with_overlap():
    words = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_document(doc(f"# Attention\n\n## Long\n{words}\n"), 300, 60)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # consecutive pieces share text (the overlap)
    first_tail = chunks[0].text.split()[-2:]
    assert all(w in chunks[1].text.split() for w in first_tail)


def test_text_before_first_heading_is_intro():
    chunks = chunk_document(doc("Plain text with no heading at all.", title="Plain"), 800, 100)
    assert [c.id for c in chunks] == ["n1::intro::0"]


def test_a_short_tail_joins_the_piece_before_it_without_the_overlap():
    from interview_coach.chunking import merge_tail

    assert merge_tail(["Attention divides by sqrt(d_k). The variance", "The variance stays near one."], 100) == \
        ["Attention divides by sqrt(d_k). The variance stays near one."]
    assert merge_tail(["First piece.", "Tail."], 100) == ["First piece.\nTail."]
    long_tail = ["x" * 60, "y" * 60]
    assert merge_tail(long_tail, 100) == long_tail  # a tail of 60% of a chunk is a chunk of its own
    assert merge_tail(["only one"], 100) == ["only one"]


def test_a_lead_in_that_ends_a_piece_moves_to_the_piece_with_its_list():
    from interview_coach.chunking import carry_lead_ins

    assert carry_lead_ins(["Adam adapts the step.\nAdam vs SGD:", "- SGD has one rate.\n- Adam has two moments."]) == \
        ["Adam adapts the step.", "Adam vs SGD:\n- SGD has one rate.\n- Adam has two moments."]
    # the last sentence of a long line, and not twice when the overlap already copied it
    assert carry_lead_ins(["Errors at rank 3 matter. Remedies:", "Remedies:\n- WARP."]) == \
        ["Errors at rank 3 matter.", "Remedies:\n- WARP."]
    unchanged = ["Ends with a full stop.", "Next."]
    assert carry_lead_ins(unchanged) == unchanged
    assert carry_lead_ins(["Only a lead-in:", "- item"]) == ["Only a lead-in:", "- item"]  # nothing left behind it


def test_no_chunk_of_a_real_note_ends_with_its_lead_in():
    words = " ".join(f"Sentence number {i} explains one more detail of the optimiser." for i in range(9))
    items = "".join(f"- Difference {i}: SGD and Adam differ in one more respect, number {i}.\n" for i in range(6))
    body = f"# Adam\n\n## How it works\n{words}\nAdam vs SGD:\n{items}"
    chunks = chunk_document(doc(body), 600, 60)
    assert len(chunks) > 1
    assert not any(c.text.rstrip().endswith(":") for c in chunks)
    assert any(c.text.startswith("Adam vs SGD:\n- Difference 0") for c in chunks)
