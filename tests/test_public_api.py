"""The public boundary: first-party plugins, the plugin guide's example and the ``new-plugin``
templates use only what ``eicore`` exports and ``eicore.testing``; ruff's banned-api rule holds
every other core module, and its list misses none."""

from __future__ import annotations

import ast
import pkgutil
import re
import tomllib
from pathlib import Path

import eicore
from eicore.commands.new_plugin import KINDS, PluginNames, render

ROOT = Path(__file__).resolve().parents[1]


def internal_imports(source: str, where: str) -> list[str]:
    """``where:line: import`` for each import of a core module other than ``eicore.testing``,
    and each name taken from ``eicore`` that ``eicore.__all__`` does not export; imports in
    code held by strings (``python -c``) count too."""
    found = [
        f"{where}:{source[: m.start()].count(chr(10)) + 1}: {m[1]}"
        for m in re.finditer(r"""["'].*\b(?:from|import) (eicore\.(?!testing\b)[\w.]+)""", source)
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "eicore":
                modules = [f"eicore.{a.name}" for a in node.names if a.name not in eicore.__all__]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "eicore" and len(parts) > 1 and parts[1] != "testing":
                found.append(f"{where}:{node.lineno}: {module}")
    return found


def plugin_sources() -> dict[str, str]:
    """Every Python file of the first-party plugins and the example, and every file the
    templates make, by where it is."""
    files = [
        path
        for folder in (ROOT / "plugins", ROOT / "docs" / "examples")
        for path in folder.rglob("*.py")
        if "build" not in path.relative_to(folder).parts
    ]
    sources = {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in files}
    for kind in KINDS:
        for name, text in render(PluginNames.of(f"acme-{kind}"), kind).items():
            if name.endswith(".py"):
                sources[f"new-plugin --kind {kind}: {name}"] = text
    return sources


def test_plugins_the_example_and_the_templates_use_only_the_public_api() -> None:
    sources = plugin_sources()
    assert len(sources) > 90
    found = [hit for where, text in sources.items() for hit in internal_imports(text, where)]
    assert found == []


def test_the_check_finds_internal_imports() -> None:
    source = (
        "from eicore.run.settings import ConfigError\n"
        "import eicore.plugins\n"
        "from eicore import run\n"
    )
    assert internal_imports(source, "x.py") == [
        "x.py:1: eicore.run.settings",
        "x.py:2: eicore.plugins",
        "x.py:3: eicore.run",
    ]
    script = 'CODE = "from eicore.commands.cli import main; main()"\n'
    assert internal_imports(script, "x.py") == ["x.py:1: eicore.commands.cli"]
    assert internal_imports("from eicore.testing.fake_api import FakeAPI", "x.py") == []


def test_ruff_bans_every_internal_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "TID251" in lint["select"]
    banned = set(lint["flake8-tidy-imports"]["banned-api"])
    modules = {f"eicore.{m.name}" for m in pkgutil.iter_modules(eicore.__path__)}
    assert modules - {"eicore.testing", "eicore.__main__"} <= banned


def test_every_export_is_documented() -> None:
    undocumented = [name for name in eicore.__all__ if not getattr(eicore, name).__doc__]
    assert undocumented == []
