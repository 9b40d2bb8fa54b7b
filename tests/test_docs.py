"""The documentation site: its generated reference pages (docs/reference.py) cover everything
installed, and every page the nav or a snippet names exists. (``nox -s docs`` builds the site
itself in strict mode.)"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import eicore
from eicore import hookspecs
from eicore.commands.cli import USAGE
from eicore.datasets.eibench import EIBenchConfig
from eicore.plugins import Registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = DOCS / "examples" / "eicore-plugin-example"


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_field_docs_are_the_strings_after_fields_bases_included(reference: ModuleType) -> None:
    docs = reference.field_docs(EIBenchConfig)
    assert docs["root"].startswith("Folder holding user.jsonl")
    assert docs["shard"].startswith("`i/n`: keep every n-th sample")  # from DataConfig
    assert "split" not in docs  # a field without a docstring has none


def test_reST_markup_becomes_markdown(reference: ModuleType) -> None:
    text = "See :class:`eicore.Model`\nand ``x=1``. An example::\n\n    a = 1\n    b = 2\n"
    assert reference.markdown_of(text) == (
        "See `eicore.Model`\nand `x=1`. An example:\n\n```\na = 1\nb = 2\n```"
    )
    assert reference.markdown_of("A::\n\n    a = 1\n\n    b = 2\n\nThen.") == (
        "A:\n\n```\na = 1\n\nb = 2\n```\n\nThen."
    )


def test_the_configuration_page_has_every_registered_component_and_field(
    reference: ModuleType,
) -> None:
    page = reference.configuration_page()
    registry = Registry()
    for kind, (choose, prefix) in reference.SELECTED.items():
        for name, reg in registry.components[kind].items():
            assert f"### `{choose.format(name=name)}`" in page
            for field in dataclasses.fields(reg.config_class):
                if field.name != "plugin":
                    assert f"| `{prefix.format(name=name)}{field.name}` |" in page
    assert "| `run.concurrency` | `int` | `8` |" in page


def test_the_hooks_page_has_every_hookspec_and_the_public_api(reference: ModuleType) -> None:
    page = reference.hooks_page()
    specs = [n for n, f in vars(hookspecs).items() if hasattr(f, "eicore_spec")]
    assert len(specs) == 10  # five kinds of component, presets, commands, three lifecycle hooks
    for name in specs:
        if name.startswith("eicore_register_"):
            assert f"### `{name}(register: Register" in page
        else:
            assert f"### `{name}(run_dir: Path, " in page
    for name in eicore.__all__:
        assert f"### `eicore.{name}`" in page
    assert (
        "- `generate(self, prompts: Sequence[Prompt]) -> list[Completion]` *(implement this)*"
        in page
    )


def test_the_cli_page_has_each_commands_own_help(reference: ModuleType) -> None:
    page = reference.cli_page()
    commands = set(re.findall(r"^  ([a-z][\w-]*)", USAGE, re.MULTILINE))
    assert {"run", "plugins", "new-plugin"} <= commands
    for command in commands:
        assert f"## `eicore {command}`" in page
    new_plugin = page.split("## `eicore new-plugin`")[1].split("\n## ")[0]
    assert "usage: eicore new-plugin" in new_plugin and "--kind" in new_plugin


def test_every_nav_page_exists_or_is_generated(reference: ModuleType) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    missing = [
        p for p in pages(config["nav"]) if not (DOCS / p).is_file() and p not in reference.PAGES
    ]
    assert missing == []


def test_every_snippet_names_a_file_of_the_example_plugin() -> None:
    included = [
        (page.name, m)
        for page in DOCS.rglob("*.md")
        for m in re.findall(r'^--8<-- "([^"]+)"', page.read_text(), re.MULTILINE)
    ]
    assert len(included) >= 10
    assert [(page, path) for page, path in included if not (EXAMPLE / path).is_file()] == []
