"""The package's import graph has no circle: every module can be read knowing only what it imports."""

from __future__ import annotations

import ast

from convlab.study import paths


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
    assert "convlab.training.workers" in graph["convlab.experiments.plans"]
    assert "convlab.paper.build" in graph["convlab.report.report"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def package_of(module: str) -> str:
    """The subpackage a module belongs to ("convlab.study.paths" -> "study"); the package's own __init__ is ""."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def allowed(importer: str, imported: str) -> bool:
    """Whether a module of package `importer` may import one of package `imported` (`convlab.LAYERS`, `convlab.BESIDE`)."""
    import convlab

    if imported in ("", importer):
        return True
    order = list(convlab.LAYERS)
    if importer in convlab.BESIDE:
        return imported in order[: order.index(convlab.BESIDE[importer]) + 1]
    if imported in convlab.BESIDE:
        return importer in order and order.index(importer) > order.index(convlab.BESIDE[imported])
    return importer in order and imported in order and order.index(imported) < order.index(importer)


def test_every_import_runs_down_the_layers():
    import convlab

    graph = import_graph()
    packages = {package_of(module) for module in graph} - {""}
    assert packages == set(convlab.LAYERS) | set(convlab.BESIDE), "every subpackage has its place"
    wrong = sorted(
        f"{module} -> {imported}"
        for module, imports in graph.items()
        for imported in imports
        if imported in graph and not allowed(package_of(module), package_of(imported))
    )
    assert wrong == []


def test_the_layer_rule_refuses_an_upward_import():
    assert allowed("analysis", "training") and allowed("store", "study") and allowed("report", "paper")
    assert allowed("serving", "datasets") and allowed("serving", "training") and allowed("run", "serving")
    assert not allowed("training", "analysis") and not allowed("study", "store") and not allowed("paper", "report")
    assert not allowed("serving", "analysis") and not allowed("datasets", "serving") and not allowed("training", "serving")


def test_each_subpackage_says_what_it_holds_and_may_import():
    for init in sorted(paths.PACKAGE_DIR.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "May import" in doc or "may import" in doc.lower(), init


def test_no_module_is_longer_than_a_sitting():
    lengths = {
        path.relative_to(paths.PACKAGE_DIR).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in paths.PACKAGE_DIR.rglob("*.py")
    }
    assert len(lengths) > 50 and {name: n for name, n in lengths.items() if n > 400} == {}
