# The two commands a newcomer needs: `make run` (main job) and `make test`.
# Each builds .venv on first use; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU wheel on this machine's wheel path, not the CUDA build.
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/coach ingest
	$(BIN)/coach search "why divide by sqrt(d_k)?"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_index.py

clean:
	rm -rf $(VENV)
