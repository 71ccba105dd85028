"""Folds a LoRA adapter into its base model and writes a whole model directory that any server can load by path.

Runs as its own process (`python -m bot.training_service.merge ADAPTER_DIR OUT_DIR`): it imports torch and holds a whole
model in memory, which the service's event loop must not. The directory is written under a temporary name beside
OUT_DIR and renamed at the end, so a server never loads half a model and a crash leaves no directory by that name.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

# A merged model is complete when these are there (weights in one or more safetensors files besides).
REQUIRED_FILES = ("config.json", "tokenizer_config.json")


def merge(adapter_dir: Path, out_dir: Path) -> None:
    """Merge `adapter_dir` (PEFT LoRA, as the worker saves it) into its base; the result lands at `out_dir`."""
    peft: Any = importlib.import_module("peft")
    transformers: Any = importlib.import_module("transformers")

    config: dict[str, Any] = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = str(config["base_model_name_or_path"])
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    peft_model: Any = peft.AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype="auto")
    merged: Any = peft_model.merge_and_unload()
    merged.save_pretrained(str(staging))
    tokenizer: Any = transformers.AutoTokenizer.from_pretrained(base)
    tokenizer.save_pretrained(str(staging))
    missing = [name for name in REQUIRED_FILES if not (staging / name).exists()]
    if missing:
        raise RuntimeError(f"the merged model lacks {', '.join(missing)}")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)


def is_complete(directory: Path) -> bool:
    return directory.is_dir() and all((directory / name).exists() for name in REQUIRED_FILES)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bot.training_service.merge ADAPTER_DIR OUT_DIR", file=sys.stderr)
        return 2
    merge(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
