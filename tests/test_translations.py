"""translations/en.json is generated from strings.json and never drifts from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "flatpeak"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_translations", ROOT / "scripts" / "generate_translations.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _steps(strings: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    flows = [
        ("config", strings.get("config", {})),
        ("options", strings.get("options", {})),
    ]
    flows += [
        (f"config_subentries.{kind}", flow)
        for kind, flow in strings.get("config_subentries", {}).items()
    ]
    for name, flow in flows:
        for step_id, step in flow.get("step", {}).items():
            yield f"{name}.{step_id}", step
            for section_id, section in step.get("sections", {}).items():
                yield f"{name}.{step_id}.{section_id}", section


def _texts(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _texts(value, f"{where}.{key}" if where else key)
    elif isinstance(node, str):
        yield where, node


def test_en_json_matches_strings_json() -> None:
    """en.json is exactly what scripts/translations makes of strings.json."""
    generator = _generator()
    expected = generator.render((INTEGRATION / "strings.json").read_text("utf-8"))
    actual = (INTEGRATION / "translations" / "en.json").read_text("utf-8")
    assert actual == expected, "run scripts/translations"


def test_references_are_refused() -> None:
    """A [%key:…] reference would show up verbatim in a custom integration."""
    text = json.dumps({"config": {"abort": {"x": "[%key:common::config_flow::x%]"}}})
    with pytest.raises(ValueError, match=r"config\.abort\.x"):
        _generator().render(text)


def test_every_field_is_described() -> None:
    """Every form field has a label and a description."""
    strings = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
    for where, step in _steps(strings):
        assert set(step.get("data", {})) == set(step.get("data_description", {})), where


def test_no_angle_brackets() -> None:
    """The frontend reads `<…>` in a string as markup and shows a translation error."""
    strings = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))
    assert [where for where, text in _texts(strings) if "<" in text] == []
