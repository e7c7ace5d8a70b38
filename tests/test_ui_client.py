"""The UI's API through gradio_client as a real client: two concurrent sessions on one `coach ui`
server, each answering a different question, each getting its own critique; bad input gets a message."""

from __future__ import annotations

import threading
import time

import pytest

from test_ui_browser import ANSWERS, rss_mb, serve_ui

pytestmark = pytest.mark.slow

# The fixture bank has one medium question (attention) and one easy one (normalisation), so the
# difficulty decides which question each client gets.
CLIENTS = {
    "medium": {"question_id": "q-sqrt-dk", "note": "Scaled dot-product attention", "answer": ANSWERS["sqrt(d_k)"]},
    "easy": {"question_id": "q-layernorm", "note": "BatchNorm versus LayerNorm", "answer": ANSWERS["LayerNorm"]},
}


def texts(chat) -> str:
    """All message text of a chat value as the client receives it."""
    out = []
    for message in chat or []:
        content = message["content"]
        out += [c.get("text", "") for c in content] if isinstance(content, list) else [str(content)]
    return "\n".join(out)


def test_two_concurrent_sessions_get_their_own_critiques(coach_env, tmp_path):
    from gradio_client import Client

    with serve_ui(coach_env, tmp_path) as (url, server):
        # Bad input through the API: a message back, never an exception or a grade.
        lone = Client(url, verbose=False)
        chat, _, result, _ = lone.predict("an answer with no session", api_name="/answer")
        assert "No session is running" in texts(chat)
        assert not (isinstance(result, dict) and "grade" in result)

        results: dict[str, dict] = {}
        errors: list[BaseException] = []
        both_started = threading.Barrier(2, timeout=120)

        def run(difficulty: str):
            try:
                client = Client(url, verbose=False)
                expected = CLIENTS[difficulty]
                chat, _, started, _ = client.predict(["transformers"], difficulty, "practice", 1, api_name="/start")
                assert started["turn"]["question_id"] == expected["question_id"], started
                _, _, hint, _ = client.predict(api_name="/hint")
                both_started.wait()  # both sessions exist before either answers: the answers overlap
                t0 = time.monotonic()
                chat, panel, graded, _ = client.predict(expected["answer"], api_name="/answer")
                results[difficulty] = {"started": started, "graded": graded, "chat": texts(chat), "hint": hint,
                                       "panel": panel, "seconds": time.monotonic() - t0}
                # A 50k-character paste is refused with a message; the session keeps going.
                chat, _, after, _ = client.predict("x" * 50_000, api_name="/answer")
                results[difficulty]["paste"] = (texts(chat), after)
            except BaseException as e:  # reported by the main thread
                errors.append(e)
                both_started.abort()

        threads = [threading.Thread(target=run, args=(d,)) for d in CLIENTS]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "a client is still waiting after 240 s"
        if errors:
            raise errors[0]

        sessions = {r["started"]["session_id"] for r in results.values()}
        assert len(sessions) == 2, "the two clients share one session"
        for difficulty, r in results.items():
            expected = CLIENTS[difficulty]
            grade = r["graded"]["grade"]
            assert grade["question_id"] == expected["question_id"], (difficulty, grade["question_id"])
            assert grade["answer"] == expected["answer"], "a critique of the other client's answer"
            assert r["graded"]["session_id"] == r["started"]["session_id"]
            assert 0 <= grade["score"] <= 100 and grade["covered"], grade
            assert "Score:" in r["chat"]
            assert grade["citations"] and all(c["text"] for c in grade["citations"])
            assert "sources-list" in r["panel"]
            paste_chat, paste_result = r["paste"]
            assert "50,000 characters" in paste_chat
            assert not (isinstance(paste_result, dict) and "grade" in paste_result)
            # The hint points into the question's own note and names the question it is for.
            assert expected["note"] in r["hint"]["hint"], r["hint"]
            assert r["hint"]["turn"]["question_id"] == expected["question_id"]
            other = next(v for k, v in CLIENTS.items() if k != difficulty)
            assert other["note"] not in r["hint"]["hint"]
            print(f"\n{difficulty}: {expected['question_id']} scored {grade['score']} in {r['seconds']:.1f}s")

        # Ask your notes, with the closed-book answer beside it (the hallucination demonstration).
        t0 = time.monotonic()
        rag_html, closed, panel, asked = lone.predict("Why divide by sqrt(d_k) in attention?", True, api_name="/ask")
        print(f"ask + closed-book in {time.monotonic() - t0:.1f}s")
        assert set(asked) == {"rag", "closed-book"}, asked
        assert asked["rag"]["citations"] and asked["rag"]["sentences"]
        assert asked["closed-book"]["mode"] == "closed-book"
        assert "sentences supported" in rag_html and "sources-list" in panel
        assert "Closed-book" in (closed["value"] if isinstance(closed, dict) else closed)
        print(f"UI server resident memory after two sessions and an ask: {rss_mb(server.pid):.0f} MiB")
