"""Model roles for a strategy (or a judge) under test, as a run hands them over: every call
goes through the core's client, so it is batched, cached when a cache is given, and traced."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from eicore.interfaces import Model, ModelRole
from eicore.run.calls import ModelClient, RoleHandle
from eicore.run.store import CallCache
from eicore.types import Call


def traced_roles(
    models: Mapping[str, Model], trace: list[Call] | None = None, cache: Path | None = None
) -> dict[str, ModelRole]:
    """Role name → the role a run would give a strategy for ``models[role]``.

    Each call the roles make is appended to ``trace`` (in the order made), as a sample's record
    holds it. Roles given the same model object share one client, as in a run. ``cache`` is a
    call-cache file (``tmp_path / "calls.sqlite"``) to look calls up in and keep them; without
    it nothing is cached.
    """
    trace = [] if trace is None else trace
    store = CallCache(cache) if cache is not None else None
    clients: dict[int, ModelClient] = {}
    roles: dict[str, ModelRole] = {}
    for role, model in models.items():
        client = clients.setdefault(id(model), ModelClient(model, store))
        roles[role] = RoleHandle(client, role, trace)
    return roles
