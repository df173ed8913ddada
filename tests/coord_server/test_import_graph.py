"""The import graph of our packages, read from the source: no cycle anywhere in broker,
client, coord, storage and launchers together; no arrow out of coord but to `storage`;
client (installed and used alone by applications) and `storage` import nothing else of ours.

Every import statement counts, also one inside a function or under TYPE_CHECKING, so an
import moved into a function cannot hide a cycle. `python -m tests.coord_server.test_import_graph`
prints the same findings without pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("broker", "client", "coord", "launchers", "storage")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every module of ours that `module` imports, anywhere in its text."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in OURS)


def graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of ours it imports, for every module of `package`."""
    return {m: set(_imported(m, p)) for m, p in _modules(package).items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; coord is a few hundred modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def arrows_out(edges: dict[str, set[str]], allowed: tuple[str, ...]) -> list[str]:
    """`a -> b` for every import whose top-level package is not among `allowed`."""
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if b.split(".")[0] not in allowed)


def test_coord_has_no_import_cycle() -> None:
    assert cycles(graph("coord")) == []


def test_coord_imports_nothing_of_ours_but_storage() -> None:
    assert arrows_out(graph("coord"), ("coord", "storage")) == []


def test_storage_imports_nothing_of_ours() -> None:
    assert arrows_out(graph("storage"), ("storage",)) == []


def test_client_imports_nothing_of_ours() -> None:
    assert arrows_out(graph("client"), ("client",)) == []


def whole_graph() -> dict[str, set[str]]:
    """Every module of every package of ours, in one graph (a cycle may cross packages)."""
    edges: dict[str, set[str]] = {}
    for package in OURS:
        edges.update(graph(package))
    return edges


def test_no_import_cycle_across_our_packages() -> None:
    assert cycles(whole_graph()) == []


def test_the_checker_sees_a_cycle_and_an_arrow_out() -> None:
    """The checks above can fail: a two-module cycle and an arrow to the broker are found."""
    edges = {"coord.a": {"coord.b"}, "coord.b": {"coord.a", "broker.x"}, "coord.c": {"coord.a"}}
    assert cycles(edges) == [["coord.a", "coord.b"]]
    assert arrows_out(edges, ("coord",)) == ["coord.b -> broker.x"]
    module = ROOT / "coord" / "server" / "reads.py"
    assert "coord.server.datatree" in set(_imported("coord.server.reads", module))


if __name__ == "__main__":
    coord = graph("coord")
    print(f"coord: {len(coord)} modules, {sum(map(len, coord.values()))} imports of ours")
    print("cycles inside coord:", cycles(coord) or "none")
    print("arrows from coord to broker, client or launchers:", arrows_out(coord, ("coord", "storage")) or "none")
    print("arrows from storage to any package of ours:", arrows_out(graph("storage"), ("storage",)) or "none")
    print("arrows from client to any other package of ours:", arrows_out(graph("client"), ("client",)) or "none")
    everything = whole_graph()
    print(f"all packages: {len(everything)} modules; cycles:", cycles(everything) or "none")
