"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelFailureTests


class TestFailures(APIModelFailureTests):
    """The shared failure tests; the plugin is the conftest's ``api_plugin``."""
