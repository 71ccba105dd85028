"""Run the bot or its tests from a fresh checkout: `python3 tasks.py run` / `python3 tasks.py test`.

Both commands first make sure `.venv` exists and holds exactly the locked dependencies (reinstalling only when a
lock file changed), so the two Quick start commands in the README work on a machine that has only Python >= 3.11.
Only the standard library is used here, because nothing else is installed yet when this runs.
`test` first checks the system programs the tests need and names the command that installs each missing one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCKS = {"run": ROOT / "requirements.lock", "test": ROOT / "requirements-dev.lock"}
# pytest's "no tests were collected": a test command that ran nothing has not passed.
PYTEST_NO_TESTS = 5

# System programs the test suite runs (not Python packages: pip cannot install them), with the package that holds
# each one per package manager. PostgreSQL is not here: the PostgreSQL tests run only when TEST_DATABASE_URL names a
# server (tests/store/conftest.py), and the server may live anywhere.
TEST_TOOLS = {
    "espeak-ng": {"apt-get": "espeak-ng", "dnf": "espeak-ng", "pacman": "espeak-ng", "brew": "espeak-ng"},
}


def install_command(tool: str, platform: str = sys.platform, path: str | None = None) -> str:
    """The command that installs `tool` here: Homebrew on macOS, else the first package manager found on PATH."""
    packages = TEST_TOOLS[tool]
    if platform == "darwin":
        return f"brew install {packages['brew']}"
    if platform.startswith("win"):
        return f"install {tool} and put it on PATH (e.g. winget install {tool})"
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    managers = {"dnf": "dnf install", "pacman": "pacman -S", "apt-get": "apt-get install"}
    for manager, verb in managers.items():
        if shutil.which(manager, path=path):
            return f"{sudo}{verb} {packages[manager]}"
    return f"{sudo}apt-get install {packages['apt-get']}"


def missing_test_tools(path: str | None = None, platform: str = sys.platform) -> str | None:
    """One short message naming each missing program and how to install it, or None when all are there."""
    missing = [tool for tool in TEST_TOOLS if shutil.which(tool, path=path) is None]
    if not missing:
        return None
    lines = [f"The tests need {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not on PATH:"]
    lines += [f"  {tool}: {install_command(tool, platform, path)}" for tool in missing]
    lines.append("Install, then run `python3 tasks.py test` again (.ci/run installs them by itself).")
    return "\n".join(lines)


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
    if task == "test" and (problem := missing_test_tools()):
        print(problem, file=sys.stderr)
        return 1
    try:
        python = ensure_environment(task)
    except subprocess.CalledProcessError as exc:
        print(f"installing dependencies failed (exit {exc.returncode}); see the pip output above.")
        return 1
    if task == "run":
        return subprocess.run([str(python), "-m", "bot", *rest], check=False, cwd=ROOT).returncode
    if not os.environ.get("TEST_DATABASE_URL"):
        print("(storage tests: SQLite only; for PostgreSQL too, export TEST_DATABASE_URL=$(bash .ci/postgres.sh))")
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
