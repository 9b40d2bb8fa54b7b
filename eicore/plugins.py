"""Plugin discovery and the registry of named components.

Plugins come from the ``eicore`` entry-point group (``EICORE_LOAD_PLUGINS`` narrows it to a
comma-separated list of distributions; set and empty loads none). A plugin that fails to
import, to validate against the hookspecs, or to register is reported by name and skipped.
Every registration also puts its config dataclass into Hydra's ConfigStore, and every preset
(a named setting of a registered component) a config node of its group.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pluggy
from loguru import logger

from eicore import hookspecs
from eicore.datasets.samples import DataError
from eicore.hookspecs import RegisterPreset
from eicore.run.settings import ConfigError, did_you_mean
from eicore.secrets.masking import redact

hookimpl = pluggy.HookimplMarker("eicore")

KINDS: dict[str, str] = {
    "model": "eicore_register_models",
    "strategy": "eicore_register_strategies",
    "judge": "eicore_register_judges",
    "metric": "eicore_register_metrics",
    "dataset": "eicore_register_datasets",
}
"""Component kind → the hook that registers it."""

GROUPS: dict[str, str] = {
    "model": "model",
    "strategy": "strategy",
    "judge": "judge",
    "metric": "metric",
    "dataset": "data",
}
"""Component kind → its Hydra config group."""

BUILTIN_PLUGINS = ("eicore.datasets.eibench", "eicore.datasets.image_folder")


@dataclass(frozen=True)
class Registration:
    """One registered component: ``factory(config)`` builds it from a ``config_class``."""

    kind: str
    name: str
    factory: Callable[[Any], Any]
    config_class: type
    plugin: str


@dataclass(frozen=True)
class Preset:
    """A named setting of a registered component (``of``): composing ``<group>=<name>`` is
    composing ``<group>=<of>`` with ``settings`` (and the nested ``defaults``) on top."""

    kind: str
    name: str
    of: str
    doc: str
    settings: Mapping[str, Any]
    defaults: tuple[Mapping[str, str], ...]
    plugin: str

    def node(self) -> dict[str, Any]:
        """The preset as Hydra composes it: a defaults list, then its own settings."""
        return {"defaults": [self.of, *map(dict, self.defaults), "_self_"], **self.settings}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as ``eicore plugins`` shows it."""

    name: str
    distribution: str
    version: str
    registered: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Command:
    """A subcommand of ``eicore`` a plugin added: ``main(argv)`` runs it."""

    name: str
    main: Callable[[list[str]], None]
    usage: str
    plugin: str


