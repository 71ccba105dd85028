"""Run the bot or its tests from a fresh checkout: `python3 tasks.py run` / `python3 tasks.py test`.

Both commands first make sure `.venv` exists and holds exactly the locked dependencies (reinstalling only when a
lock file changed), so the two Quick start commands in the README work on a machine that has only Python >= 3.11.
Only the standard library is used here, because nothing else is installed yet when this runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCKS = {"run": ROOT / "requirements.lock", "test": ROOT / "requirements-dev.lock"}
# pytest's "no tests were collected": a test command that ran nothing has not passed.
PYTEST_NO_TESTS = 5


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(task: str) -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs under whatever python3 the user has
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    lock = LOCKS[task]
    stamp = VENV / f".installed-{task}"
    wanted = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"installing {lock.name} into .venv ...", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
        subprocess.run([*pip, "-r", str(lock)], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        stamp.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in LOCKS:
        print(__doc__.strip().splitlines()[0])
        return 2
    task, rest = argv[0], argv[1:]
    try:
        python = ensure_environment(task)
    except subprocess.CalledProcessError as exc:
        print(f"installing dependencies failed (exit {exc.returncode}); see the pip output above.")
        return 1
    if task == "run":
        return subprocess.run([str(python), "-m", "bot", *rest], check=False, cwd=ROOT).returncode
    code = subprocess.run([str(python), "-m", "pytest", *rest], check=False, cwd=ROOT).returncode
    if code == PYTEST_NO_TESTS:
        print("pytest collected no tests: treating that as a failure.")
        return 1
    return code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
