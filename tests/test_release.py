"""Release habits: the licence the metadata names is there, the first-party plugins share the
core's version and require its minor release, and the changelog has an entry for it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project(path: Path) -> dict[str, object]:
    table: dict[str, object] = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    return table


def test_the_license_file_is_the_apache_license_the_metadata_names() -> None:
    assert project(ROOT / "pyproject.toml")["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) == 202


def test_first_party_plugins_share_the_version_and_pin_the_minor_release() -> None:
    version = str(project(ROOT / "pyproject.toml")["version"])
    major, minor = (int(part) for part in version.split(".")[:2])
    pin = f"eicore>={major}.{minor},<{major}.{minor + 1}"
    plugins = sorted((ROOT / "plugins").glob("*/pyproject.toml"))
    assert len(plugins) == 8
    for path in plugins:
        meta = project(path)
        assert meta["version"] == version, path
        requires = [str(r) for r in meta["dependencies"]]  # type: ignore[attr-defined]
        assert pin in requires, (path, requires)
        siblings = [r for r in requires if r.startswith("eicore-")]
        assert all(r.endswith(f">={major}.{minor},<{major}.{minor + 1}") for r in siblings), path


def test_the_changelog_has_an_entry_for_this_version() -> None:
    version = str(project(ROOT / "pyproject.toml")["version"])
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == version
