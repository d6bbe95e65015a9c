"""The nanonlp modules import one another without a cycle, lazy imports inside functions included.

The graph is read from the source with ``ast`` (nothing is imported), over every ``.py`` file
found under ``src/nanonlp``, so it follows the package however its modules are laid out. An
edge goes to the module an import statement names, never to the packages above it: importing
``nanonlp.bpe.tokenizer`` runs ``nanonlp/bpe/__init__.py`` first, but counting that would make
every package that re-exports its submodules a cycle. ``from nanonlp.x import y`` is an edge to
``nanonlp.x.y`` when ``y`` is a submodule, else to ``nanonlp.x``; so a package ``__init__``
that re-exports its submodules is an edge package -> submodule, and a submodule that takes a
name from its own package's ``__init__`` closes a cycle (it should import the defining module).
Imports under ``if TYPE_CHECKING:`` count too (a cycle hidden from the interpreter is still
one for the reader); dynamic imports by string (``importlib.import_module``) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "nanonlp"


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (a package by its own name)."""
    files = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """The nanonlp modules that module ``name`` (read from ``path``) imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                here = name.split(".") if is_package else name.split(".")[:-1]
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        else:
            continue
        for target in targets:
            # `import nanonlp.a.b.c` where c is a name would not parse; trim to a known module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the nanonlp modules it imports."""
    files = module_files(src, package)
    modules = set(files)
    return {name: imported_modules(name, path, modules) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in ``graph`` as ``[a, b, ..., a]``, or None if it has none.

    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}  # absent: unseen, 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of mutually importing modules (strongly connected component).

    >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "e"}, "e": set()})
    [['a', 'b', 'a'], ['c', 'd', 'c']]
    """
    found, done = [], set()
    for node in sorted(graph):
        if node in done:
            continue
        reach = _reachable(graph, node)
        group = {n for n in reach if node in _reachable(graph, n)}
        done |= group | {node}
        if group:
            found.append(find_cycle({n: graph[n] & group for n in sorted(group)}))
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Nodes reachable from ``start`` by one or more edges."""
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
    return seen


def test_the_walk_finds_the_package():
    graph = import_graph()
    assert {"nanonlp", "nanonlp.errors", "nanonlp.bpe", "nanonlp.bpe.tokenizer"} <= set(graph)
    assert any(name == "nanonlp.cli" or name.startswith("nanonlp.cli.") for name in graph)
    # a re-export in a package __init__ is an edge package -> submodule
    assert "nanonlp.bpe.tokenizer" in graph["nanonlp.bpe"]
    # `from nanonlp import datasets` is an edge to the subpackage, not to nanonlp itself
    assert "nanonlp.datasets" in graph["nanonlp.seq2seq.data"]
    assert "nanonlp" not in graph["nanonlp.seq2seq.data"]


def test_the_graph_reader_on_a_fixture(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.sub import thing\n")
    (pkg / "sub" / "__init__.py").write_text("from .thing import f\n")
    (pkg / "sub" / "thing.py").write_text(
        "import os\n\ndef f():\n    from pkg import other\n    import pkg.sub.deep.name\n")
    (pkg / "other.py").write_text("from pkg.sub import f\nfrom .sub import thing\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.sub.thing"},
        "pkg.sub": {"pkg.sub.thing"},
        "pkg.sub.thing": {"pkg.other", "pkg.sub"},
        "pkg.other": {"pkg.sub", "pkg.sub.thing"},
    }
    assert find_cycle(graph) == ["pkg.sub.thing", "pkg.other", "pkg.sub", "pkg.sub.thing"]
    assert cycles(graph) == [["pkg.other", "pkg.sub", "pkg.sub.thing", "pkg.other"]]


def test_no_import_cycle():
    found = cycles(import_graph())
    if found:
        pytest.fail("import cycle(s) among nanonlp modules:\n"
                    + "\n".join(" -> ".join(cycle) for cycle in found))
