"""The imports of core/, cfcli/ and lsp/ go one way (docs/architecture.md, "Layers"): every import,
at the top of a module or inside a function, is read from the source, and the test fails on a cycle
or on an import of a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "cfcli", "lsp")

# Lower first; a module may import its own layer (without a cycle) and the layers below it.
LAYERS = [
    ("core", ["core"]),
    ("cfcli base", ["cfcli.protocol", "cfcli.userconfig", "cfcli.history", "cfcli.shell", "cfcli.eval_plots"]),
    ("clients and views", ["cfcli.client", "cfcli.tui"]),
    ("commands and the language server", ["cfcli.ask", "cfcli.serve", "cfcli.evaluate", "cfcli.bench",
                                          "cfcli.benches", "lsp"]),
    ("the Typer app", ["cfcli.main"]),
    ("the console script", ["cfcli.launch", "cfcli.__main__", "=cfcli"]),
]  # "=NAME": that module alone, not the modules below it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The project's modules ``name`` imports anywhere in its source (`from core import threads`
    names the module core.threads; a package's own __init__ is not counted)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def layer_of(name: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix.startswith("="):
                if name == prefix[1:]:
                    best = (rank, len(prefix))
            elif name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{name} is in no layer: add it to LAYERS (and docs/architecture.md)"
    return best[0]


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imports_of(path, name, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_function_level_imports_and_cycles():
    graph = import_graph()
    # cf ask loads the model inside a function (after the picker's first frame): still an edge.
    assert "core.generate" in graph["cfcli.ask"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_import_against_the_layers():
    wrong = [f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
             for name, targets in sorted(import_graph().items()) for target in sorted(targets)
             if layer_of(target) > layer_of(name)]
    assert wrong == []


def test_core_imports_nothing_of_cfcli_or_lsp_and_generation_nothing_of_training():
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("core"):
            assert not {t for t in targets if not t.startswith("core")}, name
    assert not {t for t in graph["core.generate"] if t.startswith("core.train")}


def test_generation_and_training_read_as_small_functions():
    for path in (ROOT / "core" / "generate.py", ROOT / "core" / "train" / "trainer.py"):
        longest = max((node.end_lineno - node.lineno + 1, node.name) for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
        assert longest[0] <= 80, (path.name, longest)
