"""The package's shape (ARCHITECTURE.md): no import cycles, and every import goes down the layers.

Every module under src/bitframe is parsed with ``ast``, so all imports count: module-level,
function-level (the lazy ones that keep start-up fast), relative, and those under
``if TYPE_CHECKING:``, which count for the layers but not for cycles (they never run, and a
checker may name the type of what it checks). A module belongs to a *stage*, the first name
under ``bitframe`` (``bitframe.power.result`` is in ``power``), and each stage to a layer; a
new module inside a stage is covered without being listed here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "bitframe"

#: Layers, lowest first. A module may import its own stage and any stage of a lower layer.
#: Top-level modules not listed here (``errors.py``-like helpers added later) are shared, layer 0:
#: if one imports a stage, this test says so and it needs a line here.
LAYERS: dict[str, int] = {
    "errors": 0, "io": 0, "registry": 0, "resources": 0,
    "protocol": 1, "data": 1,
    "randomise": 2, "power": 2,
    "analyse": 3, "service": 3,
    "simulate": 4, "report": 4, "register": 4,
    "cli": 5, "__main__": 5, "api": 5, "__init__": 5,  # the command line; the notebook API and the root exporting it
}
SHARED = 0

#: Imports between two different stages of one layer that are allowed, with the reason.
#: Layer 0 is one stage (shared helpers may use each other; cycles are still refused).
SAME_LAYER_ALLOWED: dict[tuple[str, str], str] = {
    ("__main__", "cli"): "`python -m bitframe` runs the command line",
    ("__init__", "api"): "`import bitframe as bf` exposes the notebook API (lazily)",
    ("register", "report"): "the registration pack is written with the report's HTML/PDF writer and table model",
}

#: The one name lower layers may read from the package root: Python runs the root before any
#: of its submodules, and the root defines ``__version__`` before it imports anything.
ROOT_CONSTANTS = frozenset({"__version__"})


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ("bitframe", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    if LAYERS.get(parts[1], SHARED) == SHARED and (PACKAGE_DIR / f"{parts[1]}.py").exists():
        return "shared"
    return parts[1]


def _layer(stage: str) -> int:
    return SHARED if stage == "shared" else LAYERS[stage]


def _known(name: str) -> str:
    """The module an import loads: ``name`` itself, or the package defining the imported name."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _reads_only_root_constants(tree: ast.Module) -> bool:
    return all(node.attr in ROOT_CONSTANTS for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "bitframe")


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes under ``if TYPE_CHECKING:``."""
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                guarded.update(ast.walk(statement))
    return guarded


def _imports(module: str) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, type only) for every import of a bitframe module in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "bitframe" and _reads_only_root_constants(tree):
                    continue
                if alias.name.split(".")[0] == "bitframe":
                    yield _known(alias.name), node.lineno, node in type_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            if source.split(".")[0] != "bitframe":
                continue
            for alias in node.names:
                if source == "bitframe" and alias.name in ROOT_CONSTANTS:
                    continue
                yield _known(f"{source}.{alias.name}"), node.lineno, node in type_only


@cache
def import_graph(*, runtime_only: bool = False) -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for module in MODULES:
        edges: dict[str, int] = {}
        for target, line, type_only in _imports(module):
            if target != module and not (runtime_only and type_only):
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
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
    return sorted(found)


def test_every_subpackage_has_a_layer():
    stages = {module.split(".")[1] for module in MODULES if module.count(".") >= 1}
    packages = {s for s in stages if (PACKAGE_DIR / s / "__init__.py").exists()}
    assert sorted(packages - set(LAYERS)) == [], "give each new subpackage a layer in LAYERS"


def test_no_import_cycles():
    graph = import_graph(runtime_only=True)
    described = []
    for cycle in _cycles(graph):
        members = set(cycle)
        edges = [f"{a} -> {b} (line {line})" for a in cycle for b, line in graph[a].items() if b in members]
        described.append(" | ".join(edges))
    assert described == [], "import cycles:\n" + "\n".join(described)


def test_imports_go_down_the_layers():
    upward, sideways = [], []
    for module, edges in import_graph().items():
        stage = _stage(module)
        for target, line in edges.items():
            target_stage = _stage(target)
            if target_stage == stage:
                continue
            low, high = _layer(stage), _layer(target_stage)
            where = f"{MODULES[module].relative_to(PACKAGE_DIR.parent)}:{line}: {module} imports {target}"
            if high > low:
                upward.append(f"{where} ({stage}, layer {low} -> {target_stage}, layer {high})")
            elif high == low and (stage, target_stage) not in SAME_LAYER_ALLOWED:
                sideways.append(f"{where} (both layer {low}; allow it in SAME_LAYER_ALLOWED with a reason)")
    assert upward == [], "imports going up the layers:\n" + "\n".join(upward)
    assert sideways == [], "imports between stages of one layer:\n" + "\n".join(sideways)


def test_the_graph_sees_lazy_relative_and_type_only_imports():
    """The checks above are only as good as the graph: spot-check imports of each kind."""
    graph = import_graph()
    assert "bitframe.analyse.plan" in graph["bitframe.cli.analyse"]  # inside a command's body
    assert "bitframe.protocol.schema" in graph["bitframe.analyse.plan"]  # under TYPE_CHECKING
    assert "bitframe.protocol.schema" not in import_graph(runtime_only=True)["bitframe.analyse.plan"]
    assert "bitframe.cli.power" in graph["bitframe.cli"]  # `from bitframe.cli import power` is the submodule
    assert "bitframe.power" in graph["bitframe.power.protocol"]  # a name from a package is its __init__
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
