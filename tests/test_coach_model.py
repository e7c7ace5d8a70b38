"""Our distilled coaching adapter (src/interview_coach/models/coach/) through llama.cpp, for real: it is
small, it loads on the bundled model, it changes what the model writes (answers cited the way the training
targets are), the base model stays selectable, and the training script rebuilds an adapter that llama.cpp
loads. Behaviour at scale is measured by `coach eval coaching`, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace

import pytest

from conftest import REPO
from interview_coach.coaching import coach_split
from interview_coach.errors import ModelUnavailableError
from interview_coach.llm import LlamaCppChatModel, adapter_path, default_gguf_path, load_chat_model
from interview_coach.resources import coach_adapter_file
from interview_coach.settings import Settings, train_in_bf16
from interview_coach.verification import CITATION

pytestmark = pytest.mark.slow


def test_the_adapter_is_small_and_chosen_by_setting(tmp_path):
    path = coach_adapter_file()
    assert path.read_bytes()[:4] == b"GGUF" and path.stat().st_size <= 10_000_000
    assert adapter_path(Settings.load({})) == path
    assert adapter_path(Settings.load({"COACH_LLM_ADAPTER": "none"})) is None
    assert adapter_path(Settings.load({"COACH_LLM_MODEL": str(tmp_path / "other.gguf")})) is None
    with pytest.raises(ModelUnavailableError, match="COACH_LLM_ADAPTER=none"):
        load_chat_model(Settings.load({"COACH_LLM_ADAPTER": str(tmp_path / "missing.gguf")}))
    # llama.cpp kills the process on a file that is not GGUF: refused first, in one line.
    (tmp_path / "notes.md").write_text("# not an adapter\n")
    with pytest.raises(ModelUnavailableError, match="is not a GGUF LoRA adapter"):
        load_chat_model(Settings.load({"COACH_LLM_ADAPTER": str(tmp_path / "notes.md")}))


def held_out(bundled_coach, n: int = 3):
    return [q for q in bundled_coach.corpus.questions if coach_split(q.id) == "test"][:n]


def test_the_adapted_model_answers_held_out_questions_with_its_own_cited_answer(bundled_coach):
    shown = 0
    for q in held_out(bundled_coach):
        answer = bundled_coach.ask(q.question)
        sentences = [s for s in answer.model_answer.split(". ") if s.strip()]
        assert sentences and CITATION.search(answer.model_answer), answer.model_answer
        shown += not answer.fallback and answer.faithfulness == 1.0
    assert shown >= 2, "the model's own verified answer should be shown for most held-out questions"


def test_the_base_model_stays_selectable_and_differs(bundled_coach):
    base = replace(bundled_coach.settings, llm_adapter="none")
    from interview_coach.coach import Coach

    plain = Coach(base, embeddings=bundled_coach.embeddings, judge=bundled_coach.judge, corpus=bundled_coach.corpus)
    assert plain.chat_model.adapter is None and bundled_coach.chat_model.adapter == coach_adapter_file()
    question = held_out(bundled_coach, 1)[0].question
    assert plain.ask(question).model_answer != bundled_coach.ask(question).model_answer


def test_the_training_script_rebuilds_an_adapter_llama_cpp_loads(tmp_path, bundled_coach):
    """Two optimiser steps on four examples: the pipeline (GGUF base -> peft LoRA -> llama.cpp adapter) works."""
    pytest.importorskip("peft", reason="the training extra: pip install -e '.[train]'")
    from interview_coach.prompts import render

    examples = tmp_path / "examples.jsonl"
    rows = []
    for i, q in enumerate(bundled_coach.corpus.questions[:6]):
        messages = render("answer", question=q.question, sources=[{"n": 1, "title": "t", "text": q.key_points[0]}])
        rows.append({"id": q.id, "split": "train" if i < 4 else "dev" if i == 4 else "test", "task": "answer",
                     "messages": [asdict(m) for m in messages], "target": q.key_points[0] + " [1]."})
    examples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "coach"
    done = subprocess.run([sys.executable, str(REPO / "training" / "train_coach_model.py"), "--examples",
                           str(examples), "--out", str(out), "--epochs", "1", "--batch", "2"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["tensor_pairs"] == 30 * 2 and metrics["examples"]["train"]["answer"] == 4
    # bf16 only where the hardware does it natively: emulated, a step took 16 s instead of 0.75 s.
    assert metrics["precision"] == ("bf16 autocast" if train_in_bf16() else "fp32")
    model = LlamaCppChatModel(default_gguf_path(), n_ctx=512, threads=2, adapter=out / "adapter.gguf")
    from interview_coach.llm import Message

    assert model.chat([Message("user", "Say hello.")], max_tokens=8).strip()


def test_the_training_script_refuses_bad_examples_in_one_line(tmp_path):
    """A missing, non-JSON or train-less examples file, or a malformed --repeat: one line, no traceback,
    before any model is loaded."""
    not_json = tmp_path / "notes.jsonl"
    not_json.write_text("# not examples\n")
    dev_only = tmp_path / "dev.jsonl"
    dev_only.write_text(json.dumps({"split": "dev", "task": "answer", "messages": [], "target": "x"}) + "\n")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    script = str(REPO / "training" / "train_coach_model.py")
    for args, says in [(["--examples", str(tmp_path / "missing.jsonl")], "cannot read training examples"),
                       (["--examples", str(binary)], "cannot read training examples"),
                       (["--examples", str(not_json)], "line 1 is not a training example"),
                       (["--examples", str(dev_only)], "has no training examples"),
                       (["--repeat", "critique"], "expected TASK=N")]:
        done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert says in done.stderr.strip().splitlines()[-1], done.stderr  # argparse puts its usage first
        if args[0] == "--examples":
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_reply_only_loss_is_transformers_loss(monkeypatch):
    """Training projects onto the vocabulary only at the reply's positions (a third of a CPU step); the loss
    must stay the one transformers computes from `labels=` on right-padded batches, gradients included."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft", reason="the training extra: pip install -e '.[train]'")
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    monkeypatch.syspath_prepend(str(REPO / "training"))
    from train_coach_model import batches, reply_loss

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                                 init_lora_weights=False))
    rows = [{"input_ids": list(range(1, n + 1)), "labels": [-100] * (n - k) + list(range(n - k + 1, n + 1))}
            for n, k in ((12, 4), (7, 3), (20, 9))]
    ids, labels, mask = next(batches(rows, 3, None, pad_id=0))
    ours = reply_loss(model, ids, labels, mask)
    ours.backward()
    ours_grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    theirs.backward()
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(ours_grads, (p for p in model.parameters() if p.requires_grad)))


