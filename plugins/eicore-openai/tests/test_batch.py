"""``eicore run model=openai model.batch_api=true`` against the fake's Batch API."""

from __future__ import annotations

from eicore.testing.api_runs import APIModelBatchTests


class TestBatch(APIModelBatchTests):
    pass
