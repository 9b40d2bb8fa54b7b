"""The paper's own strings, read from the original EIBench code at run time, never copied here.

The scripts come from ``paper.root`` (or ``$EICORE_PAPER``: a checkout of the EIBench repository
at the pinned commit), else they are downloaded once from that commit, checked against the pinned
sha256 and cached — like the annotation files (:mod:`eicore.datasets.eibench`). A string is found by
parsing its script with :mod:`ast` at a named place (function, assigned variable or dict key);
eicore holds the places and the digests, not the sentences. Lines the authors left commented out
(the non-CoT prompts of the LLaVA and MiniGPT-v2 scripts) are parsed from the comment tokens.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from loguru import logger

from eicore.datasets.eibench import COMMIT
from eicore.datasets.samples import DataError
from eicore.run.store import cache_home

SOURCE = f"https://raw.githubusercontent.com/Lum1104/EIBench/{COMMIT}"
FILES = {
    "README.md": "8d82842113e216f925d2cfe4dbfc3a17ed351abfdcd5c90ec84472ec399ccd6a",
    "EIBench/EI_Basic/gpt-eval.py": (
        "60835e41e0c1c2fb69ca9f103063e1ca2db0b99111e10d841f6baeac852ae068"
    ),
    "EIBench/EI_Basic/llama3-eval.py": (
        "d42e75e0c276cad703b632987afdf4b245346a384eef539141827425c496b5f7"
    ),
    "EIBench/EI_Complex/gpt-eval-complex.py": (
        "7ea5f8234186c1b6f95a7381aa7ebcc27646c1bf9c096cda279a6a361d0a7d3e"
    ),
    "EIBench/EI_Complex/llama3-eval-complex.py": (
        "f104e50ec1c2ab3ba62be796f63efd378350f3e249ea29d5401b649eebdbc3f0"
    ),
    "EIBench/baselines/qwen/qwen_user.py": (
        "5f04623919234eeac03eb06cb0c3b4fe67d3fb71de7e89a1437df722ca17e22a"
    ),
    "EIBench/baselines/qwen/qwen_api_basic.py": (
        "9ba83cf86e96b2ff1bdda192151fd623fc0667df231059d64b58008ee24f8c54"
    ),
    "EIBench/baselines/qwen/qwen_api_complex.py": (
        "02e46e5590260cffa9d9b76fab7cc161ec92f5423cdedc9e1c4073f73417f90a"
    ),
    "EIBench/baselines/LLaVA/llava/serve/ec_basic_llava.py": (
        "8500e8b2fb56c59dd6d0b68d6cef073137ebbda42cc99f04161a16ee79f9ca2a"
    ),
    "EIBench/baselines/LLaVA/llava/serve/ec_complex_llava.py": (
        "17a00cf3dd15af2fcd1bb73aaa6e855a41bcba5ffa24a4be5a472226b3e04995"
    ),
    "EIBench/baselines/MiniGPT4-v2/ec_basic_minigpt4v2.py": (
        "a0b095bbbfc5dc667a2f4097ee4344e60d3203b72574357a718adf0bd3169538"
    ),
    "EIBench/baselines/MiniGPT4-v2/ec_complex_minigpt4v2.py": (
        "3a9e5a80a348232c0f4a283f88d1e8d9f24045b8f3f93a7d823f5be33ebcd8dd"
    ),
    "EIBench/baselines/Otter/ec_basic_otter.py": (
        "2106fde4f60ae33693558a2a220c3ec1ac99097bd49fb8bcd5c919c6011aa43e"
    ),
    "EIBench/baselines/Otter/ec_complex_otter.py": (
        "7239cf3d415bf4a552d6ff1799a550c4e98a136878f23ee13d26bea77488a700"
    ),
    "EIBench/baselines/video-llava.py": (
        "700c8221bc3486831023d96563298394827f77fee42904e881918c38a112e195"
    ),
}
"""Path in the repository → sha256 of the pinned file."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def paper_root(root: str | None = None) -> Path | None:
    """The local checkout to read: ``root``, else ``$EICORE_PAPER``, else None (download)."""
    given = root or os.environ.get("EICORE_PAPER")
    return Path(given).expanduser() if given else None


