"""How far the unit tests mirror the source tree: modules under bot/ with a test at tests/<package>/test_<module>.py.

    .venv/bin/python bench/layout.py [--missing]

Counts every module under bot/ except `__init__.py`, `__main__.py` and the migration scripts; a module is mirrored
when its unit test sits at the same path under tests/ (bot/store/answers.py → tests/store/test_answers.py,
bot/config.py → tests/test_config.py). `--missing` lists the modules without one.
Last line: {"bench": "layout", "modules": …, "mirrored": …}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_NAMES = {"__init__.py", "__main__.py"}
SKIPPED_DIRS = (Path("store/migrations/versions"),)


def modules(bot: Path) -> list[Path]:
    """The modules under bot/, relative to it, that a unit test could mirror."""
    found: list[Path] = []
    for path in sorted(bot.rglob("*.py")):
        relative = path.relative_to(bot)
        if path.name in SKIPPED_NAMES or any(relative.is_relative_to(skipped) for skipped in SKIPPED_DIRS):
            continue
        found.append(relative)
    return found


def mirrored_test(tests: Path, module: Path) -> Path:
    """Where the unit test of a module (relative to bot/) belongs."""
    return tests / module.parent / f"test_{module.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--missing", action="store_true", help="list the modules without a mirrored test")
    args = parser.parse_args()
    every = modules(ROOT / "bot")
    missing = [module for module in every if not mirrored_test(ROOT / "tests", module).is_file()]
    if args.missing:
        for module in missing:
            print(f"bot/{module} (no {mirrored_test(Path('tests'), module)})")
    print(f"{len(every) - len(missing)} of {len(every)} modules have a unit test at the mirrored path")
    print(json.dumps({"bench": "layout", "modules": len(every), "mirrored": len(every) - len(missing)}))


if __name__ == "__main__":
    main()
