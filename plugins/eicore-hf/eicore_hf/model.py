"""The ``hf`` model: a local transformers model, loaded on first use, generating in batches.

One registration serves both kinds: :func:`hf_model` reads the checkpoint's config (not its
weights) and builds a :class:`VisionModel` (accepts images) or a :class:`TextModel` (does not).
"""

from __future__ import annotations

import abc
import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from eicore import Completion, Model, Prompt, cpu_threads
from eicore_hf import chat
from eicore_hf.config import HFConfig, check
from eicore_hf.loading import (
    ModelLoadError,
    load_weights,
    prepare_tokenizer,
    require_chat_template,
)
from eicore_hf.source import ModelSource, locate

PLACEMENT_FIELDS = frozenset({"device", "device_map", "attn_implementation"})
"""Where and how the weights run, not what they answer: left out of the model's identity."""


@dataclass
class Loaded:
    """A model in memory with what turns its token ids back into text."""

    model: Any
    tokenizer: Any
    processor: Any
    """The processor of a vision model (the tokenizer itself for a text model)."""
    generation: Any
    eos_ids: frozenset[int]


@dataclass
class Generated:
    """What one batch produced."""

    rows: list[list[int]]
    """New token ids per prompt, as generated (padding after an early EOS included)."""
    input_tokens: list[int]
    seconds: float
    """Wall time of encoding and generating the batch."""


def hf_model(config: HFConfig) -> HFModel:
    """The ``hf`` factory: check the settings, locate the model, pick its kind."""
    check(config)
    source = locate(config)
    kind = VisionModel if source.kind == "vision" else TextModel
    return kind(config, source)


class HFModel(Model):
    """Prompts of one ``generate`` call run as one left-padded batch, in a worker thread.

    Greedy decoding (``temperature=0``) gives the same tokens batched and unbatched. Answers are
    the new tokens only, special tokens skipped; ``finish_reason`` is ``stop`` when the model
    ended with an EOS token and ``length`` when ``max_new_tokens`` cut it off.
    """

    max_concurrency: ClassVar[int] = 1
    """The client never runs two single-prompt calls at once (batches already run one at a time)."""
    auto_class: ClassVar[str]
    config: HFConfig

    def __init__(self, config: HFConfig, source: ModelSource) -> None:
        super().__init__(config)
        self.source = source
        self._lock = threading.RLock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eicore-hf")
        """Every torch call from the run comes from this one thread: torch's CPU thread pool
        belongs to the thread that calls it, and pools of several idle callers spin against
        the busy one."""
        self._loaded: Loaded | None = None
        self._load_error: str | None = None

    def identity(self) -> dict[str, Any]:
        """The settings that decide answers, the resolved kind, and the files' fingerprint."""
        kept = {k: v for k, v in super().identity().items() if k not in PLACEMENT_FIELDS}
        return {**kept, "kind": self.source.kind, "files": self.source.fingerprint}

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self.generate_blocking, list(prompts))

    def generate_blocking(self, prompts: list[Prompt]) -> list[Completion]:
        """``prompts`` as one batch, loading the model first if needed (blocking)."""
        with self._lock:
            loaded = self.load()
            generated = self.generate_ids(prompts)
        return [
            completion(loaded, row, n_in, generated.seconds)
            for row, n_in in zip(generated.rows, generated.input_tokens, strict=True)
        ]

    def generate_ids(self, prompts: list[Prompt]) -> Generated:
        """The new token ids of each prompt; one left-padded batch, one at a time."""
        import torch

        with self._lock:
            loaded = self.load()
            cpu_threads()  # on the thread that runs torch: its pool follows the run's CPUs
            started = time.perf_counter()
            inputs = self.encode(loaded, prompts)
            if self.config.temperature > 0 and self.config.seed is not None:
                torch.manual_seed(self.config.seed)
            with torch.inference_mode():
                output = loaded.model.generate(**inputs, generation_config=loaded.generation)
            rows = output[:, inputs["input_ids"].shape[1] :].tolist()
            input_tokens = inputs["attention_mask"].sum(dim=1).tolist()
            return Generated(rows, input_tokens, time.perf_counter() - started)

    def load(self) -> Loaded:
        """The model in memory, loaded now if this is the first use.

        A load that failed fails again at once, with the same message, for every later batch.
        """
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            if self._load_error is not None:
                raise ModelLoadError(self._load_error)
            try:
                cpu_threads()  # before torch loads: the OpenMP/BLAS pools read it then
                self._loaded = self._load_now()
            except Exception as exc:
                reason = (
                    str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
                )
                self._load_error = f"cannot load {self.source}: {reason}"
                raise ModelLoadError(self._load_error) from exc
            return self._loaded

    @abc.abstractmethod
    def encode(self, loaded: Loaded, prompts: list[Prompt]) -> Any:
        """The batch of model inputs, on the model's device."""

    @abc.abstractmethod
    def load_inputs(self) -> Any:
        """The processor (vision) or tokenizer (text)."""

    def _load_now(self) -> Loaded:
        import copy

        import transformers

        processor = self.load_inputs()
        require_chat_template(processor, self.source)
        tokenizer = prepare_tokenizer(getattr(processor, "tokenizer", processor))
        model = load_weights(getattr(transformers, self.auto_class), self.source, self.config)
        generation = copy.deepcopy(model.generation_config)
        sampling = self.config.temperature > 0
        generation.update(
            max_new_tokens=self.config.max_new_tokens,
            do_sample=sampling,
            temperature=self.config.temperature if sampling else None,
            top_p=self.config.top_p if sampling else None,
            top_k=generation.top_k if sampling else None,
            pad_token_id=tokenizer.pad_token_id,
        )
        eos = (
            generation.eos_token_id
            if generation.eos_token_id is not None
            else tokenizer.eos_token_id
        )
        if eos is None:
            raise ModelLoadError(f"{self.source} defines no EOS token")
        generation.eos_token_id = eos
        eos_ids = frozenset([eos] if isinstance(eos, int) else eos)
        return Loaded(model, tokenizer, processor, generation, eos_ids)

    async def aclose(self) -> None:
        """Drop the weights (a batch still running keeps its own reference until it ends),
        cancel queued batches, and return cached GPU memory."""
        loaded, self._loaded = self._loaded, None
        self._worker.shutdown(wait=False, cancel_futures=True)
        if loaded is not None and loaded.model.device.type == "cuda":
            import torch

            del loaded
            torch.cuda.empty_cache()


