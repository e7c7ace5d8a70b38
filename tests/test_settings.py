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
