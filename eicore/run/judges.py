"""Judges as a run builds them: the ``judge`` and ``judges`` config nodes, and the model roles
of judges that ask a model.

A judge that :attr:`~eicore.interfaces.Judge.asks_model` reaches its model the way a strategy
does: through a :class:`~eicore.run.calls.ModelClient` in the role ``judge:<name>``, so its calls
are cached, deduplicated, replayed, traced in the sample's record, and counted and costed in the
run's usage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eicore.interfaces import Judge, ModelRole
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.settings import ConfigError
from eicore.run.store import CallCache
from eicore.secrets.masking import redact_tree
from eicore.types import Judgment, Sample

JUDGE_ROLE = "judge:"
"""Prefix of a judge's model role: ``judge:<name>``."""


def judge_role(judge: Judge) -> str:
    return JUDGE_ROLE + judge.name


class NamedJudge(Judge):
    """A judge listed under ``judges.<name>``: its judgments carry ``name``, not its plugin's."""

    def __init__(self, inner: Judge, name: str) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self._name = name
        self.asks_model = inner.asks_model

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "name": self._name}

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        return dataclasses.replace(await self.inner.judge(sample, answer, model), judge=self._name)

    async def prepare(self, samples: Sequence[Sample]) -> None:
        await self.inner.prepare(samples)

    async def aclose(self) -> None:
        await self.inner.aclose()


def build_judges(cfg: DictConfig) -> list[Judge]:
    """``judge`` (named by its plugin) then each ``judges.<name>``."""
    reg = registry()
    judges: list[Judge] = [reg.build("judge", cfg.judge)] if cfg.get("judge") else []
    for name, node in (cfg.get("judges") or {}).items():
        judges.append(NamedJudge(reg.build("judge", node), str(name)))
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise ConfigError(f"judge names must differ, got {names}: rename a `judges.<name>` entry")
    return judges


def judge_clients(
    judges: Sequence[Judge],
    cache: CallCache | None,
    shared: dict[str, ModelClient] | None = None,
) -> dict[str, ModelClient]:
    """Role ``judge:<name>`` → the client of that judge's model, for judges that ask one.

    ``shared`` (model config YAML → client) lets a judge use the client of a strategy role with
    the same model config, so equal prompts are made once.
    """
    shared = {} if shared is None else shared
    clients = {}
    for judge in judges:
        if not judge.asks_model:
            continue
        node = getattr(judge.config, "model", None)
        if not node:
            where = f"judges.{judge.name}" if isinstance(judge, NamedJudge) else "judge"
            raise ConfigError(
                f"judge {judge.name!r} needs a model: add `+model@{where}.model=<name>`"
            )
        key = OmegaConf.to_yaml(node)
        if key not in shared:
            shared[key] = ModelClient(registry().build("model", node), cache)
        clients[judge_role(judge)] = shared[key]
    return clients


def describe_judges(
    judges: Sequence[Judge], clients: Mapping[str, ModelClient] | None = None
) -> list[dict[str, Any]]:
    """What the run log records of each judge (with its model's identity), secrets masked."""
    described = []
    for judge in judges:
        entry: dict[str, Any] = {"name": judge.name, **redact_tree(judge.describe())}
        client = (clients or {}).get(judge_role(judge))
        if client is not None:
            entry["model"] = redact_tree(client.model.identity())
        described.append(entry)
    return described
