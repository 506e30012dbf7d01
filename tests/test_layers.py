"""The layer order of ARCHITECTURE.md, enforced: a package imports only from layers below it."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "factoryos"

# Lower rank = lower layer. A module may import packages of its own rank or lower.
RANK = {
    "__init__": 0,
    "errors": 0,
    "model": 0,
    "connect": 1,
    "security": 1,  # device identity: imports model and errors only
    "bus": 2,
    "edge": 2,
    "store": 3,
    "twin": 3,
    "sim": 4,  # the virtual factory stands in for the plant: nothing below apps may use it
    "apps": 4,
    "api": 5,
    "web": 5,
    "bench": 6,
    "runtime": 6,
    "cli_console": 7,
    "cli": 7,
    "cli_audit": 7,
    "cli_schedule": 7,
    "cli_trace": 7,
    "cli_security": 7,
    "cli_users": 7,
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "factoryos" or m.startswith("factoryos.")]


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_package_has_a_rank() -> None:
    packages = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in _modules()}
    assert packages - RANK.keys() == set(), "give new packages a rank in RANK"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path: Path) -> None:
    own = path.relative_to(SRC).parts[0].removesuffix(".py")
    upward = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for line, module in _imports(path)
        if RANK[_package(module)] > RANK[own]
    ]
    assert upward == []


def test_model_imports_nothing_of_ours_but_errors() -> None:
    bad = [
        f"{p.relative_to(SRC)}:{line} imports {m}"
        for p in (SRC / "model").rglob("*.py")
        for line, m in _imports(p)
        if _package(m) not in ("model", "errors")
    ]
    assert bad == []
