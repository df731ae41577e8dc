"""The Marketplace of Home Assistant 2026.11+ reads this repository as it is meant.

Since 2026.11 HACS is built into Home Assistant as the Marketplace (`hacs` is a blocked
custom integration in homeassistant/loader.py). These tests feed `hacs.json`, the
repository's files and `custom_components/flatpeak/manifest.json` through the
Marketplace's own code in homeassistant/components/marketplace: `RepositoryManifest.
from_dict` (how it parses hacs.json, leaving out values its validators refuse),
`IntegrationRepository` resolving the integration folder from the repository tree and
reading the manifest (domain, name, codeowners, config_flow), the check it makes on the
written files before the loader sees them (domain and a version the loader accepts), and
`can_install` (the `homeassistant` minimum against the running release). They run in the
environment of the newest release only (`scripts/test tests/newest`).
"""

from __future__ import annotations

import json
from pathlib import Path
import shutil
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from aiogithubapi.models.git_tree import GitHubGitTreeEntryModel
from awesomeversion import AwesomeVersion
from homeassistant.components.marketplace.repositories.base import RepositoryManifest
from homeassistant.components.marketplace.repositories.integration import (
    IntegrationRepository,
    _check_loadable_manifest,
)
from homeassistant.components.marketplace.utils.validate import (
    REPOSITORY_MANIFEST_VALUES,
)
from homeassistant.const import __version__ as ha_version
from homeassistant.exceptions import HomeAssistantError
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_DIR = REPO_ROOT / "custom_components" / "flatpeak"
FULL_NAME = "flatpeak-ha/flatpeak-homeassistant"
# Read by HACS (the custom integration, Home Assistant 2026.10), not by the Marketplace.
HACS_ONLY_KEYS = {"render_readme"}


def _read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _reason(err: HomeAssistantError) -> str:
    # The Marketplace's errors are translated, which needs a running Home Assistant.
    return err.translation_key or repr(err)


def _tree(root: Path) -> list[GitHubGitTreeEntryModel]:
    """Return the files a GitHub tree of the repository lists that matter here."""
    paths = [root / "hacs.json"]
    paths += sorted(
        path
        for path in (root / "custom_components").rglob("*")
        if "__pycache__" not in path.parts
    )
    return [
        GitHubGitTreeEntryModel(
            {
                "path": path.relative_to(root).as_posix(),
                "type": "tree" if path.is_dir() else "blob",
            }
        )
        for path in [root / "custom_components", *paths]
    ]


def _hacs_json_problems(hacs: dict[str, Any], parsed: RepositoryManifest) -> list[str]:
    """Return the values of hacs.json the Marketplace does not take as written."""
    problems: list[str] = []
    for key, value in hacs.items():
        if key in HACS_ONLY_KEYS:
            continue
        if key not in REPOSITORY_MANIFEST_VALUES:
            problems.append(f"hacs.json: the Marketplace does not read {key!r}")
        elif getattr(parsed, key) != value:
            problems.append(f"hacs.json: the Marketplace ignores {key}={value!r}")
    return problems


def _manifest_problems(
    repository: IntegrationRepository, manifest: dict[str, Any]
) -> list[str]:
    """Return what the Marketplace refuses or misreads in manifest.json."""
    try:
        repository._use_integration_manifest(manifest)
    except HomeAssistantError as err:
        return [f"manifest.json: refused: {_reason(err)}"]
    problems = [
        f"manifest.json: {_reason(error)}" for error in repository.validate.errors
    ]
    folder = repository.content.path.remote
    if folder != f"custom_components/{repository.data.domain}":
        problems.append(
            f"the Marketplace installs {folder} as {repository.data.domain!r}"
        )
    read = {
        "name": repository.data.manifest_name,
        "codeowners": repository.data.authors,
        "config_flow": repository.data.config_flow,
    }
    problems += [
        f"manifest.json: {key} read as {value!r}"
        for key, value in read.items()
        if value != manifest.get(key)
    ]
    if not read["name"]:
        problems.append("manifest.json: no name to show")
    if not read["config_flow"]:
        problems.append("manifest.json: without config_flow a restart is always asked")
    return problems


