"""Where the coach's bundled files are: the default corpus, eval datasets, judge pairs, prompts and trained models.
Leaves out reading them. Standard library only: setup.py loads this file on its own to know what to bundle.

An installed wheel carries copies of the repository's top-level data folders under interview_coach/data
(setup.py puts them there); an editable install has no such copies and uses the checkout's folders.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
# src/interview_coach -> the repository root; only meaningful in a source checkout (editable install).
CHECKOUT_DIR = PACKAGE_DIR.parents[1]

# Folder under DATA_DIR in the wheel -> the folder in the repository it is copied from at build time.
BUNDLED_DATA = {
    "corpus": "corpus",
    "eval_datasets": "eval/datasets",
    "judge_data": "training/judge/data",
}


def _bundled(name: str) -> Path:
    """The packaged copy when the package carries one (a wheel install), else the checkout's folder."""
    packaged = DATA_DIR / name
    return packaged if packaged.is_dir() else CHECKOUT_DIR / BUNDLED_DATA[name]


def corpus_dir() -> Path:
    """The bundled corpus (notes, sources, question bank): the default `COACH_CORPUS`."""
    return _bundled("corpus")


def eval_datasets_dir() -> Path:
    """The bundled evaluation datasets read by `coach eval` when no --dataset is given."""
    return _bundled("eval_datasets")


def judge_data_dir() -> Path:
    """The judgement model's hand-written pairs (its held-out split is scored by `coach eval judge`)."""
    return _bundled("judge_data")


def prompts_file() -> Path:
    return PACKAGE_DIR / "prompts.yaml"


def judge_model_dir() -> Path:
    """The trained judge shipped inside the package (package data; training writes it here)."""
    return PACKAGE_DIR / "models" / "judge"


def grading_judge_dir() -> Path:
    """The cross-encoder the grader reads misconceptions with (package data; see its MODEL_CARD.md)."""
    return PACKAGE_DIR / "models" / "grading_judge"


def grading_calibration_file() -> Path:
    """Coverage -> score mapping fitted by training/calibrate_grading.py (package data)."""
    return PACKAGE_DIR / "models" / "grading" / "calibration.json"


def coach_adapter_file() -> Path:
    """Our distilled coaching LoRA for the bundled SmolLM2 (training/train_coach_model.py)."""
    return PACKAGE_DIR / "models" / "coach" / "adapter.gguf"


def relevance_head_file() -> Path:
    """Which note sentences answer a question, for the extractive answer (training/train_relevance.py)."""
    return PACKAGE_DIR / "models" / "relevance" / "head.json"
