"""The package's import graph has no circle: every module can be read knowing only what it imports."""

from __future__ import annotations

import ast

from convlab import paths


def import_graph() -> dict[str, set[str]]:
    """Each convlab module and the convlab modules it imports (at any depth of its code, lazy imports included)."""
    graph = {}
    for path in sorted(paths.PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(paths.PACKAGE_DIR.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convlab"):
                # `from convlab.paper import build` imports the module convlab.paper.build, not only the package
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("convlab")}
        graph[name] = {module for module in found if module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, done, path = [], set(), []

    def visit(module: str) -> None:
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                found.append(path[path.index(imported) :] + [imported])
            elif imported in graph and imported not in done:
                visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert "convlab.workers" in graph["convlab.experiments"] and "convlab.paper.build" in graph["convlab.report"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
