"""``eicore run model=anthropic model.batch_api=true`` against the fake's Message Batches."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelBatchTests


class TestBatch(APIModelBatchTests):
    MODEL = "anthropic"
    KEY_ENV = "ANTHROPIC_API_KEY"
    KEY = "sk-ant-test-FAKEKEY-0123456789abcdef"
