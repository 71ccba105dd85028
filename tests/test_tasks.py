"""`python3 tasks.py test` on a machine without the system programs the tests need: one short message, no pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parent.parent


def test_missing_espeak_is_named_with_its_install_command_and_pytest_never_starts(tmp_path: Path) -> None:
    # A PATH that has a package manager but no espeak-ng (the venv's python is called by its full path).
    (tmp_path / "apt-get").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "apt-get").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"} | {"PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), "test", "tests/test_tasks.py"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "espeak-ng" in output and "apt-get install espeak-ng" in output
    assert "Traceback" not in output
    assert "passed" not in output and "installing" not in output  # stopped before the venv and pytest
    assert len(output.strip().splitlines()) <= 4


def test_install_command_follows_the_platform(tmp_path: Path) -> None:
    assert tasks.install_command("espeak-ng", "darwin") == "brew install espeak-ng"
    (tmp_path / "dnf").write_text("#!/bin/sh\n")
    (tmp_path / "dnf").chmod(0o755)
    assert tasks.install_command("espeak-ng", "linux", path=str(tmp_path)).endswith("dnf install espeak-ng")


def test_nothing_is_reported_when_espeak_is_on_path(tmp_path: Path) -> None:
    (tmp_path / "espeak-ng").write_text("#!/bin/sh\n")
    (tmp_path / "espeak-ng").chmod(0o755)
    assert tasks.missing_test_tools(path=str(tmp_path)) is None
    assert "brew install espeak-ng" in (tasks.missing_test_tools(path=str(tmp_path / "empty"), platform="darwin") or "")