def paper_file(name: str, root: str | None = None, source_url: str = SOURCE) -> bytes:
    """The pinned bytes of one original file; a copy whose digest differs is refused."""
    if name not in FILES:
        raise KeyError(f"{name}: not one of the pinned EIBench files")
    digest = FILES[name]
    local = paper_root(root)
    if local is not None:
        path = local / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(
                f"{path}: cannot read the paper's script ({exc.strerror}); set paper.root "
                "(or $EICORE_PAPER) to a checkout of EIBench at commit "
                f"{COMMIT[:7]}"
            ) from None
        if _sha256(data) != digest:
            raise DataError(
                f"{path}: sha256 {_sha256(data)} is not the pinned {digest} (EIBench at "
                f"{COMMIT[:7]}); point paper.root at an unchanged checkout"
            )
        return data
    target = cache_home() / "eibench-code" / COMMIT[:7] / name
    if target.is_file():
        data = target.read_bytes()
        if _sha256(data) == digest:
            return data
    url = f"{source_url.rstrip('/')}/{name}"
    logger.info("downloading {} from {}", name, url)
    import urllib.request  # here: a run that reads the strings locally never loads it

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = bytes(response.read())
    except OSError as exc:
        raise DataError(
            f"could not download {url}: {exc}; set paper.root (or $EICORE_PAPER) to a "
            f"checkout of EIBench at commit {COMMIT[:7]}"
        ) from None
    if _sha256(data) != digest:
        raise DataError(f"{url}: sha256 {_sha256(data)} does not match the pinned {digest}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return data


@dataclass(frozen=True)
class Slot:
    """A value filled into a template: ``name``, lower-cased when the original did so."""

    name: str
    lower: bool = False


@dataclass(frozen=True)
class Template:
    """An f-string of the original as literal text and named slots, in order."""

    parts: tuple[str | Slot, ...]
    source: str
    """Where it was read: ``<file>:<line> (<function>, <variable>)``."""

    def render(self, **values: str) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = values[part.name]
                out.append(value.lower() if part.lower else value)
        return "".join(out)

    @property
    def literal(self) -> str:
        """The text with each slot shown as ``{name}``."""
        return "".join(p if isinstance(p, str) else "{" + p.name + "}" for p in self.parts)


@dataclass(frozen=True)
class Place:
    """Where a string sits in a script: the function, then the assignment target (a variable,
    or a dict key such as ``'text'`` or ``'content'``), the n-th such (0-based); ``commented``
    for a line the authors commented out."""

    file: str
    function: str
    target: str
    nth: int = 0
    commented: bool = False


@cache
def _tree(name: str, root: str | None) -> ast.Module:
    return ast.parse(paper_file(name, root).decode("utf-8"), filename=name)


def _comment_trees(name: str, root: str | None) -> Iterator[tuple[int, ast.Module]]:
    """Comment lines of the script that parse as Python statements, with their line numbers."""
    text = paper_file(name, root).decode("utf-8")
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.COMMENT:
            continue
        code = token.string.lstrip("#").strip()
        try:
            yield token.start[0], ast.parse(code)
        except SyntaxError:
            continue


def _function(tree: ast.Module, name: str) -> ast.AST:
    """A function of the script, or ``__main__``: its ``if __name__ == "__main__":`` block."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
        if (
            name == "__main__"
            and isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            return node
    raise DataError(f"no function {name!r} in the script")


def _values_at(scope: ast.AST, target: str, line: int | None = None) -> list[tuple[int, ast.expr]]:
    """Values assigned to variable ``target``, given under dict key ``target`` or passed as
    keyword ``target``, in source order, with their line (``line`` for a parsed comment)."""
    found: list[tuple[int, int, ast.expr]] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == target for t in node.targets
        ):
            found.append((node.lineno, node.col_offset, node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == target:
                    found.append((value.lineno, value.col_offset, value))
        elif isinstance(node, ast.keyword) and node.arg == target:
            found.append((node.value.lineno, node.value.col_offset, node.value))
    found.sort(key=lambda f: (f[0], f[1]))
    return [(line or at, value) for at, _, value in found]


def located(place: Place, root: str | None = None) -> tuple[int, ast.expr]:
    """The line and the expression the original has at ``place``."""
    scope = _function(_tree(place.file, root), place.function)
    if place.commented:
        first, last = getattr(scope, "lineno", 0), getattr(scope, "end_lineno", None) or 10**9
        candidates = [
            found
            for line, tree in _comment_trees(place.file, root)
            if first <= line <= last
            for found in _values_at(tree, place.target, line)
        ]
    else:
        candidates = _values_at(scope, place.target)
    if place.nth >= len(candidates):
        raise DataError(
            f"{place.file}: nothing at {place} (the pinned file has it; is this the file of "
            f"commit {COMMIT[:7]}?)"
        )
    return candidates[place.nth]


def expression(place: Place, root: str | None = None) -> ast.expr:
    """The expression the original has at ``place``."""
    return located(place, root)[1]


def constant(place: Place, root: str | None = None) -> str | int | float:
    """A literal (a string, a number) at ``place``."""
    node = expression(place, root)
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str | int | float):
        raise DataError(f"{place.file}: expected a literal at {place}, found {ast.dump(node)[:80]}")
    value: str | int | float = node.value
    return value


def template(place: Place, slots: dict[str, str], root: str | None = None) -> Template:
    """The f-string at ``place`` (or its right-hand ``<var> + f"..."`` part) as a Template;
    ``slots`` maps each interpolated expression as written (``gt[img_path]``, ``question``)
    to a slot name. ``x.lower()`` becomes a lower-casing slot of ``x``."""
    line, node = located(place, root)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        node = node.right
    if not isinstance(node, ast.JoinedStr):
        raise DataError(f"{place.file}: expected an f-string at {place}")
    parts: list[str | Slot] = []
    for value in node.values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts.append(value.value)
            continue
        assert isinstance(value, ast.FormattedValue)
        expr, lower = value.value, False
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and expr.func.attr == "lower"
            and not expr.args
        ):
            expr, lower = expr.func.value, True
        written = ast.unparse(expr)
        if written not in slots or value.conversion != -1 or value.format_spec is not None:
            raise DataError(f"{place.file}: unexpected interpolation {{{written}}} at {place}")
        parts.append(Slot(slots[written], lower))
    where = f"{place.file}:{line} ({place.function}, {place.target})"
    return Template(tuple(parts), where)


BASIC_JUDGES = {"gpt": "EIBench/EI_Basic/gpt-eval.py", "llama3": "EIBench/EI_Basic/llama3-eval.py"}
COMPLEX_JUDGES = {
    "gpt": "EIBench/EI_Complex/gpt-eval-complex.py",
    "llama3": "EIBench/EI_Complex/llama3-eval-complex.py",
}
_SYSTEM_AT = {"gpt": ("ask_chatgpt", 0), "llama3": ("main", 2)}
"""Where each judge script's system message is: a ``'content'`` value, the n-th."""
_TRUTH = {"basic": "gt[img_path]", "complex": "label"}
"""How the basic and complex scripts name the ground-truth text they interpolate."""


@dataclass(frozen=True)
class JudgePrompt:
    """A judge script's messages: the system text, and the user text as the instruction
    followed by the record/ground-truth framing (with ``answer`` and ``truth`` slots)."""

    system: str
    instruction: str
    framing: Template
    sources: dict[str, str]
    """Part → ``<file>:<line>`` where it was read."""

    def user(self, answer: str, truth: str) -> str:
        return self.instruction + self.framing.render(answer=answer, truth=truth)


def judge_prompt(judge: str, split: str, root: str | None = None) -> JudgePrompt:
    """The ``gpt`` or ``llama3`` judge script's strings for the ``basic`` or ``complex`` split."""
    file = (BASIC_JUDGES if split == "basic" else COMPLEX_JUDGES)[judge]
    function, nth = _SYSTEM_AT[judge]
    system_at = Place(file, function, "content", nth)
    instruction_at = Place(file, "main", "content", 0)
    system, instruction = constant(system_at, root), constant(instruction_at, root)
    if not isinstance(system, str) or not isinstance(instruction, str):
        raise DataError(f"{file}: the judge's messages are not strings")
    framing = template(
        Place(file, "main", "content", 1), {"data_input": "answer", _TRUTH[split]: "truth"}, root
    )
    sources = {
        "system": f"{file}:{located(system_at, root)[0]}",
        "instruction": f"{file}:{located(instruction_at, root)[0]}",
        "framing": framing.source,
    }
    return JudgePrompt(system, instruction, framing, sources)


_QWEN = "EIBench/baselines/qwen/"
_LLAVA = "EIBench/baselines/LLaVA/llava/serve/"
_MINIGPT = "EIBench/baselines/MiniGPT4-v2/"
_OTTER = "EIBench/baselines/Otter/"
PROMPTS: dict[str, tuple[Place, str]] = {
    "base": (Place(_QWEN + "qwen_user.py", "main", "text"), "question"),
    "base-cot": (Place("EIBench/baselines/video-llava.py", "main", "inp"), "question"),
    "llava": (Place(_LLAVA + "ec_basic_llava.py", "main", "inp", commented=True), "question"),
    "llava-cot": (Place(_LLAVA + "ec_basic_llava.py", "main", "inp"), "question"),
    "llava-complex": (Place(_LLAVA + "ec_complex_llava.py", "main", "inp"), "question"),
    "minigpt-v2": (
        Place(_MINIGPT + "ec_basic_minigpt4v2.py", "main", "prompt", commented=True),
        "prompt",
    ),
    "minigpt-v2-cot": (Place(_MINIGPT + "ec_basic_minigpt4v2.py", "main", "prompt"), "prompt"),
    "minigpt-v2-complex": (
        Place(_MINIGPT + "ec_complex_minigpt4v2.py", "main", "prompt"),
        "question",
    ),
    "qwen-vl-plus": (Place(_QWEN + "qwen_api_basic.py", "__main__", "content"), "data_input"),
    "qwen-vl-plus-complex": (
        Place(_QWEN + "qwen_api_complex.py", "__main__", "content"),
        "question",
    ),
    "otter": (Place(_OTTER + "ec_complex_otter.py", "main", "content"), "question"),
    "otter-cot": (Place(_OTTER + "ec_basic_otter.py", "main", "content"), "data_input"),
}
"""The answerer prompts of the baseline scripts: name → (place, the variable the script
interpolates as the question). A family (``base``, ``llava``, ``minigpt-v2``, ``qwen-vl-plus``,
``otter``) has its ``-cot`` and ``-complex`` forms where the scripts have them. ``base`` is the
Qwen-VL-Chat script's (the GPT-4, Claude and Video-LLaVA scripts use the same words);
``base-cot`` is Video-LLaVA's (the base plus the cue); ``otter`` is read from the complex script,
the basic one holding only the CoT form."""


def prompt_name(family: str, cot: bool, split: str) -> str:
    """The :data:`PROMPTS` entry for a family in a setting: its ``-cot`` form, else on the
    complex split its ``-complex`` form where the scripts have one, else the family's."""
    if cot:
        name = f"{family}-cot"
        if name not in PROMPTS:
            raise DataError(f"the paper's scripts have no chain-of-thought prompt for {family!r}")
        return name
    return f"{family}-complex" if split == "complex" and f"{family}-complex" in PROMPTS else family


def answer_prompt(name: str, root: str | None = None) -> Template:
    """One of :data:`PROMPTS` as a Template with a ``question`` slot."""
    if name not in PROMPTS:
        raise DataError(f"no paper prompt {name!r}: expected one of {', '.join(PROMPTS)}")
    place, variable = PROMPTS[name]
    return template(place, {variable: "question"}, root)