def test_the_merged_model_writes_what_the_runtime_adapter_writes(tmp_path):
    """The default: our adapter merged into a cached copy of the weights (base-model speed, measured by
    `coach eval coaching`) that writes the runtime adapter's replies."""
    from interview_coach.merged_model import merged_model
    from interview_coach.prompts import render

    base = default_gguf_path()
    stale = tmp_path / f"{base.stem}.merged-0000000000000000.gguf"
    tmp_path.joinpath("unrelated.gguf").write_bytes(b"GGUF")
    stale.write_bytes(b"an earlier adapter's merge")
    merged = merged_model(base, coach_adapter_file(), tmp_path)
    assert merged.is_file() and abs(merged.stat().st_size - base.stat().st_size) < 0.1 * base.stat().st_size
    assert not stale.exists() and tmp_path.joinpath("unrelated.gguf").exists()
    built = merged.stat().st_mtime_ns
    assert merged_model(base, coach_adapter_file(), tmp_path) == merged and merged.stat().st_mtime_ns == built

    runtime = LlamaCppChatModel(base, n_ctx=1024, threads=2, adapter=coach_adapter_file())
    folded = LlamaCppChatModel(base, n_ctx=1024, threads=2, adapter=coach_adapter_file(), merged_dir=tmp_path)
    plain = LlamaCppChatModel(base, n_ctx=1024, threads=2)
    rows = [json.loads(line) for line in (REPO / "training/coach/data/answer_inputs.jsonl").open()]
    same = differs_from_base = 0
    for row in [r for r in rows if r["split"] == "test"][:4]:
        messages = render("answer", question=row["question"], sources=row["sources"])
        replies = [m.chat(messages, max_tokens=24).split()[:12] for m in (runtime, folded, plain)]
        same += replies[0] == replies[1]
        differs_from_base += replies[1] != replies[2]
    assert same >= 3 and differs_from_base >= 3


def test_a_broken_adapter_cannot_be_merged_and_says_what_to_do(tmp_path):
    import gguf
    import numpy as np

    from interview_coach.merged_model import merged_model

    not_lora = tmp_path / "not-lora.gguf"
    writer = gguf.GGUFWriter(str(not_lora), arch="llama")
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 576), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    for adapter in (not_lora, damaged):
        with pytest.raises(ModelUnavailableError, match="COACH_LLM_ADAPTER_MODE=runtime") as err:
            merged_model(default_gguf_path(), adapter, tmp_path / "cache")
        assert "\n" not in str(err.value)
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written is left behind
    occupied = tmp_path / "occupied"
    occupied.write_text("a file where the cache folder should be")
    with pytest.raises(ModelUnavailableError, match="cannot write the merged model"):
        merged_model(default_gguf_path(), coach_adapter_file(), occupied)


def test_the_adapter_mode_is_a_setting(tmp_path):
    from interview_coach.errors import ConfigError

    merged = load_chat_model(Settings.load({}, home=tmp_path))
    assert merged.merged_dir == tmp_path / "models" and merged.adapter == coach_adapter_file()
    assert load_chat_model(Settings.load({"COACH_LLM_ADAPTER_MODE": "runtime"}, home=tmp_path)).merged_dir is None
    with pytest.raises(ConfigError, match="merged, runtime"):
        Settings.load({"COACH_LLM_ADAPTER_MODE": "fast"})
