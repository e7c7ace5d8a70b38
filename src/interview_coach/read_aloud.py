"""The question read aloud: a WAV of Debian's espeak-ng speaking a text, cached per distinct text.

Speech to text is transcribe.py's job; this module only speaks, and only when espeak-ng is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .transcribe import AudioError

ESPEAK = "espeak-ng"
READ_ALOUD_WPM = 150  # espeak-ng's default of 175 is hurried for a question one has to think about


def can_read_aloud() -> bool:
    return shutil.which(ESPEAK) is not None


def read_aloud(text: str, folder: Path | None = None) -> Path:
    """A WAV of espeak-ng reading `text`; one file per distinct text, reused (questions repeat)."""
    text = " ".join((text or "").split())
    if not text:
        raise AudioError("there is no question to read aloud")
    if not can_read_aloud():
        raise AudioError("reading aloud needs espeak-ng: `sudo apt-get install espeak-ng`")
    folder = folder or Path(tempfile.gettempdir()) / "interview-coach-voice"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha1(text.encode()).hexdigest()[:16]}.wav"
    if not path.is_file():
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        # The text goes in on stdin, so a question that starts with "-" is not read as an option.
        done = subprocess.run([ESPEAK, "-s", str(READ_ALOUD_WPM), "-w", str(partial)], input=text, text=True, check=False,
                              capture_output=True, timeout=60)
        if done.returncode != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            raise AudioError(f"espeak-ng could not read the question: {done.stderr.strip()[:200] or done.returncode}")
        partial.replace(path)
    return path
