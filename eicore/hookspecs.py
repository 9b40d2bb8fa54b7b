"""The whole extension surface of eicore: five registration hooks.

A plugin is a module with functions marked ``@eicore.hookimpl`` named like the specs below. Each
receives ``register``, a callable taking ``(name, factory, config_class)``:

- ``name`` selects the component on the command line (``model=<name>``, ``strategy=<name>``…);
- ``factory(config)`` builds the component from an instance of ``config_class``; import heavy
  dependencies (torch, SDKs) inside the factory or the object, never at module import;
- ``config_class`` is a dataclass whose fields become the Hydra config group entry, so
  ``eicore run model=<name> model.<field>=...`` works with no YAML of the plugin's own.
  Leave out a field called ``plugin``: eicore adds it, holding ``name``.

The plugin is published through an entry point in the ``eicore`` group::

    [project.entry-points.eicore]
    acme = "acme_eicore"
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("eicore")


@hookspec
def eicore_register_models(register):  # type: ignore[no-untyped-def]
    """Register model backends (subclasses of :class:`eicore.Model`); group ``model``.

    ``register("acme-chat", AcmeChat, AcmeChatConfig)`` makes ``model=acme-chat`` work, and
    ``+model@roles.<role>=acme-chat`` for a strategy's role. The model implements
    ``async generate(prompts) -> list[Completion]``; an API model may subclass
    :class:`eicore.APIModel` and implement ``_complete(prompt)`` instead.
    """


@hookspec
def eicore_register_strategies(register):  # type: ignore[no-untyped-def]
    """Register prompting strategies (subclasses of :class:`eicore.Strategy`); group ``strategy``.

    ``register("refine", Refine, RefineConfig)`` makes ``strategy=refine`` work. The strategy
    names its ``roles`` and implements ``async answer(sample, image, models) -> str``, calling
    ``await models[role].complete(prompt, round=n)``.
    """


@hookspec
def eicore_register_judges(register):  # type: ignore[no-untyped-def]
    """Register trigger judges (subclasses of :class:`eicore.Judge`); group ``judge``.

    ``register("verbatim", Verbatim, VerbatimConfig)`` makes ``judge=verbatim`` and
    ``+judge@judges.<key>=verbatim`` work. The judge implements
    ``async judge(sample, answer) -> Judgment``.
    """


@hookspec
def eicore_register_metrics(register):  # type: ignore[no-untyped-def]
    """Register metrics (subclasses of :class:`eicore.Metric`), selected by ``metrics=[...]``.

    ``register("answer_items", AnswerItems, AnswerItemsConfig)`` makes
    ``metrics=[trigger_recall,answer_items]`` work; its settings are
    ``+metric_options.answer_items.<field>=...``. The metric implements
    ``compute(records) -> dict``, merged into metrics.json.
    """


@hookspec
def eicore_register_datasets(register):  # type: ignore[no-untyped-def]
    """Register datasets (subclasses of :class:`eicore.Dataset`); group ``data``.

    ``register("triggers-csv", TriggersCSV, TriggersCSVConfig)`` makes ``data=triggers-csv``
    work. The dataset implements ``load() -> list[Sample]``. Its config class should extend
    :class:`eicore.DataConfig`, which carries the subset fields (``emotions``, ``ids``,
    ``limit``, ``shard``) and ``image_root``, and have a ``split`` field (run names use it).
    """
