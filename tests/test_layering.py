"""The package's layers stay layered: a module imports only from its own layer or the ones before it.

The flow of the data (``juno_calib.LAYERS``): core -> detector -> particles -> hardware ->
calibration -> reach -> scale -> book. An AST walk over every module finds each ``import`` of a
juno_calib module (absolute or relative, at the top or inside a function) and checks its layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import juno_calib
from juno_calib import LAYERS

PACKAGE = Path(juno_calib.__file__).resolve().parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported_modules(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every juno_calib module ``path`` (module ``module``) imports."""
    here = (module or _module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "juno_calib":
                if node.module is None or target.count(".") < 2:  # `from . import units`
                    found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "juno_calib"]
    return found


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer():
    stray = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(LAYERS)


def _upward(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    own = LAYERS.index(_layer(module or _module_name(path)))
    return [(line, name) for line, name in _imported_modules(path, module)
            if _layer(name) is not None and LAYERS.index(_layer(name)) > own]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_down_the_flow(path):
    upward = _upward(path)
    assert not upward, (f"{_module_name(path)} imports from a later layer: "
                        + ", ".join(f"line {ln}: {n}" for ln, n in upward))


def test_no_import_cycles_between_modules():
    graph = {}
    names = {_module_name(p) for p in MODULES}
    for p in MODULES:
        deps = set()
        for _, name in _imported_modules(p):
            while name and name not in names:
                name = name.rpartition(".")[0]
            if name and not name.endswith(tuple(f".{x}" for x in LAYERS)):
                deps.add(name)
        graph[_module_name(p)] = deps - {_module_name(p)}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_the_walk_sees_upward_imports(tmp_path):
    """The checker itself: every spelling of an upward import is caught, downward ones pass."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ..calibration import resolution\n"
                   "from ..book.cli import main\n"
                   "def f():\n    import juno_calib.hardware.budget\n"
                   "from . import optics\nfrom ..core.units import mm\n")
    found = _upward(bad, "juno_calib.detector.bad")
    assert [n for _, n in found] == ["juno_calib.calibration.resolution", "juno_calib.book.cli",
                                     "juno_calib.hardware.budget"]
