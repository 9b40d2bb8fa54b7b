"""``eicore run model=anthropic`` end to end against the fake: the shared API-model run tests."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelRunTests


class TestRun(APIModelRunTests):
    MODEL = "anthropic"
    URL_SUFFIX = ""
    KEY_ENV = "ANTHROPIC_API_KEY"
    KEY = "sk-ant-test-FAKEKEY-0123456789abcdef"
    SERVER_ERROR = "InternalServerError"
    REFUSAL_REASON = "stop_reason=refusal"
