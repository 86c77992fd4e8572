"""The layers point downwards only: data -> networks -> method -> evaluation -> CLI -> app.

Every import in `core/` and `app/` (module level or inside a function) is read from the source; an import of a
higher layer fails with the file and the offending module named.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lower number = lower layer. A module may import its own layer or any lower one.
LAYERS = {
    "core.data": 0,
    # the pure torch model: configuration, networks, losses, scores
    "core.config": 1, "core.scaling": 1, "core.kernels": 1, "core.networks": 1, "core.acceleration": 1,
    "core.losses": 1, "core.scoring": 1, "core.train_log": 1,
    # the method: training glue, estimator, health, checkpoints
    "core.train": 2, "core.model": 2, "core.health": 2, "core.sidecar": 2, "core.weights_header": 2,
    "core.checkpoint": 2, "core.manifest": 2, "core.timeline": 2, "core": 2,
    "core.evaluation": 3,
    "core.cli": 4, "core.__main__": 4,
    "app": 5,
}


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


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every in-repo module `path` imports (from `source` when given), relative imports resolved."""
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
                if node.module is None:  # `from . import losses` imports the sibling module
                    found |= {".".join(base + [a.name]) for a in node.names}
                    continue
                target = ".".join(base + [node.module])
            else:
                target = node.module or ""
            found.add(target)
    return {m for m in found if m == "core" or m.startswith(("core.", "app.")) or m == "app"}


def source_files():
    return sorted(p for top in ("core", "app") for p in (ROOT / top).rglob("*.py"))


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


def test_the_checker_sees_an_upward_import():
    # the checker itself must be able to fail: a data module importing the evaluation layer is caught
    fake = ROOT / "core" / "data" / "_layer_probe.py"
    targets = imported_modules(fake, "from ..evaluation import metrics\nfrom . import paths\n")
    assert targets == {"core.evaluation", "core.data.paths"}
    assert layer_of("core.evaluation") > layer_of(module_name(fake))


def test_no_source_file_is_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in source_files()
            if (n := len(p.read_text().splitlines())) > 400]
    assert not long, f"files over 400 lines: {long}"
