"""``eicore run model=anthropic model.batch_api=true`` against the fake's Message Batches."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelBatchTests


class TestBatch(APIModelBatchTests):
    pass