def _written_problems(
    repository: IntegrationRepository, source: Path, config_dir: Path
) -> list[str]:
    """Return what the Marketplace refuses in the files it has just written."""
    written = config_dir / "custom_components" / str(repository.data.domain)
    shutil.copytree(source, written)
    if Path(repository.localpath) != written:
        return [f"the Marketplace writes to {repository.localpath}"]
    try:
        _check_loadable_manifest(written, repository.data.domain)
    except HomeAssistantError as err:
        return [f"manifest.json: refused once written: {_reason(err)}"]
    return []


def marketplace_problems(root: Path, config_dir: Path) -> list[str]:
    """Return what the Marketplace would refuse or misread in the repository at root."""
    hacs = _read(root / "hacs.json")
    parsed = RepositoryManifest.from_dict(hacs)
    problems = _hacs_json_problems(hacs, parsed)

    marketplace = SimpleNamespace(
        core=SimpleNamespace(config_path=str(config_dir)),
        version=AwesomeVersion(ha_version),
    )
    repository = IntegrationRepository(marketplace, FULL_NAME)
    repository.repository_manifest = parsed
    repository.tree = _tree(root)
    repository.treefiles = [e.path for e in repository.tree if e.type == "blob"]
    if not repository.try_resolve_content():
        return [*problems, "the Marketplace finds no integration in the repository"]
    folder = root / repository.content.path.remote
    manifest_problems = _manifest_problems(repository, _read(folder / "manifest.json"))
    problems += manifest_problems
    if not manifest_problems:
        problems += _written_problems(repository, folder, config_dir)

    repository.data.releases = True
    if not repository.can_install:
        problems.append(
            f"Home Assistant {ha_version} may not install it: hacs.json asks for "
            f"{parsed.homeassistant}"
        )
    return problems


def test_marketplace_reads_this_repository(tmp_path: Path) -> None:
    """Nothing in hacs.json or manifest.json is refused, ignored or misread."""
    assert marketplace_problems(REPO_ROOT, tmp_path / "config") == []


def _edit_hacs(**values: Any) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "hacs.json"
        path.write_text(json.dumps({**_read(path), **values}))

    return edit


def _edit_manifest(**values: Any) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "custom_components" / "flatpeak" / "manifest.json"
        manifest = {**_read(path), **values}
        path.write_text(
            json.dumps({k: v for k, v in manifest.items() if v is not None})
        )

    return edit


def _second_folder(root: Path) -> None:
    (root / "custom_components" / "another").mkdir()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (_edit_hacs(homeassistant=2026), "ignores homeassistant=2026"),
        (_edit_hacs(homeassistant="2099.1.0"), "may not install it"),
        (_edit_hacs(content_in_root="no"), "ignores content_in_root"),
        (_edit_hacs(name=["Flatpeak"]), "ignores name"),
        (_edit_hacs(zip_releases=True), "does not read 'zip_releases'"),
        (_edit_manifest(domain="Flat Peak"), "refused"),
        (_edit_manifest(version=None), "refused once written"),
        (_edit_manifest(codeowners="@flatpeak-ha"), "codeowners read as []"),
        (_edit_manifest(config_flow="yes"), "config_flow read as False"),
        (_edit_manifest(name=None), "no name to show"),
        # The Marketplace takes the first folder in custom_components/.
        (_second_folder, "finds no integration"),
    ],
)
def test_marketplace_refusals_are_noticed(
    tmp_path: Path, edit: Callable[[Path], None], problem: str
) -> None:
    """A copy with one thing the Marketplace would refuse or misread is caught."""
    root = tmp_path / "repository"
    root.mkdir()
    shutil.copy(REPO_ROOT / "hacs.json", root / "hacs.json")
    shutil.copytree(
        INTEGRATION_DIR,
        root / "custom_components" / "flatpeak",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    edit(root)

    problems = marketplace_problems(root, tmp_path / "config")

    assert any(problem in found for found in problems), problems
