"""The layers of the tree, held: each folder imports only from the layers below it.

    core (l2m_edge/: config, model, data, train, metrics, checkpoints) and kernels/
      < contract/ (signature, manifest) < backends/ < export/ < runtime/ < bench/ < the CLI

Every import counts, module-level or inside a function (lazy imports still tie the layers). No module
may reach itself again through imports either: a circle is a strongly connected component of the
import graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# (layer, folder, import prefix), lowest first
LAYERS = [
    ("core", REPO / "l2m_edge", "l2m_edge"),
    ("kernels", REPO / "kernels", "l2m_edge.kernels"),
    ("contract", REPO / "contract", "l2m_edge.contract"),
    ("backends", REPO / "backends", "l2m_edge.backends"),
    ("export", REPO / "export", "l2m_edge.export"),
    ("runtime", REPO / "runtime", "l2m_edge.runtime"),
    ("bench", REPO / "bench", "l2m_edge.bench"),
    ("cli", REPO / "l2m_edge" / "cli", "l2m_edge.cli"),
    ("cli", REPO / "l2m_edge" / "__main__.py", "l2m_edge.__main__"),  # `python -m l2m_edge` is the CLI
]
RANK = {"core": 0, "kernels": 0, "contract": 1, "backends": 2, "export": 3, "runtime": 4, "bench": 5, "cli": 6}


def layer_of_module(module: str) -> str | None:
    """The layer a dotted l2m_edge module belongs to (the longest matching prefix), None outside the package."""
    best = None
    for name, _, prefix in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[1]):
                best = (name, prefix)
    return best[0] if best else None


def _home(path: Path) -> tuple[str, Path, str]:
    """The (layer, folder, import prefix) holding `path`: the most specific one."""
    return max((entry for entry in LAYERS if path == entry[1] or path.is_relative_to(entry[1])), key=lambda entry: len(entry[1].parts))


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) for every import statement in `path`, relative ones resolved against `package`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from l2m_edge import cli` imports the name's layer, not the package's
            names = [f"{module}.{alias.name}" for alias in node.names]
            found += [(node.lineno, module)] + [(node.lineno, name) for name in names if layer_of_module(name) != layer_of_module(module)]
    return found


def _package(path: Path) -> str:
    """The dotted package a file's relative imports resolve against."""
    _, folder, prefix = _home(path)
    if folder.suffix:  # a single-file entry (__main__.py)
        return prefix.rsplit(".", 1)[0]
    return ".".join([*prefix.split("."), *path.relative_to(folder).parent.parts])


def violations() -> list[str]:
    found = []
    for _, folder, _ in LAYERS:
        for path in [folder] if folder.suffix else sorted(folder.rglob("*.py")):
            own = _home(path)[0]
            for line, module in imports_of(path, _package(path)):
                target = layer_of_module(module)
                if target is None or target == own:
                    continue
                if RANK[target] > RANK[own] or (target == "bench" and own != "cli"):
                    found.append(f"{path.relative_to(REPO)}:{line} ({own}) imports {module} ({target})")
    return sorted(set(found))


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for _, folder, prefix in LAYERS:
        for path in [folder] if folder.suffix else sorted(folder.rglob("*.py")):
            parts = [] if folder.suffix else list(path.relative_to(folder).with_suffix("").parts)
            modules[".".join([prefix, *(parts[:-1] if parts[-1:] == ["__init__"] else parts)])] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports: `from m import n` reaches m.n where that is a module, else m."""
    modules = module_files()

    def owner(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = _package(path)
        reached = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                reached |= {owner(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [node.module or ""]) if node.level else node.module or ""
                reached |= {owner(f"{base.rstrip('.')}.{alias.name}") for alias in node.names}
        graph[name] = reached - {"", name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        work = [(root, iter(sorted(graph[root])))]
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = stack[stack.index(node) :]
                del stack[stack.index(node) :]
                if len(component) > 1:
                    circles.append(sorted(component))
    return sorted(circles)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [("l2m_edge.model.editor", "core"), ("l2m_edge.kernels.latent", "kernels"), ("l2m_edge.backends.registry", "backends"), ("l2m_edge.cli.run", "cli"), ("torch", None)],
)
def test_modules_are_placed_in_their_layer(module: str, layer: str | None) -> None:
    assert layer_of_module(module) == layer


def test_the_checker_catches_an_upward_import() -> None:
    probe = REPO / "kernels" / "_layer_probe.py"
    probe.write_text("def f():\n    from l2m_edge.runtime.pipeline import Pipeline\n")
    try:
        assert violations() == ["kernels/_layer_probe.py:2 (kernels) imports l2m_edge.runtime.pipeline (runtime)"]
    finally:
        probe.unlink()


def test_no_module_imports_itself_back() -> None:
    assert import_circles(import_graph()) == []


def test_the_checker_finds_a_circle() -> None:
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    first, second = REPO / "kernels" / "_circle_a.py", REPO / "kernels" / "_circle_b.py"
    first.write_text("from . import _circle_b\n")
    second.write_text("def f():\n    from ._circle_a import _circle_b\n")  # a lazy import closes it
    try:
        assert ["l2m_edge.kernels._circle_a", "l2m_edge.kernels._circle_b"] in import_circles(import_graph())
    finally:
        first.unlink()
        second.unlink()
