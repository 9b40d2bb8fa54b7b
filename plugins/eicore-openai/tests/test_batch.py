"""``eicore run model=openai model.batch_api=true`` against the fake's Batch API."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelBatchTests


class TestBatch(APIModelBatchTests):
    MODEL = "openai"
    URL_SUFFIX = "/v1"
    KEY_ENV = "OPENAI_API_KEY"
    KEY = "sk-test-FAKEKEY-0123456789abcdef"
