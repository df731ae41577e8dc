"""The integration's modules import each other without any cycle.

Every relative import counts, those under `if TYPE_CHECKING:` and inside functions too:
a cycle that only type checking closes still means two modules that cannot be read,
changed or moved apart.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE_DIR = Path(__file__).parents[1] / "custom_components" / "flatpeak"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__") or "__init__"


def _imports(path: Path, module: str) -> set[str]:
    """Return the package modules `path` imports anywhere in it."""
    parts = module.split(".") if module != "__init__" else []
    # The package a relative import in this file starts from.
    package = parts if path.name == "__init__.py" else parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[: len(package) - (node.level - 1)]
        target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
        found.add(target or "__init__")
        # `from . import x` imports the module x.
        if not node.module:
            found |= {".".join([*base, alias.name]) for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {
        _module_name(path): path
        for path in PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    return {
        name: {dep for dep in _imports(path, name) if dep in modules and dep != name}
        for name, path in modules.items()
    }


def test_no_import_cycle() -> None:
    """No module needs, even for type checking, a module that needs it back."""
    graph = _graph()
    assert "webhook.applier" in graph["webhook.handler"]
    # Type-checking imports are counted: the runtime data names its collaborators so.
    assert "locations.followed" in graph["runtime"]
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import cycle: {err.args[1]}") from err
    assert set(order) == set(graph)


def test_a_type_checking_cycle_is_found(tmp_path: Path) -> None:
    """The check sees an import that only type checking makes."""
    (tmp_path / "a.py").write_text("from .b import B\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n"
    )
    assert _imports(tmp_path / "b.py", "b") == {"a"}
    assert _imports(tmp_path / "a.py", "a") == {"b"}


def test_platforms_stay_at_the_top_and_the_rest_is_grouped() -> None:
    """Home Assistant finds platforms by name at the top; the flows live in packages."""
    top = {path.stem for path in PACKAGE_DIR.glob("*.py")}
    assert {"sensor", "binary_sensor", "event", "config_flow", "repairs"} <= top
    for package in ("api", "webhook", "pricing", "tariff", "locations"):
        assert (PACKAGE_DIR / package / "__init__.py").is_file()
