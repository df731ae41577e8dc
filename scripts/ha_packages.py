"""Print the packages a real `hass --skip-pip` needs, pinned as Home Assistant pins them.

scripts/setup runs this inside an environment that has Home Assistant installed, and
installs what it prints. Home Assistant sets up these integrations at every start
(frontend, voice, camera, radio) and would install their packages at run time; with
`--skip-pip` it cannot, and without them the frontend does not load (`get_services`
fails) and a flow with `after_dependencies` fails with "Invalid handler specified".
The pins are the ones in the installed release's own manifests, so the environment
follows the Home Assistant version in the requirements file with no second line to
change. A package the requirements files pin themselves (a newer build where Home
Assistant's pin has no Python 3.14 wheel) is left to them.

Usage: python scripts/ha_packages.py REQUIREMENTS_FILE…
"""

from __future__ import annotations

from importlib.util import find_spec
import json
from pathlib import Path
import re
import sys

# The integrations Home Assistant starts by default whose packages it does not install
# with itself. `hassio`: analytics (needed for onboarding) imports its client, which is
# no longer one of Home Assistant's own requirements in 2026.11.
INTEGRATIONS = (
    "assist_pipeline",
    "camera",
    "conversation",
    "ffmpeg",
    "frontend",
    "hassio",
    "infrared",
    "radio_frequency",
    "tts",
)
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """Return a package name as the package index compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_in(path: Path) -> set[str]:
    """Return the packages a requirements file (and the files it includes) names."""
    names: set[str] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= pinned_in(path.parent / line[3:].strip())
        elif (match := NAME.match(line)) is not None:
            names.add(canonical(match.group(1)))
    return names


def main(requirement_files: list[str]) -> int:
    """Print one `name==version` line per package still needed."""
    spec = find_spec("homeassistant")
    if spec is None or spec.origin is None:
        print("Home Assistant is not installed here", file=sys.stderr)
        return 1
    components = Path(spec.origin).parent / "components"
    own: set[str] = set()
    for file in requirement_files:
        own |= pinned_in(Path(file))
    needed: dict[str, str] = {}
    for domain in INTEGRATIONS:
        manifest = json.loads((components / domain / "manifest.json").read_text())
        for requirement in manifest.get("requirements", []):
            if (match := NAME.match(requirement)) is None:
                continue
            name = canonical(match.group(1))
            if name not in own:
                needed.setdefault(name, requirement)
    for requirement in sorted(needed.values(), key=str.lower):
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
