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
