"""Build hook: copy the repository's top-level data folders (corpus/, eval/datasets/, the judge's pairs) into
the built package as interview_coach/data/<name>, so that a plain `pip install .` carries them.

Everything else about the build is in pyproject.toml. The folders stay at the top of the repository, where
people edit them; an editable install reads them there (see src/interview_coach/resources.py).
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ROOT / "src" / "interview_coach" / "resources.py"


def bundled_data() -> dict[str, str]:
    """resources.BUNDLED_DATA, the one list of what to bundle. Loaded from its file alone, because
    importing the package would import its dependencies, which a build does not have."""
    spec = importlib.util.spec_from_file_location("_coach_resources", RESOURCES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BUNDLED_DATA


def copy_data(target: Path) -> None:
    for name, source in bundled_data().items():
        folder = ROOT / source
        if not folder.is_dir():
            raise SystemExit(f"cannot bundle {source}/: it is missing under {ROOT}")
        shutil.rmtree(target / name, ignore_errors=True)  # a reused build/ must not keep deleted files
        shutil.copytree(folder, target / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install reads the checkout's folders instead
            copy_data(Path(self.build_lib) / "interview_coach" / "data")


setup(cmdclass={"build_py": BuildPyWithData})
