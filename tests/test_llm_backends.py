"""The openai backend against a real llama.cpp server, the transformers backend on a tiny local model.

Configuration errors and an unreachable server need no model; each real component starts once per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, stop
from interview_coach.errors import ConfigError, ModelUnavailableError
from interview_coach.llm import Message, backends, default_gguf_path, load_chat_model
from interview_coach.settings import Settings

MESSAGES = [Message("system", "You are a concise assistant."),
            Message("user", "Name one activation function used in neural networks.")]


def test_backends_lists_all_three():
    assert {"llamacpp", "openai", "transformers"} <= set(backends())


def test_openai_without_url_is_a_config_error():
    with pytest.raises(ConfigError, match="set COACH_LLM_URL to the server's base URL, e.g. http://"):
        load_chat_model(Settings.load({"COACH_LLM": "openai"}))


def test_unreachable_server_is_a_quick_one_line_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = load_chat_model(Settings.load({"COACH_LLM": "openai", "COACH_LLM_URL": url, "COACH_LLM_MODEL": "m"}))
    started = time.monotonic()
    with pytest.raises(ModelUnavailableError) as caught:
        model.chat(MESSAGES, max_tokens=8)
    message = str(caught.value)
    assert message == f"cannot reach the LLM server at {url}: connection refused; is it running?"
    assert time.monotonic() - started < 5  # no retries with back-off


def test_transformers_without_model_or_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="set COACH_LLM_MODEL to a local Hugging Face model folder"):
        load_chat_model(Settings.load({"COACH_LLM": "transformers"}))
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailableError, match=f"model folder not found: {missing}"):
        load_chat_model(Settings.load({"COACH_LLM": "transformers", "COACH_LLM_MODEL": str(missing)}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match=r"not a Hugging Face model folder \(no config.json\): .*empty"):
        load_chat_model(Settings.load({"COACH_LLM": "transformers", "COACH_LLM_MODEL": str(tmp_path / "empty")}))


# --- openai backend against a real OpenAI-compatible server -----------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """`python -m llama_cpp.server` on the bundled GGUF; yields its base URL (without /v1)."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        stop(proc, timeout=10)


@pytest.mark.slow
def test_openai_backend_streams_deterministically_from_a_real_server(llama_server):
    # No COACH_LLM_MODEL: the backend asks the server which model it serves.
    model = load_chat_model(Settings.load({"COACH_LLM": "openai", "COACH_LLM_URL": f"{llama_server}/v1"}))
    pieces = list(model.stream(MESSAGES, max_tokens=24))
    assert len(pieces) > 3  # really streamed, not one blob
    text = "".join(pieces)
    assert text.strip() and len(text.split()) <= 40
    assert model.model.endswith(".gguf")  # discovered from /v1/models
    assert model.chat(MESSAGES, max_tokens=24) == text  # temperature 0 is greedy


@pytest.mark.slow
def test_openai_404_names_the_model(llama_server):
    # Without /v1 the server answers 404, as Ollama does for a model it has not pulled.
    model = load_chat_model(Settings.load({"COACH_LLM": "openai", "COACH_LLM_URL": llama_server,
                                           "COACH_LLM_MODEL": "no-such-model"}))
    with pytest.raises(ModelUnavailableError) as caught:
        model.chat(MESSAGES, max_tokens=8)
    message = str(caught.value)
    assert "'no-such-model' (404)" in message and llama_server in message and "\n" not in message


# --- transformers backend on a tiny model built here -------------------------------------------------

SENTENCES = [
    "attention divides the scores by the square root of the key dimension",
    "dropout randomly zeroes activations during training to reduce overfitting",
    "the relu activation function keeps positive values and zeroes negative ones",
    "gradient descent moves the weights against the gradient of the loss",
    "a transformer stacks attention and feed forward layers with residual connections",
    "batch normalisation rescales activations using statistics of the mini batch",
]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with random weights and a word-level tokenizer trained on a few sentences."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(SENTENCES + [m.content for m in MESSAGES],
                            trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>",
                                        bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_transformers_backend_streams_deterministically_within_max_tokens(tiny_model_dir):
    """Random weights test the loading, templating and streaming path, not the quality of the text."""
    model = load_chat_model(Settings.load({"COACH_LLM": "transformers", "COACH_LLM_MODEL": str(tiny_model_dir)}))
    pieces = list(model.stream(MESSAGES, max_tokens=12))
    assert len(pieces) > 3  # streamed word by word from the generation thread
    text = "".join(pieces)
    assert text.strip()
    # Word-level tokenizer: one token per word, so the word count bounds the generated tokens.
    assert len(text.split()) <= 12
    assert model.chat(MESSAGES, max_tokens=12) == text  # greedy at temperature 0
    short = model.chat(MESSAGES, max_tokens=3)
    assert 1 <= len(short.split()) <= 3 and text.split()[:len(short.split())] == short.split()


@pytest.mark.slow
def test_transformers_unloadable_folder_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    model = load_chat_model(Settings.load({"COACH_LLM": "transformers", "COACH_LLM_MODEL": str(tmp_path)}))
    with pytest.raises(ModelUnavailableError, match=f"cannot load the transformers model in {tmp_path}: ") as caught:
        model.chat(MESSAGES, max_tokens=4)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_transformers_stopping_early_ends_generation(tiny_model_dir):
    import threading

    model = load_chat_model(Settings.load({"COACH_LLM": "transformers", "COACH_LLM_MODEL": str(tiny_model_dir)}))
    stream = model.stream(MESSAGES, max_tokens=200)
    next(stream)
    started = time.monotonic()
    stream.close()  # the reader gives up: the generation thread must stop, not run 200 tokens on
    assert time.monotonic() - started < 1.0, "generation kept running after the reader stopped"
    assert not any(t.name == "transformers-generate" for t in threading.enumerate())