class UnknownComponentError(LookupError):
    """A name on the command line that no installed plugin registered."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted_distributions() -> set[str] | None:
    raw = os.environ.get("EICORE_LOAD_PLUGINS")
    if raw is None:
        return None
    return {_normalize(n.strip()) for n in raw.split(",") if n.strip()}


class Registry:
    """The loaded plugins and every component they registered, by kind and name."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("eicore")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.components: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self.presets: dict[str, dict[str, Preset]] = {kind: {} for kind in KINDS}
        self.commands: dict[str, Command] = {}
        self._failed: set[tuple[str, str]] = set()
        for module_name in BUILTIN_PLUGINS:
            version = importlib.metadata.version("eicore")
            self._add(module_name, "eicore", version, partial(importlib.import_module, module_name))
        if entry_points:
            self._load_entry_points()
        self._validate()
        self._collect()

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        wanted = _wanted_distributions()
        for ep in importlib.metadata.entry_points(group="eicore"):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if wanted is not None and _normalize(dist) not in wanted:
                continue
            taken = self.plugins.get(ep.name)
            if taken is None:
                self._add(ep.name, dist, version, ep.load)
            elif taken.distribution != dist:  # the same distribution seen twice is no conflict
                error = f"entry point name {ep.name!r} is already taken by {taken.distribution}"
                self.plugins[f"{ep.name} ({dist})"] = PluginInfo(
                    ep.name, dist, version, error=error
                )
                logger.warning("plugin {!r} ({}) skipped: {}", ep.name, dist, error)

    def _add(self, name: str, dist: str, version: str, load: Callable[[], object]) -> None:
        info = PluginInfo(name=name, distribution=dist, version=version)
        self.plugins[name] = info
        try:
            self.pm.register(load(), name=name)
        except Exception as exc:  # a broken plugin must not take the others down
            info.error = f"{type(exc).__name__}: {exc}"
            logger.warning("plugin {!r} ({}) skipped: {}", name, dist, info.error)

    def _validate(self) -> None:
        """Drop plugins whose hook implementations match no hookspec."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                self.pm.unregister(exc.plugin)
                info = self.plugins[name]
                info.error = f"PluginValidationError: {exc}"
                logger.warning("plugin {!r} ({}) skipped: {}", name, info.distribution, exc)

    def _collect(self) -> None:
        hooks = [
            *KINDS.items(),
            ("preset", "eicore_register_presets"),  # after every component they may name
            ("command", "eicore_register_commands"),
        ]
        for kind, hook_name in hooks:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.plugins[impl.plugin_name]
                if info.error:
                    continue
                if kind == "command":
                    register = self._register_command(info)
                elif kind == "preset":
                    register = self._register_preset(info)
                else:
                    register = self._register_into(kind, info)
                try:
                    impl.function(register=register)
                except Exception as exc:
                    info.error = f"{type(exc).__name__} in {hook_name}: {exc}"
                    logger.warning("plugin {!r} skipped: {}", info.name, info.error)
                    self._forget(info)

    def _forget(self, info: PluginInfo) -> None:
        """Undo what a plugin that failed to register had registered."""
        for kind, name in info.registered:
            if kind == "command":
                self.commands.pop(name, None)
            elif kind == "preset":
                group, _, preset = name.partition("=")
                kind_of = {g: k for k, g in GROUPS.items()}[group]
                self.presets[kind_of].pop(preset, None)
            else:
                self.components[kind].pop(name, None)
        info.registered.clear()

    def _register_preset(self, info: PluginInfo) -> Callable[..., None]:
        def register(
            kind: str,
            name: str,
            *,
            of: str,
            doc: str,
            settings: Mapping[str, Any],
            defaults: Sequence[Mapping[str, str]] = (),
        ) -> None:
            if kind not in KINDS:
                raise ValueError(f"preset {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
            taken = self.components[kind].get(name) or self.presets[kind].get(name)
            if taken is not None:
                raise ValueError(
                    f"{kind} {name!r} is already registered by plugin {taken.plugin!r}"
                )
            preset = Preset(kind, name, of, doc, dict(settings), tuple(defaults), info.name)
            self.presets[kind][name] = preset
            info.registered.append(("preset", f"{GROUPS[kind]}={name}"))

        return register

    def _register_command(self, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, main: Callable[[list[str]], None], usage: str) -> None:
            previous = self.commands.get(name)
            if previous is not None:
                raise ValueError(f"command {name!r} is already registered by {previous.plugin!r}")
            self.commands[name] = Command(name, main, usage, info.name)
            info.registered.append(("command", name))

        return register

    def _register_into(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        def register(
            name: str, factory: Callable[[Any], Any], config_class: type | None = None
        ) -> None:
            config_class = config_class or dataclasses.make_dataclass(f"{name}_config", [])
            if not dataclasses.is_dataclass(config_class):
                raise TypeError(f"{kind} {name!r}: config_class must be a dataclass")
            previous = self.components[kind].get(name)
            if previous is not None:
                raise ValueError(
                    f"{kind} {name!r} is already registered by plugin {previous.plugin!r}"
                )
            self.components[kind][name] = Registration(kind, name, factory, config_class, info.name)
            info.registered.append((kind, name))

        return register

    # -- lifecycle ---------------------------------------------------------------------------
    def notify(self, hook_name: str, **payload: Any) -> None:
        """Call each loaded plugin's ``hook_name`` with the arguments it takes from
        ``payload``. One that raises is reported (once per plugin and hook) and the run goes
        on: a tracker that fails loses no sample."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if self.plugins[impl.plugin_name].error:
                continue
            try:
                impl.function(*(payload[name] for name in impl.argnames))
            except Exception as exc:
                if (impl.plugin_name, hook_name) not in self._failed:
                    self._failed.add((impl.plugin_name, hook_name))
                    logger.warning(
                        "plugin {!r}: {} failed (the run goes on): {}: {}",
                        impl.plugin_name, hook_name, type(exc).__name__, redact(str(exc)),
                    )  # fmt: skip

    # -- lookup and construction -----------------------------------------------------------
    def get(self, kind: str, name: str) -> Registration:
        try:
            return self.components[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.components[kind])) or "none"
            raise UnknownComponentError(
                f"no {kind} named {name!r} is registered{did_you_mean(name, self.components[kind])}"
                f" (installed: {known}); `eicore plugins` lists what each plugin provides"
            ) from None

    def build(self, kind: str, config: Any) -> Any:
        """Build a component from its composed config node (a DictConfig or a dataclass)."""
        from omegaconf import DictConfig, OmegaConf
        from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

        name = config.plugin if not isinstance(config, dict) else config["plugin"]
        reg = self.get(kind, name)
        if isinstance(config, DictConfig):  # resolved while it has its root: ${data} and the like
            config = OmegaConf.to_container(config, resolve=True)
        if isinstance(config, dict):
            node_class = config_node_class(reg)
            try:
                node = OmegaConf.merge(OmegaConf.structured(node_class), config)
                config = OmegaConf.to_object(node)
            except ConfigKeyError as exc:
                fields = [f.name for f in dataclasses.fields(node_class)]
                key = str(exc.key)
                raise ConfigError(
                    f"{kind} {name!r} has no setting {key!r}{did_you_mean(key, fields)}; "
                    f"its settings: {', '.join(fields)}"
                ) from None
            except OmegaConfBaseException as exc:
                raise ConfigError(f"{kind} {name!r}: {str(exc).splitlines()[0]}") from None
        try:
            return reg.factory(config)
        except (ConfigError, DataError):
            raise
        except ValueError as exc:  # a constructor refusing its settings, not in eicore's words
            raise ConfigError(f"{kind} {name!r}: {type(exc).__name__}: {exc}") from None

    def store_configs(self) -> None:
        """Put every registered config dataclass into Hydra's ConfigStore under its group, and
        every preset whose component is installed and whose settings are its fields."""
        from hydra.core.config_store import ConfigStore

        cs = ConfigStore.instance()
        for kind, regs in self.components.items():
            for reg in regs.values():
                cs.store(group=GROUPS[kind], name=reg.name, node=config_node_class(reg))
        for kind, presets in self.presets.items():
            for preset in presets.values():
                problem = self._preset_problem(preset)
                if problem:
                    logger.warning("plugin {!r}: preset {}={} left out: {}",
                                   preset.plugin, GROUPS[kind], preset.name, problem)  # fmt: skip
                    continue
                cs.store(group=GROUPS[kind], name=preset.name, node=preset.node())

    def _preset_problem(self, preset: Preset) -> str | None:
        reg = self.components[preset.kind].get(preset.of)
        if reg is None:
            return f"no {preset.kind} named {preset.of!r} is registered"
        fields = {f.name for f in dataclasses.fields(reg.config_class)}
        unknown = sorted(set(preset.settings) - fields)
        if unknown:
            return f"{preset.of!r} has no setting {', '.join(map(repr, unknown))}"
        return None


