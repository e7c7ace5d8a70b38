"""Benchmark `coach ask` and the judge against raw llama-cpp-python; prints numbers and ratios, asserts nothing.

1. end-to-end ask latency (retrieve + generate ~120 tokens + verify), warm, median over questions
2. time to the first streamed token
3. generation tokens/s through our ChatModel vs raw llama_cpp.Llama on the same prompt and model file, and
   the coaching adapter's own cost: the same 128 tokens with it (merged, as the stack runs it, and applied
   by llama.cpp at run time) and without it
4. judge time per answer, and one cold `coach ask` process for scale

Usage: .venv/bin/python bench/bench_ask.py [--home DIR] [--runs N]   (builds the index under DIR if needed)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

from interview_coach.coach import Coach  # noqa: E402
from interview_coach.llm import default_gguf_path  # noqa: E402
from interview_coach.prompts import render  # noqa: E402
from interview_coach.settings import Settings  # noqa: E402
from interview_coach.verification import verify  # noqa: E402

QUESTIONS = [
    "What is the equal error rate in speaker verification?",
    "Why is the dot product divided by sqrt(d_k) in attention?",
    "What does the KV cache store and why does it speed up decoding?",
    "How does AdamW differ from Adam with L2 regularisation?",
    "Why do Transformers use LayerNorm rather than BatchNorm?",
    "What is retrieval-augmented generation and why does it reduce hallucination?",
    "How are MFCCs computed from a waveform?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data directory with (or for) the bundled index; default a temp dir")
    parser.add_argument("--runs", type=int, default=len(QUESTIONS))
    parser.add_argument("--tokens", type=int, default=120)
    args = parser.parse_args()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-ask-"))
    settings = Settings.load({}, home=home, answer_max_tokens=args.tokens)
    coach = Coach(settings)
    coach.ingest()
    questions = (QUESTIONS * 3)[: args.runs]

    # Warm-up: load the embedder, BM25, llama.cpp and the judge once.
    coach.ask(questions[0])

    latencies, first_tokens, judge_times, token_counts = [], [], [], []
    for q in questions:
        pieces: list[float] = []
        start = time.perf_counter()
        answer = coach.ask(q, on_token=lambda _: pieces.append(time.perf_counter()))
        latencies.append(time.perf_counter() - start)
        first_tokens.append(pieces[0] - start if pieces else float("nan"))
        token_counts.append(len(pieces))
        texts = [s.chunk.text for s in answer.sources]
        t = time.perf_counter()
        verify(answer.model_answer, texts, coach.judge, question=q)
        judge_times.append(time.perf_counter() - t)

    print(f"ask end to end (warm, {len(questions)} questions, ~{args.tokens}-token cap): "
          f"p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s; "
          f"median tokens generated {statistics.median(token_counts):.0f}")
    print(f"time to first streamed token: p50 {statistics.median(first_tokens):.3f} s")
    print(f"judge per answer (verification of the model's sentences): p50 {statistics.median(judge_times):.3f} s")

    # Generation speed: our stack vs raw llama-cpp-python on the same prompt, both greedy.
    sources = coach.answerer.retrieve(questions[1])
    messages = render("answer", question=questions[1],
                      sources=[{"n": s.n, "title": s.chunk.title, "text": s.chunk.text} for s in sources])
    ours = []
    for _ in range(3):
        start, count, first = time.perf_counter(), 0, None
        for _piece in coach.chat_model.stream(messages, max_tokens=args.tokens):
            count += 1
            first = first or time.perf_counter()
        ours.append(count / (time.perf_counter() - first))
    from llama_cpp import Llama

    from interview_coach.llm import adapter_path

    adapter = adapter_path(settings)  # the same model and coaching adapter as the stack
    model_file, lora = default_gguf_path(), adapter
    if adapter and settings.llm_adapter_mode == "merged":  # the stack runs the merged copy
        from interview_coach.merged_model import merged_model

        model_file, lora = merged_model(model_file, adapter, settings.home / "models"), None
    raw_model = Llama(model_path=str(model_file), n_ctx=settings.llm_context,
                      n_threads=os.cpu_count(), seed=0, verbose=False, lora_path=str(lora) if lora else None)
    raw = []
    for _ in range(3):
        start, count, first = time.perf_counter(), 0, None
        for chunk in raw_model.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=args.tokens, temperature=0.0, top_k=1, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                count += 1
                first = first or time.perf_counter()
        raw.append(count / (time.perf_counter() - first))
    print(f"generation: ours {statistics.median(ours):.1f} tokens/s, raw llama-cpp-python "
          f"{statistics.median(raw):.1f} tokens/s ({statistics.median(ours) / statistics.median(raw):.2f}x)")

    # The coaching adapter's own cost: the same 128 tokens with and without it (eval/coaching.py).
    from interview_coach.eval.coaching import base_coach, interleaved_tokens_per_second

    if adapter:
        base = base_coach(coach)
        runtime = Coach(settings.replace(llm_adapter_mode="runtime"), embeddings=coach.embeddings,
                        judge=coach.judge, corpus=coach.corpus)
        speeds = interleaved_tokens_per_second({"adapted": coach.chat_model, "runtime": runtime.chat_model,
                                                "base": base.chat_model})
        with_adapter, without = speeds["adapted"], speeds["base"]
        print(f"coaching adapter ({settings.llm_adapter_mode}): {with_adapter:.1f} tokens/s with it, "
              f"{without:.1f} without ({with_adapter / without:.2f}x); applied by llama.cpp at run time "
              f"{speeds['runtime']:.1f} ({speeds['runtime'] / without:.2f}x)")

    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")} | {"COACH_HOME": str(home)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "interview_coach.cli", "ask", questions[0], "--json"],
                   env=env, check=True, capture_output=True)
    print(f"one cold `coach ask` process (imports, model loads, BM25 load, answer): "
          f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
