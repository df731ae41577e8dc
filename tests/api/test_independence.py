"""The API client must stay usable outside Home Assistant."""

from __future__ import annotations

import ast
from pathlib import Path

API_DIR = Path(__file__).parents[2] / "custom_components" / "flatpeak" / "api"


def test_api_package_does_not_import_homeassistant() -> None:
    """No module of the client imports homeassistant, directly or relatively."""
    offenders = []
    for path in sorted(API_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # A relative import that climbs out of api/ reaches Home Assistant glue.
                if node.level > 1:
                    offenders.append(f"{path.name}:{node.lineno}")
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno}"
                for name in names
                if name.split(".")[0] in {"homeassistant", "custom_components"}
            ]
    assert API_DIR.is_dir()
    assert offenders == []
