"""``eicore new-plugin``: every kind's skeleton installs with pip, passes its own tests, and is
listed by ``eicore plugins``; the command refuses to overwrite and names what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eicore_test_support import CLI, pip_install_target

from eicore.commands.new_plugin import KINDS, PluginNames, ScaffoldError, write_plugin


@pytest.fixture
def bare_cli(tmp_path: Path) -> CLI:
    """``eicore`` with no extra plugins, working in ``tmp_path/cwd``."""
    (tmp_path / "cwd").mkdir()
    return CLI([], tmp_path / "cache", tmp_path / "cwd")


def test_every_kind_installs_passes_its_tests_and_is_listed(bare_cli: CLI, tmp_path: Path) -> None:
    folders = []
    for kind in KINDS:
        result = bare_cli("new-plugin", f"acme-{kind}", "--kind", kind, "--dir", str(tmp_path))
        folder = tmp_path / f"eicore-acme-{kind}"
        assert f"wrote {folder}" in result.stdout
        assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
            "README.md",
            f"eicore_acme_{kind}/__init__.py",
            "pyproject.toml",
            f"tests/test_eicore_acme_{kind}.py",
        ]
        folders.append(folder)
    site = pip_install_target(folders, tmp_path / "site", tmp_path / "build")
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = [str(f / "tests") for f in folders]
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert pytest_run.returncode == 0, pytest_run.stdout[-3000:] + pytest_run.stderr[-3000:]
    assert "11 passed" in pytest_run.stdout

    listing = {
        p["name"]: p for p in CLI([site], bare_cli.cache, bare_cli.cwd)("plugins", "--json").json()
    }
    for kind in KINDS:
        plugin = listing[f"acme-{kind}"]
        assert plugin["distribution"] == f"eicore-acme-{kind}" and plugin["version"] == "0.1.0"
        assert plugin["error"] is None
        assert plugin["registered"] == [[kind, f"acme-{kind}"]]


def test_an_existing_folder_is_never_overwritten(bare_cli: CLI, tmp_path: Path) -> None:
    folder = tmp_path / "eicore-acme"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = bare_cli("new-plugin", "acme", "--kind", "model", "--dir", str(tmp_path), expect=2)
    assert f"{folder} already exists; not overwriting it" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name", ["Acme", "acme chat", "1acme", "acme--chat", "acme-", "eicore-"])
def test_a_name_that_cannot_be_a_package_is_refused(bare_cli: CLI, name: str) -> None:
    result = bare_cli("new-plugin", name, "--kind", "model", expect=2)
    assert f"plugin name {name!r}" in result.stderr
    assert list(bare_cli.cwd.iterdir()) == []


def test_an_unknown_kind_is_refused_by_name(bare_cli: CLI) -> None:
    result = bare_cli("new-plugin", "acme", "--kind", "scorer", expect=2)
    assert "invalid choice: 'scorer'" in result.stderr


def test_names_follow_from_what_was_typed() -> None:
    assert PluginNames.of("eicore-acme_chat") == PluginNames(
        name="acme_chat", dist="eicore-acme-chat", module="eicore_acme_chat", cls="AcmeChat"
    )
    assert PluginNames.of("vlm2").cls == "Vlm2"


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ScaffoldError, match=r"cannot write .*a-file/eicore-acme"):
        write_plugin("acme", "model", blocker)
