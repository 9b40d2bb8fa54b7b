"""The site's reference pages, written from the code at every build (an mkdocs hook: ``hooks:``
in mkdocs.yml), so they cannot drift from it.

- ``reference/configuration.md``: ``run.*`` (:class:`eicore.run.settings.RunSettings`) and the
  config dataclass of every registered component, field by field (type, default, attribute
  docstring);
- ``reference/hooks.md``: ``eicore/hookspecs.py``, and the public API a plugin builds on
  (``eicore.__all__``);
- ``reference/cli.md``: ``eicore --help`` and each command's own ``--help``, as a user sees them.
"""

from __future__ import annotations

import abc
import ast
import dataclasses
import inspect
import itertools
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the page writers need no mkdocs: tests/test_docs.py calls them directly
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

# -- docstrings -----------------------------------------------------------------------------


def markdown_of(docstring: str | None) -> str:
    """A reST-flavoured docstring as Markdown: ``x`` and :role:`x` become `x`, ``::`` blocks
    become fenced code."""
    text = inspect.cleandoc(docstring or "")
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)

    def fence(match: re.Match[str]) -> str:
        return f"{match.group(1)}:\n\n```\n{textwrap.dedent(match.group(2)).strip()}\n```\n\n"

    return re.sub(r"(\S)::\n\n((?: {4}.*(?:\n|$)|\n)+)", fence, text).strip()


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass and its bases: the string after each field."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # built-ins, and classes made at run time
            continue
        body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, after in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = markdown_of(after.value.value)
    return docs


