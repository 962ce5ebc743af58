"""The package's layering, read from the source with ``ast``: no import cycle inside ``respcore``, and the
library never imports the study layer."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "respcore"
STUDY_LAYER = ("respcore.experiments", "respcore.study", "respcore.scorecard", "respcore.plots",
               "respcore.published", "respcore.realdata", "respcore.realdata_fbs", "respcore.realdata_maps",
               "respcore.results_real", "respcore.results_study")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(modules: set[str] | None = None) -> dict[str, set[str]]:
    """module -> the respcore modules it imports (anywhere in the file, functions included)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(node, name, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:  # respcore.train.fit.x -> respcore.train.fit
                    target = target.rpartition(".")[0]
                if target.startswith("respcore") and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_checker_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    node = ast.parse("from ..fileio import atomic_write").body[0]
    assert resolve(node, "respcore.train.fit", False) == "respcore.fileio"
    assert resolve(node, "respcore.datasets", True) == "respcore.fileio"


def test_no_import_cycle_inside_respcore() -> None:
    graph = import_graph()
    assert "respcore.train.fit" in graph["respcore.train.cv"]  # the graph sees relative imports
    # a package's __init__ re-exports its modules; a module importing a sibling through the package
    # (``from . import runs``) is an edge to that module, not a cycle through __init__
    cycle = find_cycle({m: {t for t in e if not (t == m.rpartition(".")[0])} for m, e in graph.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_library_never_imports_the_study_layer() -> None:
    graph = import_graph()
    library = [m for m in graph if not m.startswith(STUDY_LAYER) and m != "respcore"]
    bad = {m: sorted(t for t in graph[m] if t.startswith(STUDY_LAYER)) for m in library}
    assert not {m: t for m, t in bad.items() if t}


LAZY_OPTIONAL = {"IPython.display", "ray"}  # optional extras, loaded when used; everything else at the top


def test_imports_sit_at_the_top_of_modules() -> None:
    inside = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.module not in LAZY_OPTIONAL:
                    inside.append(f"{path.relative_to(PACKAGE)}:{node.lineno} from {node.module}")
                elif isinstance(node, ast.Import) and node.names[0].name not in LAZY_OPTIONAL:
                    inside.append(f"{path.relative_to(PACKAGE)}:{node.lineno} import {node.names[0].name}")
    assert not inside, "imports inside functions: " + ", ".join(inside)


def test_no_private_name_is_imported_across_modules() -> None:
    private = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("respcore")):
                private += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names
                            if a.name.startswith("_") and a.name != "__version__"]
    assert not private, "private names imported: " + ", ".join(private)


def test_the_library_reads_no_hidden_path() -> None:
    """Paths are arguments: no module builds a path from its own location or a relative folder name."""
    hidden = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for bad in ("Path(__file__).resolve().parents", 'Path("runs")', 'Path("cache")', 'Path("results")'):
            if bad in text:
                hidden.append(f"{path.relative_to(PACKAGE)}: {bad}")
    assert not hidden, "hidden paths: " + ", ".join(hidden)
