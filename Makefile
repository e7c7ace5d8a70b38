# The two commands a newcomer needs: `make run` (main job) and `make test`.
# Each builds .venv on first use; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean train-judge calibrate-grading train-coach-model train-relevance

# llama.cpp is built for AVX2/FMA/F16C, which every x86-64 server of the last decade has, not with
# -march=native: on a VM whose CPU advertises AMX without enabling it, the native build dies with SIGILL
# ("Illegal instruction" in libggml-cpu) at the first generated token. The wheel is built once per
# machine into LLAMA_WHEELS (pip's own cache would hand back a native build made earlier).
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS := $(HOME)/.cache/interview-coach/llama-cpp-avx2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU wheel on this machine's wheel path, not the CUDA build.
	$(BIN)/pip install "torch==2.13.0"
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	$(BIN)/pip install --find-links $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The UI on the bundled corpus and model at http://127.0.0.1:7860 (indexes the corpus first if needed).
run: $(STAMP)
	$(BIN)/coach ui

# Two workers, each a test file at a time on its own share of the cores (tests/conftest.py): many tests
# wait on a server, a browser or a subprocess, so two files at once take two thirds of the time.
test: $(STAMP) /usr/bin/chromium /usr/bin/espeak-ng
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# The browser tests drive Debian's chromium through Playwright; no browser is ever downloaded.
/usr/bin/chromium:
	$$(command -v sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo) apt-get install -y -qq --no-install-recommends chromium

# The voice tests speak known answers with Debian's espeak-ng (the UI also reads questions aloud with it).
/usr/bin/espeak-ng:
	$$(command -v sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo) apt-get install -y -qq --no-install-recommends espeak-ng

bench: $(STAMP)
	$(BIN)/python bench/bench_index.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_ask.py
	$(BIN)/python bench/bench_grade.py
	$(BIN)/python bench/bench_judge.py
	$(BIN)/python bench/bench_voice.py
	$(BIN)/python bench/bench_ui_load.py

# Retrain the judgement model from training/judge/data (seeded; 70 min on 2 idle CPU cores in bf16 where the
# CPU has it: 55 for the first stage, 15 for the second; uses a GPU if present).
train-judge: $(STAMP)
	$(BIN)/pip install -e ".[test,train]"
	HF_HUB_OFFLINE=1 $(BIN)/python training/train_judge.py --stage2

# Refit the grading calibration on the dev split of eval/datasets/graded_answers.jsonl; prints the test split
# (about 3 minutes on 2 idle cores; needs an index in COACH_HOME, which `make run` or `coach ingest` builds).
calibrate-grading: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python training/calibrate_grading.py

# Refit the relevance head that picks the extractive answer's sentences, on the bank questions' key points
# (seeded; about a minute on 2 idle cores; needs an index in COACH_HOME, which `make run` or `coach ingest` builds).
train-relevance: $(STAMP)
	$(BIN)/pip install -e ".[test,train]"
	HF_HUB_OFFLINE=1 $(BIN)/python training/train_relevance.py

# Distil the coaching LoRA into the bundled SmolLM2-135M from training/coach/data/examples.jsonl (seeded;
# about 68 minutes and 18 GB of memory on 2 CPU cores in bf16; 2.8 minutes on an H200) and convert it for llama.cpp.
# New targets first go through `python training/coach/assemble.py`, which checks each with the judge.
train-coach-model: $(STAMP)
	$(BIN)/pip install -e ".[test,train]"
	HF_HUB_OFFLINE=1 $(BIN)/python training/train_coach_model.py

clean:
	rm -rf $(VENV)
