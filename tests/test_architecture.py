"""The integration's modules import each other without cycles at run time.

Imports under `if TYPE_CHECKING:` and inside functions are left out: they never run
when a module is loaded, so they cannot form a cycle that breaks loading.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE_DIR = Path(__file__).parents[1] / "custom_components" / "flatpeak"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__") or "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_imports(path: Path, module: str) -> set[str]:
    """Return the package modules `path` imports when it is loaded."""
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    if path.name != "__init__.py" and "." not in module:
        package = ""
    found: set[str] = set()
    pending: list[ast.stmt] = list(ast.parse(path.read_text(), str(path)).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and not _is_type_checking(node):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                pending += handler.body
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package and package != "__init__" else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            found.add(target or "__init__")
            # `from . import x` imports the module x.
            if not node.module:
                found |= {".".join([*base, alias.name]) for alias in node.names}
    return found


def test_no_import_cycle_at_run_time() -> None:
    """Loading any module never needs a module that is still loading."""
    modules = {
        _module_name(path): path
        for path in PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    graph = {
        name: {dep for dep in _load_time_imports(path, name) if dep in modules}
        for name, path in modules.items()
    }
    assert "webhook_handler" in graph
    assert "dispatcher" in graph["webhook_handler"]
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import cycle: {err.args[1]}") from err
    assert set(order) == set(modules)
