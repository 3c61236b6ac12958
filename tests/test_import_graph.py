"""The modules of heron/ and powergrid/ import each other in one direction only.

Read from the source (no import runs): every import of a module of ours, at the top or inside a
function (an import inside a function does not make a circle go away, it hides it), except
those under ``if TYPE_CHECKING:``, which never run. Importing ``a.b.c`` runs the packages ``a``
and ``a.b`` first, and a package runs what its ``__init__`` imports: both count. Only a
module's own parent packages do not (Python runs them before the module, whatever it imports).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("heron", "powergrid")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node except what sits under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that module ``name`` imports when it runs."""
    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    found = {resolve(t) for t in targets if t.split(".")[0] in PACKAGES} - {None, name}
    packages_run = {".".join(m.split(".")[:k]) for m in found for k in range(1, m.count(".") + 1)}
    ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    return (found | {p for p in packages_run if p in known}) - ancestors


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_walk_finds_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_modules_import_each_other_in_one_direction_only():
    """Before: registry -> devices -> device_agent -> registry (the registry built the device
    classes it listed); grid_agent -> site_process -> envs.remote_sites -> envs.exchange ->
    agents.site -> grid_agent (GridAgent.run served the site through the envs' module), both
    held apart by imports inside functions; powergrid.core's ``__init__`` built the core, which
    imports the agents, whose modules use core.safety; envs.render used robustness, which uses
    the envs. 30 modules were one circle."""
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert sum(map(len, graph.values())) > 200  # the walk sees the imports
    circles = cycles(graph)
    assert not circles, "modules that import each other: " + "; ".join(
        " <-> ".join(part) + " (" + ", ".join(f"{m} imports {sorted(graph[m] & set(part))}" for m in part) + ")" for part in circles)
