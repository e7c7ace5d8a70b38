import os
from pathlib import Path

import pytest

from interview_coach.errors import ConfigError
from interview_coach.settings import Settings


def test_environment_then_overrides():
    env = {"COACH_HOME": "/tmp/coach-a", "COACH_CHUNK_SIZE": "500"}
    s = Settings.load(env)
    assert s.home == Path("/tmp/coach-a") and s.chunk_size == 500
    s = Settings.load(env, home="/tmp/coach-b", chunk_size=None)
    assert s.home == Path("/tmp/coach-b") and s.chunk_size == 500
    assert s.index_dir == Path("/tmp/coach-b/index")


def test_unrelated_environment_is_ignored():
    assert Settings.load({"HOME": "/nowhere", "CHUNK_SIZE": "3"}).chunk_size == Settings().chunk_size


@pytest.mark.parametrize("env", [{"COACH_CHUNK_SIZE": "big"}, {"COACH_CHUNK_SIZE": "50"},
                                 {"COACH_CHUNK_OVERLAP": "900"}, {"COACH_INGEST_BATCH": "0"}])
def test_bad_values_are_config_errors(env):
    with pytest.raises(ConfigError):
        Settings.load(env)


def test_thread_pools_size_to_the_cpus_this_process_may_use():
    """A process limited to one CPU (a cpuset, `taskset`, or a pytest-xdist worker here) gets one llama.cpp
    and one Whisper thread, not one per core of the machine: spinning threads on a shared core crawl."""
    import subprocess
    import sys

    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from interview_coach.settings import usable_cpus\n"
            "from interview_coach.llm import default_gguf_path, LlamaCppChatModel\n"
            "from interview_coach.transcribe import FasterWhisperTranscriber\n"
            "print(usable_cpus(), LlamaCppChatModel(default_gguf_path()).threads, FasterWhisperTranscriber().threads)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "1", "1"], out.stderr[-2000:]
