"""``eicore new-plugin``: a new plugin's folder — pyproject with the entry point, the component's
module, a README and passing tests — written from the templates in ``eicore/templates``."""

from __future__ import annotations

import importlib.metadata
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from eicore.plugins import GROUPS

KINDS = ("model", "strategy", "judge", "metric", "dataset")
"""What ``--kind`` accepts: one template of each."""

USAGE = {
    "model": "eicore run model={name}",
    "strategy": "eicore run strategy={name}",
    "judge": "eicore run judge={name}",
    "metric": 'eicore run "metrics=[trigger_recall,{name}]"',
    "dataset": "eicore run data={name} data.path=samples.jsonl",
}
"""A first command using the new component, by kind."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class ScaffoldError(ValueError):
    """A name, kind or folder the scaffold cannot use."""


@dataclass(frozen=True)
class PluginNames:
    """The names a new plugin goes by."""

    name: str
    """The component's registered name (``model=<name>``) and the entry point's."""
    dist: str
    """The distribution, ``eicore-<name>``."""
    module: str
    """The import package, ``eicore_<name>``."""
    cls: str
    """The component's class; its config class adds ``Config``."""

    @classmethod
    def of(cls, name: str) -> PluginNames:
        """Names from what the user typed: ``acme-chat`` or ``eicore-acme-chat``."""
        short = re.sub(r"^eicore[-_]", "", name)
        if not _NAME.match(short):
            raise ScaffoldError(
                f"plugin name {name!r}: use lower-case letters, digits and single - or _ "
                "between them, starting with a letter (e.g. acme-chat)"
            )
        words = re.split(r"[-_]", short)
        return cls(
            name=short,
            dist="eicore-" + "-".join(words),
            module="eicore_" + "_".join(words),
            cls="".join(w.capitalize() for w in words),
        )


def core_range() -> str:
    """The requirement on the running core's minor release: ``eicore>=0.2,<0.3`` for 0.2.x."""
    major, minor = (int(part) for part in importlib.metadata.version("eicore").split(".")[:2])
    return f"eicore>={major}.{minor},<{major}.{minor + 1}"


def _template(name: str) -> str:
    return (resources.files("eicore") / "templates" / "new_plugin" / f"{name}.tmpl").read_text(
        encoding="utf-8"
    )


def render(names: PluginNames, kind: str) -> dict[str, str]:
    """The new plugin's files, relative path → text."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    values = {
        "name": names.name,
        "dist": names.dist,
        "module": names.module,
        "cls": names.cls,
        "kind": kind,
        "group": GROUPS[kind],
        "usage": USAGE[kind].format(name=names.name),
        "core": core_range(),
    }

    def fill(template: str) -> str:
        return string.Template(_template(template)).substitute(values)

    return {
        "pyproject.toml": fill("pyproject.toml"),
        "README.md": fill("README.md"),
        f"{names.module}/__init__.py": fill(f"{kind}.py"),
        f"tests/test_{names.module}.py": fill(f"test_{kind}.py"),
    }


def write_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the plugin into ``parent/<distribution>``; never over an existing path."""
    names = PluginNames.of(name)
    files = render(names, kind)
    folder = parent / names.dist
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists; not overwriting it")
    for relative, text in files.items():
        path = folder / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ScaffoldError(f"cannot write {path}: {exc.strerror or exc}") from None
    return folder
