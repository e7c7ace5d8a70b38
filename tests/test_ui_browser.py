"""The Gradio UI in a real browser: `coach ui` in a subprocess, Debian's chromium driven by Playwright
through a practice session (bad input, an answer, the score card, a citation, the sources panel, the
summary, the Progress tab), a screenshot under tests/output/, and the server's resident memory."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, coach_command, free_port, stop

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
OUTPUT = REPO / "tests" / "output" / "ui_browser"
START_TIMEOUT = 120  # import, ingest of the fixture corpus, model warm-up on 2 busy cores

# Partial answers on purpose: the missed key points come back with cited notes.
ANSWERS = {
    "sqrt(d_k)": "The dot product of two vectors with unit-variance components has variance d_k, so the "
                 "logits grow with the dimension. Dividing by sqrt(d_k) brings the variance back to one.",
    "LayerNorm": "LayerNorm normalises each token over its own features, so it does not depend on batch "
                 "statistics the way BatchNorm does.",
}


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (psutil when installed, else /proc)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def serve_ui(env: dict, log_dir: Path, *extra: str):
    """Start `coach ui` on a free loopback port, wait (bounded) until it answers, always stop it."""
    port = free_port()
    log_path = log_dir / "coach-ui.log"
    env = {**env, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*coach_command(), "ui", "--port", str(port), *extra], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`coach ui` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"`coach ui` did not open port {port} in {START_TIMEOUT}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/", proc
    finally:
        stop(proc, timeout=15)
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


def answer_for(question: str) -> str:
    return next(text for key, text in ANSWERS.items() if key in question)


def test_practice_session_in_chromium(coach_env, tmp_path):
    assert CHROMIUM.exists(), (
        "Debian's chromium is missing at /usr/bin/chromium: install it with "
        "`sudo apt-get install -y chromium` (`make test` does this); the tests never download a browser")
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with serve_ui(coach_env, tmp_path) as (url, server), sync_playwright() as pw:
        print(f"\n`coach ui` ready in {time.monotonic() - started:.1f}s")
        # A fresh profile per run (Playwright passes it as --user-data-dir).
        browser = pw.chromium.launch_persistent_context(
            tmp_path / "chromium-profile", executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            outside = []  # the page must render offline: no fonts, CDN or analytics from the internet
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith((url, "data:", "blob:", "about:")) else None)
            page.goto(url)
            chat = page.locator("#chat")
            expect(page.locator("#start-btn")).to_be_visible(timeout=30_000)

            # Answering with no session running: a message, not a traceback.
            page.locator("#answer-box textarea").fill("An answer before any session.")
            page.locator("#submit-btn").click()
            expect(chat).to_contain_text("No session is running", timeout=20_000)

            page.locator("#start-btn").click()
            expect(chat).to_contain_text("Question 1 of", timeout=30_000)
            question = chat.inner_text()  # only the first question is on screen so far

            # An empty submit is refused with a friendly toast.
            page.locator("#answer-box textarea").fill("   ")
            page.locator("#submit-btn").click()
            expect(page.get_by_text("Type your answer first")).to_be_visible(timeout=10_000)

            page.locator("#answer-box textarea").fill(answer_for(question))
            t0 = time.monotonic()
            page.locator("#submit-btn").dblclick()  # a double click grades once
            card = chat.locator(".score-card").last
            expect(card).to_contain_text(re.compile(r"Score: \d+/100"), timeout=60_000)
            print(f"critique shown {time.monotonic() - t0:.1f}s after submit")
            expect(card).to_contain_text("Covered")
            assert chat.locator(".score-card").count() == 1, "a double click graded the answer twice"

            # Citations: the panel lists the cited notes; clicking a marker opens its text.
            marker = chat.locator("a.cite").first
            expect(marker).to_be_visible()
            n = re.search(r"\d+", marker.inner_text()).group()
            marker.click()
            opened = page.locator(f"#sources-panel details.source[data-n='{n}']")
            expect(opened).to_have_attribute("open", "")
            expect(opened.locator(".source-path")).to_contain_text("notes/")
            expect(opened.locator(".source-text")).to_be_visible()
            page.screenshot(path=str(OUTPUT / "practice-critique.png"), full_page=True)

            # The model answer streams in, then is replaced by its verified sentences.
            t0 = time.monotonic()
            page.locator("#model-btn").click()
            expect(chat.locator(".model-answer")).to_contain_text("Model answer", timeout=60_000)
            expect(chat).not_to_contain_text("▍")
            print(f"model answer (streamed, verified) in {time.monotonic() - t0:.1f}s")

            page.locator("#end-btn").click()
            expect(chat).to_contain_text("finished", timeout=30_000)
            page.get_by_role("tab", name="Progress").click()
            table = page.locator("#sessions-table")
            expect(table).to_contain_text("practice", timeout=20_000)
            expect(table).to_contain_text("finished")
            page.screenshot(path=str(OUTPUT / "progress.png"), full_page=True)

            print(f"UI server resident memory after a session: {rss_mb(server.pid):.0f} MiB")
            print(f"screenshots: {OUTPUT}")
            assert not outside, f"the page fetched from outside the machine: {outside}"
        finally:
            browser.close()
    print(f"browser test total {time.monotonic() - started:.1f}s")


def test_voice_answer_in_chromium(coach_env, tmp_path):
    """A spoken answer through the page: the question read aloud, an uploaded espeak-ng recording (the same
    handler as the microphone) transcribed into the answer box, graded with delivery feedback, a corrupt
    recording refused without losing the typed text, and delivery plotted in Progress."""
    import shutil

    from playwright.sync_api import expect, sync_playwright

    if shutil.which("espeak-ng") is None:
        pytest.skip("needs Debian's espeak-ng (`make test` installs it)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with serve_ui(coach_env, tmp_path) as (url, server), sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            tmp_path / "chromium-profile", executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            page.goto(url)
            chat, box = page.locator("#chat"), page.locator("#answer-box textarea")
            expect(page.locator("#start-btn")).to_be_visible(timeout=30_000)
            page.locator("#start-btn").click()
            expect(chat).to_contain_text("Question 1 of", timeout=30_000)
            question = chat.inner_text()

            page.locator("#read-aloud-btn").click()
            expect(page.locator("#question-audio audio, #question-audio [data-testid='waveform-x']").first
                   ).to_be_attached(timeout=30_000)

            spoken = tmp_path / "answer.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(spoken), answer_for(question)], check=True)
            t0 = time.monotonic()
            upload_audio(page, spoken)
            expect(page.locator("#delivery")).to_contain_text("words/min", timeout=60_000)
            heard = box.input_value()
            print(f"\ntranscript in the answer box {time.monotonic() - t0:.1f}s after the upload: {heard!r}")
            assert len(heard.split()) >= 10
            box.fill(heard + " That is my answer.")  # editable before grading
            page.locator("#submit-btn").click()
            expect(chat.locator(".score-card").last).to_contain_text(re.compile(r"Score: \d+/100"), timeout=60_000)
            expect(chat).to_contain_text("Delivery")
            expect(chat).to_contain_text("words/min")
            page.locator("#model-btn").click()  # loads the LLM too, for the memory figure below
            expect(chat.locator(".model-answer")).to_contain_text("Model answer", timeout=60_000)

            # A corrupt recording: a message beside the box, and the typed answer stays.
            box.fill("My typed answer must survive.")
            corrupt = tmp_path / "corrupt.wav"
            corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVE" + b"\x00junk" * 500)
            upload_audio(page, corrupt)
            expect(page.locator("#delivery")).to_contain_text("corrupt", timeout=30_000)
            expect(box).to_have_value("My typed answer must survive.")
            page.screenshot(path=str(OUTPUT / "voice-answer.png"), full_page=True)

            page.get_by_role("tab", name="Progress").click()
            expect(page.locator("#delivery-plot img")).to_be_visible(timeout=20_000)
            page.screenshot(path=str(OUTPUT / "voice-progress.png"), full_page=True)
            print(f"UI server resident memory, embedder, judge, LLM and transcriber loaded: "
                  f"{rss_mb(server.pid):.0f} MiB")
        finally:
            browser.close()


def upload_audio(page, path: Path) -> None:
    """Put a file into the answer's audio input through its upload source (as a user would)."""
    audio = page.locator("#answer-audio")
    upload = audio.locator("button[aria-label='Upload file']")
    if upload.count():
        upload.click()
    clear = audio.locator("button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    audio.locator("input[type=file]").set_input_files(str(path))
