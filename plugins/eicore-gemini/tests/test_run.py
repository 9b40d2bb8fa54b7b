"""``eicore run model=gemini`` end to end against the fake: the shared API-model run tests."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelRunTests


class TestRun(APIModelRunTests):
    MODEL = "gemini"
    URL_SUFFIX = ""
    KEY_ENV = "GEMINI_API_KEY"
    KEY = "AIza-test-FAKEKEY-0123456789abcdef"
    SERVER_ERROR = "ServerError"
    REFUSAL_REASON = "finish_reason=SAFETY"
