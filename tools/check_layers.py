"""The package's one-way dependency rule, checked from the source.

Every import between the package's modules counts: at module level, under
``if TYPE_CHECKING:`` and inside functions (what a type checker and a reader follow,
not only what ``import sa_sequencing`` runs).  The rule::

    errors  <-  rules  <-  store  <-  dialects  <-  allocation  <-  service | orm  <-  cli

1. a module imports only from its own layer and the layers to its left;
2. ``service`` and ``orm`` are siblings: neither imports the other;
3. the top (``cli``, ``report``, ``alembic``) uses the package's documented paths
   (``from .. import X``, ``sa_sequencing.errors``, ...) or its own subpackage;
4. no ``_private`` name is imported from another module;
5. no import cycle anywhere.

Run ``python tools/check_layers.py`` from the project root (exit 1 on a violation);
``tests/test_layers.py`` runs it, and shows it fails on an upward import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from graphlib import CycleError
from graphlib import TopologicalSorter
from pathlib import Path

#: Layer of each top-level name of the package (a subpackage or a root module).
LAYERS: dict[str, int] = {
    "errors": 0,
    "faults": 0,
    "retry": 0,
    "logs": 0,
    "rules": 1,
    "store": 2,
    "dialects": 3,
    "sqlite": 3,
    "allocation": 4,
    "service": 5,
    "orm": 5,
    "__init__": 6,
    "alembic": 6,
    "cli": 6,
    "report": 6,
    "__main__": 7,
}
SIBLINGS = {frozenset({"service", "orm"})}
#: Modules that may import only the package's public names (and their own subpackage).
PUBLIC_ONLY = {"cli", "report", "alembic", "__main__"}
#: The documented import paths: the package root and these modules.
PUBLIC_PATHS = {
    "__init__",
    "errors",
    "retry",
    "sqlite",
    "dialects",
    "orm",
    "alembic",
    "cli",
    "report",
}


def modules(root: Path) -> dict[str, Path]:
    """Dotted name (without the package name) -> file, migrations excluded."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "migrations":
            continue
        name = ".".join(rel.with_suffix("").parts)
        found[name.removesuffix(".__init__") if name != "__init__" else "__init__"] = path
    return found


def imports(name: str, path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, imported module, imported name) for every package import of a module."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    if name == "__init__":
        package = ""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
            target = ".".join([*parts, *([node.module] if node.module else [])])
        elif node.module and (node.module + ".").startswith("sa_sequencing."):
            target = node.module.removeprefix("sa_sequencing").lstrip(".")
        else:
            continue
        for alias in node.names:
            yield node.lineno, target or "__init__", alias.name


def layer_of(module: str) -> tuple[str, int]:
    top = module.split(".", maxsplit=1)[0]
    if top not in LAYERS:
        raise KeyError(f"{module}: no layer; add {top!r} to LAYERS in tools/check_layers.py")
    return top, LAYERS[top]


def violations(root: Path) -> list[str]:
    mods = modules(root)
    found: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        top, level = layer_of(name)
        where = f"{path}"
        for line, source, imported in imports(name, path):
            # `from .pkg import module` imports the module
            target = f"{source}.{imported}" if f"{source}.{imported}" in mods else source
            if target not in mods:
                found.append(f"{where}:{line}: imports unknown module {target!r}")
                continue
            if target != name:
                graph[name].add(target)
            ttop, tlevel = layer_of(target)
            if ttop == top:
                pass
            elif frozenset({top, ttop}) in SIBLINGS:
                found.append(f"{where}:{line}: {top} imports its sibling {target} ({imported})")
            elif tlevel > level:
                found.append(
                    f"{where}:{line}: {name} (layer {top}) imports {imported} from the upper "
                    f"layer {target}"
                )
            elif top in PUBLIC_ONLY and target not in PUBLIC_PATHS and ttop != top:
                found.append(
                    f"{where}:{line}: {name} uses the internal {target}.{imported}; "
                    "import the public name from the package instead"
                )
            if imported.startswith("_") and not imported.startswith("__") and target != name:
                found.append(f"{where}:{line}: imports the private {imported} from {target}")
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        found.append(f"import cycle: {' -> '.join(cycle.args[1])}")
    return found


def main() -> int:
    problems = violations(Path("sa_sequencing"))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
