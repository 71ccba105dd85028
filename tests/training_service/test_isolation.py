"""The bot and the training service stay apart: the bot never loads the trainer, and the service process itself
loads neither Discord's library nor torch (only its training processes do)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_service_process_imports_neither_hikari_nor_torch() -> None:
    code = (
        "import sys, bot.training_service.__main__, bot.training_service.service,"
        " bot.training_service.job_queue, bot.training_service.api;"
        "print(sorted(m for m in ('hikari', 'torch', 'transformers', 'trl') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_nothing_outside_the_training_service_package_imports_it() -> None:
    offenders: list[str] = []
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "extensions").rglob("*.py")]:
        if (ROOT / "bot" / "training_service") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "bot.training_service" or n.startswith("bot.training_service.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
