"""Pytest fixtures for testing eicore plugins offline and keyless.

Import it from a plugin's ``tests/conftest.py``::

    from eicore.testing.pytest_plugin import complete, eibench, fake  # noqa: F401

An API model plugin's conftest also imports ``key``, ``model`` and ``api``, which read the
plugin's :class:`~eicore.testing.api_runs.APIModelPlugin` from its ``api_plugin`` fixture.

Importing it unsets the real providers' API keys and keeps the Hugging Face hub offline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eicore import APIModel, Completion, Model, Prompt
from eicore.testing.api_runs import APIModelPlugin, OnTheFake
from eicore.testing.fake_api import FakeAPI
from eicore.testing.runs import eibench_data, has_eibench, keyless_and_offline

keyless_and_offline()


def run_completions(model: Model, *prompts: Prompt) -> list[Completion]:
    """The completions of ``prompts``, in one event loop, the model's client closed after."""

    async def calls() -> list[Completion]:
        try:
            return await model.generate(prompts)
        finally:
            await model.aclose()

    return asyncio.run(calls())


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    """A :class:`FakeAPI` serving on localhost for the test."""
    with FakeAPI() as server:
        yield server


@pytest.fixture(scope="session")
def eibench(pytestconfig: pytest.Config) -> Path:
    """EIBench's annotations: ``$EICORE_TEST_DATA``, else ``../shared/eibench`` beside the repo."""
    path = eibench_data(pytestconfig.rootpath)
    if not has_eibench(path):
        pytest.skip(f"EIBench annotations not found in {path}; set EICORE_TEST_DATA")
    return path


@pytest.fixture
def complete() -> Callable[..., list[Completion]]:
    """``complete(model, *prompts)``: the completions, in one event loop, the client closed
    after."""
    return run_completions


@pytest.fixture
def key(api_plugin: APIModelPlugin, monkeypatch: pytest.MonkeyPatch) -> str:
    """The plugin's fake key, in its ``key_env`` for the test; no file or log may hold it."""
    monkeypatch.setenv(api_plugin.key_env, api_plugin.key)
    return api_plugin.key


@pytest.fixture
def model(api_plugin: APIModelPlugin, fake: FakeAPI, key: str) -> Callable[..., APIModel[Any]]:
    """``model(**config fields)``: the plugin's model pointed at the fake."""

    def make(**fields: Any) -> APIModel[Any]:
        url = fake.url + api_plugin.url_suffix
        return api_plugin.model(api_plugin.config(**{"base_url": url, **fields}))

    return make


@pytest.fixture
def api(
    api_plugin: APIModelPlugin,
    fake: FakeAPI,
    model: Callable[..., APIModel[Any]],
    complete: Callable[..., list[Completion]],
) -> OnTheFake:
    """The plugin's model on the fake, and ways to ask it."""
    return OnTheFake(api_plugin, fake, model, complete)
