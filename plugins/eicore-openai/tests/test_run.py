"""``eicore run model=openai`` end to end against the fake: the shared API-model run tests."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelRunTests


class TestRun(APIModelRunTests):
    MODEL = "openai"
    URL_SUFFIX = "/v1"
    KEY_ENV = "OPENAI_API_KEY"
    KEY = "sk-test-FAKEKEY-0123456789abcdef"
    SERVER_ERROR = "InternalServerError"
    REFUSAL_REASON = "finish_reason=content_filter"
