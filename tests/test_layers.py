"""The layers point downwards only: data -> method -> checkpoints -> training -> estimator -> evaluation -> CLI ->
app (shared, then the pages), and no module imports itself back through others (no import cycle).

Every import in `core/` and `app/` (module level or inside a function) is read from the source; an import of a
higher layer, an import between two pages, or a cycle fails with the files and the offending modules named.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lower number = lower layer. A module may import its own layer or any lower one.
LAYERS = {
    "core.version": 0, "core.data": 0,
    "core.method": 1,        # the pure torch model: configuration, networks, losses, scores, scaling
    "core.checkpoints": 2,   # safetensors + schema-checked sidecar, atomic writes, the manifest
    "core.training": 3,      # the trainer, model selection, health, timeline, speed plumbing
    "core.estimator": 4, "core": 4,
    "core.evaluation": 5,
    "core.cli": 6, "core.__main__": 6,
    "app.shared": 7,         # what several pages use; imports no page
    "app.latent_map": 8, "app.simplex": 8, "app.roc": 8, "app.score": 8, "app.models": 8, "app.claims": 8,
    "app": 9, "app.main": 9,
}
PAGES = ("app.latent_map", "app.simplex", "app.roc", "app.score", "app.models", "app.claims")


def layer_of(module: str) -> int:
    """The layer of a dotted module name: its longest registered prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(module)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of the repository."""
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every in-repo module `path` imports (from `source` when given), relative imports resolved; `from pkg
    import name` counts as an import of `pkg.name` when that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")}
            found |= submodules
            if len(submodules) < len(node.names):  # some names are attributes of the module itself
                found.add(target)
    return {m for m in found if m == "core" or m.startswith(("core.", "app.")) or m == "app"}


def source_files():
    return sorted(p for top in ("core", "app") for p in (ROOT / top).rglob("*.py"))


def import_graph(sources: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """module -> the in-repo modules it imports (a package's own submodules count as modules of their own)."""
    if sources is not None:
        return sources
    return {module_name(p): {m for m in imported_modules(p) if m != module_name(p)} for p in source_files()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: every import cycle."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def page_of(module: str) -> str | None:
    return next((p for p in PAGES if module == p or module.startswith(p + ".")), None)


def test_every_module_has_a_layer():
    unplaced = []
    for path in source_files():
        try:
            layer_of(module_name(path))
        except KeyError:
            unplaced.append(module_name(path))
    assert not unplaced, f"modules without a layer (add them to LAYERS): {unplaced}"


def test_no_import_runs_upward():
    upward = []
    for path in source_files():
        own = layer_of(module_name(path))
        for target in imported_modules(path):
            if layer_of(target) > own:
                upward.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_no_page_imports_another_page():
    across = []
    for path in source_files():
        own = page_of(module_name(path))
        across += [f"{path.relative_to(ROOT)} imports {t}" for t in imported_modules(path)
                   if own and page_of(t) not in (None, own)]
    assert not across, "pages importing each other (move the shared part to app/shared):\n" + "\n".join(across)


def test_no_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles (function-level imports included):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_an_upward_import():
    # the checker itself must be able to fail: a data module importing the evaluation layer is caught
    fake = ROOT / "core" / "data" / "_layer_probe.py"
    targets = imported_modules(fake, "from ..evaluation import metrics\nfrom . import paths\n")
    assert targets == {"core.evaluation.metrics", "core.data.paths"}
    assert layer_of("core.evaluation.metrics") > layer_of(module_name(fake))


def test_the_checker_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_the_folders_show_the_architecture():
    """app/ holds only its entry points (main.py, and __main__.py, the `python -m app` launcher) and __init__.py
    beside its packages; core/ at most six top-level modules."""
    app_modules = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert app_modules == ["__init__.py", "__main__.py", "main.py"], app_modules
    core_modules = sorted(p.name for p in (ROOT / "core").glob("*.py"))
    assert len(core_modules) <= 6, core_modules


def test_no_source_file_is_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in source_files()
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, f"files over 400 lines: {long}"


def long_functions(limit: int = 60) -> list[str]:
    """Functions and methods of core/ and app/ longer than `limit` lines, from `def` to their last line."""
    found = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if (n := node.end_lineno - first + 1) > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    return found


def test_no_function_is_over_60_lines():
    long = long_functions()
    assert not long, "functions over 60 lines (split them into named steps):\n" + "\n".join(long)