def completion(
    loaded: Loaded, new_tokens: list[int], input_tokens: int, latency: float
) -> Completion:
    """One row of generated ids as a completion: cut at the first EOS, special tokens skipped."""
    stop = next((i for i, token in enumerate(new_tokens) if token in loaded.eos_ids), None)
    kept = new_tokens if stop is None else new_tokens[: stop + 1]
    return Completion(
        text=loaded.tokenizer.decode(kept, skip_special_tokens=True).strip(),
        input_tokens=int(input_tokens),
        output_tokens=len(kept),
        latency_s=latency,
        finish_reason="length" if stop is None else "stop",
    )


class VisionModel(HFModel):
    """An image-text-to-text model: AutoProcessor and its chat template."""

    accepts_images = True
    auto_class = "AutoModelForImageTextToText"

    def load_inputs(self) -> Any:
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(
            self.source.location,
            revision=self.source.revision,
            trust_remote_code=self.config.trust_remote_code,
        )

    def encode(self, loaded: Loaded, prompts: list[Prompt]) -> Any:
        inputs = loaded.processor.apply_chat_template(
            [chat.vision_messages(p) for p in prompts],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            processor_kwargs={"padding": True, "padding_side": "left"},
        )
        return inputs.to(loaded.model.device, dtype=loaded.model.dtype)


class TextModel(HFModel):
    """A text-only causal LM: AutoTokenizer and its chat template."""

    accepts_images = False
    auto_class = "AutoModelForCausalLM"

    def load_inputs(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(
            self.source.location,
            revision=self.source.revision,
            trust_remote_code=self.config.trust_remote_code,
        )

    def encode(self, loaded: Loaded, prompts: list[Prompt]) -> Any:
        inputs = loaded.tokenizer.apply_chat_template(
            [chat.text_messages(p) for p in prompts],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            padding=True,
        )
        return inputs.to(loaded.model.device)
