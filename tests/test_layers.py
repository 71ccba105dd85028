"""The import graph of bot/: packages sit in layers, each imports only the layers below it, and nothing loops.

Every `import bot…` and `from bot… import …` counts, at module level, inside functions and under TYPE_CHECKING alike.
A package is a folder under bot/ (its modules and its `__init__`); a module directly under bot/ is its own unit.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

# Lowest first. A unit may import units of lower layers only; units of one layer are independent of each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"bot.i18n"}),  # the catalogs: every text shown to a member, in their language
    # errors every package raises, the settings-table reader, counters, the pre-start checks, and what each
    # package's `install` wires into (bot/wiring.py, where it exists), the garbage collector's pauses
    frozenset(
        {"bot.errors", "bot.config_tables", "bot.job_status", "bot.metrics", "bot.launch", "bot.wiring", "bot.garbage"}
    ),
    frozenset({"bot.store"}),  # the database and its records
    frozenset({"bot.limits"}),  # rate limits, kept in memory or in the database
    frozenset({"bot.llm", "bot.speech", "bot.voice"}),  # models, speech, the voice protocol
    frozenset({"bot.conversation", "bot.finetuning"}),  # the voice conversation; the fine-tuning client
    frozenset({"bot.evaluation"}),  # model tests, on the corrections the fine-tuning client holds out
    frozenset({"bot.discord"}),  # Discord renderers and handlers
    frozenset({"bot.config"}),  # the whole configuration: every package's settings
    frozenset({"bot.health"}),  # /healthz and /metrics
    frozenset({"bot.app"}),  # the composition root
    frozenset({"bot.__main__"}),
)

# The training service runs in its own process; nothing imports it (tests/training_service/test_isolation.py), and
# it imports only these modules of the bot.
TRAINING_SERVICE = "bot.training_service"
TRAINING_SERVICE_MAY_IMPORT = frozenset({"bot.config_tables", "bot.job_status", "bot.finetuning.training_files"})


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bot_modules() -> dict[str, Path]:
    """Every module of bot/ by dotted name, without the migration scripts (alembic loads those by path)."""
    found: dict[str, Path] = {}
    for path in sorted(BOT.rglob("*.py")):
        if (BOT / "store" / "migrations" / "versions") not in path.parents:
            found[module_name(path)] = path
    return found


MODULES = bot_modules()


def owning_module(name: str) -> str:
    """The module of bot/ that an imported name lives in (`bot.store.jobs.JobStore` → `bot.store.jobs`)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
        assert name, "an import of bot names no module of bot/"
    return name


def imports_of(module: str) -> Iterator[str]:
    """The modules of bot/ that `module` imports."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (owning_module(a.name) for a in node.names if a.name.split(".")[0] == "bot")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "bot":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else owning_module(base)


def unit_of(module: str) -> str:
    """The package a module belongs to, or the module itself when it sits directly under bot/."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (len(parts) == 2 and (BOT / parts[1]).is_dir()) else module


MODULE_GRAPH = {module: {i for i in imports_of(module) if i != module} for module in MODULES}
UNIT_EDGES = {
    (unit_of(module), unit_of(imported), module, imported)
    for module, imports in MODULE_GRAPH.items()
    for imported in imports
    if unit_of(module) != unit_of(imported)
}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(unit: str) -> int:
    return next(number for number, layer in enumerate(LAYERS) if unit in layer)


def test_every_package_and_top_level_module_has_a_layer() -> None:
    units = {unit_of(module) for module in MODULES} - {"bot", TRAINING_SERVICE}
    placed = set().union(*LAYERS)
    assert sorted(units - placed) == [], "a new package needs its place in LAYERS"


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    offenders = sorted(
        f"{module} imports {imported} ({importer} may not import {target})"
        for importer, target, module, imported in UNIT_EDGES
        if TRAINING_SERVICE not in (importer, target) and target != "bot" and layer_of(target) >= layer_of(importer)
    )
    assert offenders == []


def test_the_training_service_imports_only_its_listed_modules_of_the_bot() -> None:
    imported = {imported for importer, _, _, imported in UNIT_EDGES if importer == TRAINING_SERVICE}
    assert sorted(imported - TRAINING_SERVICE_MAY_IMPORT) == []


def test_no_import_loops_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for importer, target, _, _ in UNIT_EDGES:
        graph.setdefault(importer, set()).add(target)
    assert cycles(graph) == []


def test_no_import_loops_between_modules() -> None:
    assert cycles(MODULE_GRAPH) == []


def test_the_loop_finder_finds_a_loop() -> None:
    # The tests above pass on an empty answer; this is the proof that the finder can give another.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
