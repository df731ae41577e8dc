"""Write translations/en.json from strings.json, the source of the integration's texts.

Home Assistant loads only `translations/en.json` for a custom integration and resolves no
`[%key:…]` references there, so strings.json must be fully written out; this copies it and
refuses any reference. `--check` only reports whether en.json is up to date.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components" / "flatpeak"
STRINGS = INTEGRATION / "strings.json"
EN = INTEGRATION / "translations" / "en.json"
REFERENCE = "[%key:"


def _references(node: Any, path: str = "") -> list[str]:
    """Return the dotted paths of every string that holds a `[%key:…]` reference."""
    if isinstance(node, dict):
        return [
            found
            for key, value in node.items()
            for found in _references(value, f"{path}.{key}" if path else key)
        ]
    if isinstance(node, str) and REFERENCE in node:
        return [path]
    return []


def render(strings_text: str) -> str:
    """Return the en.json text for a strings.json text (ValueError on a reference)."""
    strings = json.loads(strings_text)
    if found := _references(strings):
        raise ValueError(f"strings.json must not use [%key:…] references: {found}")
    return json.dumps(strings, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    """Write en.json, or with --check tell whether it matches strings.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only compare, write nothing"
    )
    args = parser.parse_args()
    try:
        expected = render(STRINGS.read_text(encoding="utf-8"))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    current = EN.read_text(encoding="utf-8") if EN.exists() else None
    if args.check:
        if current != expected:
            print(f"{EN} is out of date: run scripts/translations", file=sys.stderr)
            return 1
        return 0
    if current != expected:
        EN.parent.mkdir(exist_ok=True)
        EN.write_text(expected, encoding="utf-8")
        print(f"Wrote {EN.relative_to(INTEGRATION.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
