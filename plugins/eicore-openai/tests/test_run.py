"""``eicore run model=openai`` end to end against the fake: the shared API-model run tests."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelRunTests


class TestRun(APIModelRunTests):
    """The plugin is the conftest's ``api_plugin``."""