@functools.cache
def config_node_class(reg: Registration) -> type:
    """The plugin's config dataclass with a ``plugin`` field naming the registration."""
    return dataclasses.make_dataclass(
        reg.config_class.__name__,
        [("plugin", str, dataclasses.field(default=reg.name))],
        bases=(reg.config_class,),
    )


PRESET_FIELDS = ("of", "doc", "settings", "defaults")


def register_presets_from(register: RegisterPreset, file: Path | Traversable) -> None:
    """Register every preset of a YAML file shipped with a plugin:
    ``<kind>: {<name>: {of, doc, settings, defaults}}`` (see ``eicore_register_presets``). A
    preset is data, so it is kept as data; a malformed file raises, naming it, and the plugin is
    reported as broken."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: read at every start
        tree = yaml.load(file.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{file}: cannot read its presets: {exc}") from None
    for kind, presets in (tree or {}).items():
        for name, entry in (presets or {}).items():
            if not isinstance(entry, dict) or not {"of", "doc"} <= entry.keys() <= {*PRESET_FIELDS}:
                raise ValueError(
                    f"{file}: preset {kind}.{name} needs `of` and `doc`, and may have "
                    f"`settings` and `defaults` (it has: {', '.join(entry or ()) or 'nothing'})"
                )
            settings, defaults = entry.get("settings") or {}, entry.get("defaults") or []
            register(kind, name, of=entry["of"], doc=entry["doc"], settings=settings,
                     defaults=defaults)  # fmt: skip


_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def build(kind: str, config: Any) -> Any:
    """The component of ``kind`` (model, strategy, judge, metric, dataset) that ``config`` names
    in its ``plugin`` field, built from it: a config node of the run (``cfg.data``), a dict
    (``{"plugin": "semantic", "threshold": 0.5}``) or the plugin's config dataclass."""
    return registry().build(kind, config)


def registered(kind: str) -> Mapping[str, Registration]:
    """Every installed component of ``kind``, by name: which plugin registered it, its factory
    and config class."""
    return MappingProxyType(registry().components[kind])