def default_of(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    return f"`{value!r}`"


def field_table(cls: type, prefix: str) -> str:
    """A Markdown table of a config dataclass: override, type, default, what it is."""
    docs = field_docs(cls)
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name == "plugin":
            continue
        doc = " ".join(docs.get(f.name, "").split())
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append(f"| `{prefix}{f.name}` | `{type_name}` | {default_of(f)} | {doc} |")
    return "\n".join(rows) if len(rows) > 2 else "No settings."


def summary_of(obj: object) -> str:
    """The first paragraph of an object's own docstring (not one it inherits)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else inspect.getdoc(obj)
    if not doc or (isinstance(obj, type) and dataclasses.is_dataclass(obj) and "(" in doc[:80]):
        return ""  # a dataclass without a docstring gets its signature as one
    return markdown_of(doc).split("\n\n")[0]


# -- configuration --------------------------------------------------------------------------

SELECTED = {
    "dataset": ("data={name}", "data."),
    "model": ("model={name}", "model."),
    "strategy": ("strategy={name}", "strategy."),
    "judge": ("judge={name}", "judge."),
    "metric": ("metrics=[{name}]", "+metric_options.{name}."),
}
"""Kind → how a component is chosen on the command line, and the prefix of its settings."""

TITLES = {
    "dataset": "Datasets",
    "model": "Models",
    "strategy": "Strategies",
    "judge": "Judges",
    "metric": "Metrics",
}


def configuration_page() -> str:
    from eicore.plugins import Registry
    from eicore.run.settings import RunSettings

    registry = Registry()
    out = [
        "# Configuration reference",
        "",
        "Every setting of every installed component, read from its config dataclass when this "
        "site was built (the plugins installed then are the ones listed). Set any of them on the "
        "command line: `eicore run model=hf model.batch_size=8`. How the pieces compose: "
        "[Configuration](../configuration.md).",
        "",
        "## `run.*`: how a run runs",
        "",
        summary_of(RunSettings),
        "",
        field_table(RunSettings, "run."),
    ]
    for kind, (choose, prefix) in SELECTED.items():
        out += ["", f"## {TITLES[kind]}"]
        for name, reg in sorted(registry.components[kind].items()):
            info = registry.plugins[reg.plugin]
            out += [
                "",
                f"### `{choose.format(name=name)}`",
                "",
                f"From plugin `{info.name}` ({info.distribution} {info.version}). "
                + summary_of(reg.factory),
                "",
                field_table(reg.config_class, prefix.format(name=name)),
            ]
        presets = sorted(registry.presets[kind].values(), key=lambda p: p.name)
        if presets:
            out += ["", f"#### Presets of {TITLES[kind].lower()}", "", "| preset | of | what |",
                    "|---|---|---|"]  # fmt: skip
            out += [
                f"| `{choose.format(name=p.name)}` | `{p.of}` ({p.plugin}) | {p.doc} |"
                for p in presets
            ]
    return "\n".join(out) + "\n"


# -- hooks and the plugin API ---------------------------------------------------------------


def member_docs(cls: type) -> list[str]:
    """The public methods and properties a class defines itself, with their docstrings."""
    out = []
    for name, member in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            out.append(described(f"`{name}` (property)", member.fget))
        elif inspect.isfunction(member) or isinstance(member, classmethod | staticmethod):
            function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            signature = str(inspect.signature(function)).replace("'", "")
            abstract = " *(implement this)*" if getattr(function, "__isabstractmethod__", 0) else ""
            out.append(described(f"`{name}{signature}`{abstract}", function))
    return out


def described(head: str, obj: object) -> str:
    summary = summary_of(obj)
    return f"- {head}: {summary}" if summary else f"- {head}"


def api_entry(name: str, obj: object) -> list[str]:
    out = ["", f"### `eicore.{name}`", ""]
    if isinstance(obj, type):
        bases = [b.__name__ for b in obj.__bases__ if b not in (object, abc.ABC)]
        if bases:
            out += [f"Subclass of {', '.join(f'`{b}`' for b in bases)}.", ""]
        out += [summary_of(obj), ""]
        if dataclasses.is_dataclass(obj):
            out += [field_table(obj, ""), ""]
        out += member_docs(obj)
    else:
        out += [f"`{obj!r}`"]
    return out


def hooks_page() -> str:
    import eicore
    from eicore import hookspecs

    out = ["# Hook and API reference", "", markdown_of(hookspecs.__doc__), "", "## Hooks"]
    for name, function in vars(hookspecs).items():
        if inspect.isfunction(function) and hasattr(function, "eicore_spec"):
            signature = str(inspect.signature(function)).replace("'", "")
            out += ["", f"### `{name}{signature}`", ""]
            out += [markdown_of(function.__doc__)]
    out += [
        "",
        "## The plugin API",
        "",
        "What `import eicore` offers a plugin (`eicore.__all__`). Configs and records are "
        "dataclasses; a component subclasses one of the base classes.",
    ]
    for name in eicore.__all__:
        out += api_entry(name, getattr(eicore, name))
    return "\n".join(out) + "\n"


# -- command line ---------------------------------------------------------------------------


def eicore_help(*args: str) -> str:
    """What ``eicore *args`` prints, run as a user runs it (a fresh process, offline); a
    failure is shown as such, with its last line of error."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-c", "from eicore.commands.cli import main; main()", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"$ eicore {' '.join(args)}\n(failed with exit code {result.returncode}: {error})"
    return result.stdout.rstrip()


def cli_page() -> str:
    from eicore.commands.cli import usage

    commands = list(dict.fromkeys(re.findall(r"^  ([a-z][\w-]*)", usage(), re.MULTILINE)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = list(pool.map(lambda c: eicore_help(c, "--help"), commands))
    out = ["# Command-line reference", "", "```", eicore_help("--help"), "```"]
    for command, text in zip(commands, helps, strict=True):
        out += ["", f"## `eicore {command}`", "", "```", text, "```"]
    return "\n".join(out) + "\n"


# -- the hook -------------------------------------------------------------------------------

PAGES: dict[str, Callable[[], str]] = {
    "reference/configuration.md": configuration_page,
    "reference/hooks.md": hooks_page,
    "reference/cli.md": cli_page,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site."""
    from mkdocs.structure.files import File

    for path, page in PAGES.items():
        files.append(File.generated(config, path, content=page()))
    return files
