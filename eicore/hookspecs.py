"""The whole extension surface of eicore: five registration hooks, one for commands, and three
lifecycle hooks that follow a run.

A plugin is a module with functions marked ``@eicore.hookimpl`` named like the specs below. Each
registration hook receives ``register`` (:class:`Register`), a callable taking
``(name, factory, config_class)``:

- ``name`` selects the component on the command line (``model=<name>``, ``strategy=<name>``…);
- ``factory(config)`` builds the component from an instance of ``config_class``; import heavy
  dependencies (torch, SDKs) inside the factory or the object, never at module import;
- ``config_class`` is a dataclass whose fields become the Hydra config group entry, so
  ``eicore run model=<name> model.<field>=...`` works with no YAML of the plugin's own.
  Leave out a field called ``plugin``: eicore adds it, holding ``name``.

``eicore_register_commands`` adds subcommands to ``eicore``. The lifecycle hooks
(``eicore_run_start``, ``eicore_sample_end``, ``eicore_run_end``) see a run as it goes, to
stream it to an experiment tracker, say; an implementation takes any subset of the spec's
arguments, runs on the run's event loop (keep it quick), and one that raises is reported by
name while the run goes on.

The plugin is published through an entry point in the ``eicore`` group::

    [project.entry-points.eicore]
    acme = "acme_eicore"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pluggy

from eicore.log import RunLog
from eicore.types import SampleRecord

hookspec = pluggy.HookspecMarker("eicore")


class Register(Protocol):
    """What every registration hook receives: ``register(name, factory, config_class)``."""

    def __call__(
        self, name: str, factory: Callable[[Any], Any], config_class: type | None = None
    ) -> None: ...


class RegisterPreset(Protocol):
    """What ``eicore_register_presets`` receives:
    ``register(kind, name, of=..., doc=..., settings={...}, defaults=[...])``."""

    def __call__(
        self,
        kind: str,
        name: str,
        *,
        of: str,
        doc: str,
        settings: Mapping[str, Any],
        defaults: Sequence[Mapping[str, str]] = (),
    ) -> None: ...


class RegisterCommand(Protocol):
    """What ``eicore_register_commands`` receives: ``register(name, main, usage)``."""

    def __call__(self, name: str, main: Callable[[list[str]], None], usage: str) -> None: ...


@hookspec
def eicore_register_models(register: Register) -> None:
    """Register model backends (subclasses of :class:`eicore.Model`); group ``model``.

    ``register("acme-chat", AcmeChat, AcmeChatConfig)`` makes ``model=acme-chat`` work, and
    ``+model@roles.<role>=acme-chat`` for a strategy's role. The model implements
    ``async generate(prompts) -> list[Completion]``; an API model may subclass
    :class:`eicore.APIModel` and implement ``call_api(prompt)`` instead.
    """


@hookspec
def eicore_register_strategies(register: Register) -> None:
    """Register prompting strategies (subclasses of :class:`eicore.Strategy`); group ``strategy``.

    ``register("refine", Refine, RefineConfig)`` makes ``strategy=refine`` work. The strategy
    names its ``roles`` and implements ``async answer(sample, image, models) -> str``, calling
    ``await models[role].complete(prompt, round=n)``.
    """


@hookspec
def eicore_register_judges(register: Register) -> None:
    """Register trigger judges (subclasses of :class:`eicore.Judge`); group ``judge``.

    ``register("verbatim", Verbatim, VerbatimConfig)`` makes ``judge=verbatim`` and
    ``+judge@judges.<key>=verbatim`` work. The judge implements
    ``async judge(sample, answer) -> Judgment``.
    """


@hookspec
def eicore_register_metrics(register: Register) -> None:
    """Register metrics (subclasses of :class:`eicore.Metric`), selected by ``metrics=[...]``.

    ``register("answer_items", AnswerItems, AnswerItemsConfig)`` makes
    ``metrics=[trigger_recall,answer_items]`` work; its settings are
    ``+metric_options.answer_items.<field>=...``. The metric implements
    ``compute(records) -> dict``, merged into metrics.json.
    """


@hookspec
def eicore_register_datasets(register: Register) -> None:
    """Register datasets (subclasses of :class:`eicore.Dataset`); group ``data``.

    ``register("triggers-csv", TriggersCSV, TriggersCSVConfig)`` makes ``data=triggers-csv``
    work. The dataset implements ``load() -> list[Sample]``. Its config class should extend
    :class:`eicore.DataConfig`, which carries the subset fields (``emotions``, ``ids``,
    ``limit``, ``shard``) and ``image_root``, and have a ``split`` field (run names use it).
    """


@hookspec
def eicore_register_presets(register: RegisterPreset) -> None:
    """Register presets: named settings of a registered component (the one way to name one).

    ``register("model", "gpt-4o", of="openai", doc="ChatGPT-4o, pinned.",
    settings={"name": "gpt-4o-2024-05-13", "max_tokens": 512})`` makes ``model=gpt-4o`` compose
    exactly as ``model=openai model.name=gpt-4o-2024-05-13 model.max_tokens=512`` does (same
    config, same run hash). ``kind`` is a component kind (model, strategy, judge, metric,
    dataset); ``of`` names a component of that kind, from any plugin; ``settings`` may only set
    that component's config fields (a preset that sets another is reported and left out).
    ``defaults`` takes nested nodes from other groups, as Hydra's defaults list does: a judge's
    model is ``[{"/model@model": "openai"}]``, and ``settings["model"]`` then sets its fields.
    """


@hookspec
def eicore_register_commands(register: RegisterCommand) -> None:
    """Add subcommands to ``eicore`` (simonw/llm's ``register_commands``, for an argparse CLI).

    ``register("compare", main, usage)`` makes ``eicore compare <args>`` call ``main(args)``,
    the arguments after the command's name. ``usage`` is the command's entry in
    ``eicore --help``: its synopsis line (``compare <run A> <run B> [--json]``), then what it
    does. A bad input is one line on stderr and ``SystemExit(2)``, as the core's commands do.
    A built-in command's name cannot be taken.
    """


@hookspec
def eicore_run_start(run_dir: Path, config: dict[str, Any], samples: int) -> None:
    """A run (or the resumption of one) starts, its config snapshot written.

    ``config`` is the composed config as ``config.yaml`` holds it (secrets masked); ``samples``
    is how many samples the run covers, those a resumed run already has included.
    """


@hookspec
def eicore_sample_end(run_dir: Path, record: SampleRecord, step: int) -> None:
    """A sample is done and stored: answered and judged, or failed (``record.status``).

    ``step`` counts the samples done so far in the run, this one included (a resumed run
    starts after those it already has).
    """


@hookspec
def eicore_run_end(run_dir: Path, log: RunLog) -> None:
    """The run's files are written: ``log`` is the run's typed log, as :func:`eicore.read_run`
    reads it back (``log.summary()`` is what metrics.json holds; ``log.complete`` is false when
    the run stopped early, as after Ctrl-C, and a rerun resumes it)."""
