"""Judges as a run builds them: the ``judge`` and ``judges`` config nodes, and judges that ask a
model through the run's call cache.

A judge that needs a model subclasses :class:`ModelJudge`; the run (or ``eicore score``) calls
:meth:`ModelJudge.connect` with its call cache before judging, so a judge's calls are cached,
deduplicated and replayed exactly like a strategy's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

from eicore.calls import ModelClient
from eicore.config import ConfigError
from eicore.interfaces import Judge, Model
from eicore.plugins import registry
from eicore.redact import redact_tree
from eicore.store import CallCache
from eicore.types import Judgment, Sample


class ModelJudge(Judge):
    """A judge whose config has a ``model`` field holding a model config node."""

    _client: ModelClient | None = None

    def connect(self, cache: CallCache | None, model: Model | None = None) -> None:
        """Call the judge's model through ``cache`` (None: no caching); the model is built from
        the config's ``model`` node unless given."""
        if model is not None:
            self._client = ModelClient(model, cache)
            return
        node = getattr(self.config, "model", None)
        if not node:
            raise ConfigError(
                f"judge {self.name!r} needs a model: add `+model@judge.model=<name>` "
                "(or `+model@judges.<name>.model=<name>`)"
            )
        self._client = ModelClient(registry().build("model", node), cache)

    @property
    def client(self) -> ModelClient:
        """The model client; built without a cache if the judge was never connected."""
        if self._client is None:
            self.connect(None)
        assert self._client is not None
        return self._client

    def model_identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = redact_tree(self.client.model.identity())
        return identity

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class NamedJudge(Judge):
    """A judge listed under ``judges.<name>``: its judgments carry ``name``, not its plugin's."""

    def __init__(self, inner: Judge, name: str) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "name": self._name}

    async def judge(self, sample: Sample, answer: str) -> Judgment:
        return dataclasses.replace(await self.inner.judge(sample, answer), judge=self._name)

    async def aclose(self) -> None:
        await self.inner.aclose()


def build_judges(cfg: DictConfig, cache: CallCache | None) -> list[Judge]:
    """``judge`` (named by its plugin) then each ``judges.<name>``, connected to ``cache``."""
    reg = registry()
    judges: list[Judge] = [reg.build("judge", cfg.judge)] if cfg.get("judge") else []
    for name, node in (cfg.get("judges") or {}).items():
        judges.append(NamedJudge(reg.build("judge", node), str(name)))
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise ConfigError(f"judge names must differ, got {names}: rename a `judges.<name>` entry")
    for judge in judges:
        inner = judge.inner if isinstance(judge, NamedJudge) else judge
        if isinstance(inner, ModelJudge):
            inner.connect(cache)
    return judges


def describe_judges(judges: Sequence[Judge]) -> list[dict[str, Any]]:
    """What metrics.json records of each judge, secrets masked."""
    return [{"name": j.name, **redact_tree(j.describe())} for j in judges]
