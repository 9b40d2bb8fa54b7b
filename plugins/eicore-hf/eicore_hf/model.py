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

QUEUE_FACTOR = 4
"""A greedy call takes up to this many batches of prompts: rows that end early are refilled
from them, and only the call's last answers leave rows idle."""


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
    """New token ids per prompt, as generated (a ``generate`` batch pads after an early EOS)."""
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
    """The transformers auto class of the weights."""
    inputs_class: ClassVar[str]
    """The transformers auto class that makes the inputs: a processor (vision) or a tokenizer
    (text), loaded from the same files."""
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

    @property
    def max_batch_size(self) -> int:
        """Prompts per call: greedy calls take a queue of ``QUEUE_FACTOR`` batches, whose
        prompts refill the ``batch_size`` rows as answers end (:func:`refill`)."""
        factor = QUEUE_FACTOR if self.config.temperature == 0 else 1
        return factor * self.config.batch_size

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
        """The new token ids of each prompt, ``batch_size`` rows decoding at a time.

        Greedy decoding with no logits processors refills the batch (:func:`refill`): a row
        leaves as soon as its answer ends and the next waiting prompt takes its place, so a
        batch no longer waits for its longest answer. Sampling, and checkpoints whose
        generation config changes logits, run as left-padded ``generate`` batches.
        """
        import torch

        with self._lock:
            loaded = self.load()
            cpu_threads()  # on the thread that runs torch: its pool follows the run's CPUs
            started = time.perf_counter()
            if self.config.temperature == 0 and plain_greedy(loaded.generation):
                with torch.inference_mode():
                    rows, input_tokens = refill(self, loaded, prompts)
                return Generated(rows, input_tokens, time.perf_counter() - started)
            rows, input_tokens = [], []
            size = self.config.batch_size
            for start in range(0, len(prompts), size):
                inputs = self.encode(loaded, prompts[start : start + size])
                if self.config.temperature > 0 and self.config.seed is not None:
                    torch.manual_seed(self.config.seed)
                with torch.inference_mode():
                    output = loaded.model.generate(**inputs, generation_config=loaded.generation)
                rows += output[:, inputs["input_ids"].shape[1] :].tolist()
                input_tokens += inputs["attention_mask"].sum(dim=1).tolist()
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

    @staticmethod
    def chat_inputs(processor: Any, conversations: list[Any], **padding: Any) -> Any:
        """``conversations`` through ``processor``'s chat template, ready to generate from: the
        assistant's turn opened, token ids and masks as PyTorch tensors."""
        return processor.apply_chat_template(
            conversations,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            **padding,
        )

    def _load_now(self) -> Loaded:
        import copy

        import transformers

        processor = getattr(transformers, self.inputs_class).from_pretrained(
            self.source.location,
            revision=self.source.revision,
            trust_remote_code=self.config.trust_remote_code,
        )
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
            repetition_penalty=self.config.repetition_penalty,
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


LOGITS_FIELDS = {
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
    "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
    "min_length": 0, "min_new_tokens": None, "forced_bos_token_id": None,
    "forced_eos_token_id": None, "sequence_bias": None, "exponential_decay_length_penalty": None,
    "num_beams": 1, "renormalize_logits": False,
}  # fmt: skip
"""Generation settings that change greedy tokens, at their no-op values: :func:`refill` takes
the argmax of raw logits, so it runs only when a checkpoint leaves all of them alone."""


def plain_greedy(generation: Any) -> bool:
    """Whether greedy ``generate`` with ``generation`` picks the argmax of the raw logits."""
    return all(getattr(generation, k, v) in (v, None) for k, v in LOGITS_FIELDS.items())


def refill(
    model: HFModel, loaded: Loaded, prompts: list[Prompt]
) -> tuple[list[list[int]], list[int]]:
    """Greedy decoding of ``prompts``, up to ``batch_size`` rows at once, refilled as rows end.

    A row leaves the batch (and the key/value cache) at its EOS or ``max_new_tokens``, and
    waiting prompts take the free rows: they are prefilled as a left-padded batch of their own
    and joined to the running cache, both left-padded to a common length. Positions count
    unmasked tokens and padding is masked, as in ``generate``, so each row gets the tokens it
    gets alone.
    """
    import inspect

    import torch
    from transformers import DynamicCache

    net, limit = loaded.model, model.config.max_new_tokens
    cache_arg = (
        "cache" if "cache" in inspect.signature(type(net).forward).parameters else "past_key_values"
    )
    eos = torch.tensor(sorted(loaded.eos_ids), device=net.device)
    rows: list[list[int]] = [[] for _ in prompts]
    input_tokens = [0] * len(prompts)
    waiting = list(range(len(prompts)))
    batch: Batch | None = None
    while waiting or batch is not None:
        free = model.config.batch_size - (0 if batch is None else len(batch.active))
        if waiting and free > 0:
            joining, waiting = waiting[:free], waiting[free:]
            inputs = model.encode(loaded, [prompts[i] for i in joining])
            mask = inputs["attention_mask"]
            positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
            cache = DynamicCache()  # filled in place (the argument's name changed in 5.x)
            output = net(
                **inputs, position_ids=positions, use_cache=True, logits_to_keep=1,
                **{cache_arg: cache},
            )  # fmt: skip
            for i, n in zip(joining, mask.sum(dim=1).tolist(), strict=True):
                input_tokens[i] = int(n)
            new = Batch(joining, cache, mask, positions[:, -1:], output.logits).advance(
                rows, eos, limit
            )
            batch = new if batch is None or new is None else batch.join(new)
        elif batch is not None:
            batch.mask = torch.cat([batch.mask, batch.mask.new_ones(len(batch.active), 1)], 1)
            batch.positions = batch.positions + 1
            output = net(
                input_ids=batch.tokens, attention_mask=batch.mask, position_ids=batch.positions,
                use_cache=True, logits_to_keep=1, **{cache_arg: batch.cache},
            )  # fmt: skip
            batch.logits = output.logits
            batch = batch.advance(rows, eos, limit)
    return rows, input_tokens


@dataclass
class Batch:
    """The rows decoding together: their prompt indices, cache, mask and newest logits."""

    active: list[int]
    cache: Any
    mask: Any
    positions: Any
    """Each row's position of the last token in the cache."""
    logits: Any
    tokens: Any = None
    """Each row's newest token, not yet in the cache."""

    def advance(self, rows: list[list[int]], eos: Any, limit: int) -> Batch | None:
        """Pick each row's next token; drop the rows that ended (None when none is left)."""
        import torch

        self.tokens = self.logits[:, -1, :].argmax(-1, keepdim=True)
        for i, token in zip(self.active, self.tokens[:, 0].tolist(), strict=True):
            rows[i].append(token)
        full = torch.tensor([len(rows[i]) >= limit for i in self.active], device=eos.device)
        ended = torch.isin(self.tokens[:, 0], eos) | full
        if not bool(ended.any()):
            return self
        keep = (~ended).nonzero()[:, 0]
        if len(keep) == 0:
            return None
        self.active = [self.active[k] for k in keep.tolist()]
        self.cache.batch_select_indices(keep)
        self.mask, self.positions, self.tokens = (
            self.mask[keep],
            self.positions[keep],
            self.tokens[keep],
        )
        unused = int((self.mask.sum(dim=0) == 0).long().cumprod(0).sum())  # padding all rows share
        if unused:
            self.mask = self.mask[:, unused:]
            for layer in self.cache.layers:
                layer.keys, layer.values = (
                    layer.keys[..., unused:, :],
                    layer.values[..., unused:, :],
                )
        return self

    def join(self, other: Batch) -> Batch:
        """``other``'s rows after this batch's, both left-padded to the longer cache."""
        import torch

        width = max(self.mask.shape[1], other.mask.shape[1])
        for layer, new in zip(self.cache.layers, other.cache.layers, strict=True):
            layer.keys = torch.cat([left_pad(layer.keys, width), left_pad(new.keys, width)])
            layer.values = torch.cat([left_pad(layer.values, width), left_pad(new.values, width)])
        self.mask = torch.cat([left_pad(self.mask, width), left_pad(other.mask, width)])
        self.positions = torch.cat([self.positions, other.positions])
        self.tokens = torch.cat([self.tokens, other.tokens])
        self.active += other.active
        return self


def left_pad(tensor: Any, width: int) -> Any:
    """``tensor`` with zeros before its sequence axis (the last of a mask, the third of keys)."""
    import torch

    axis = 1 if tensor.dim() == 2 else 2
    missing = width - tensor.shape[axis]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)


class VisionModel(HFModel):
    """An image-text-to-text model: AutoProcessor and its chat template."""

    accepts_images = True
    auto_class = "AutoModelForImageTextToText"
    inputs_class = "AutoProcessor"

    def encode(self, loaded: Loaded, prompts: list[Prompt]) -> Any:
        conversations = [chat.vision_messages(p) for p in prompts]
        padding = {"padding": True, "padding_side": "left"}
        inputs = self.chat_inputs(loaded.processor, conversations, processor_kwargs=padding)
        return inputs.to(loaded.model.device, dtype=loaded.model.dtype)  # pixels too


class TextModel(HFModel):
    """A text-only causal LM: AutoTokenizer and its chat template."""

    accepts_images = False
    auto_class = "AutoModelForCausalLM"
    inputs_class = "AutoTokenizer"

    def encode(self, loaded: Loaded, prompts: list[Prompt]) -> Any:
        conversations = [chat.text_messages(p) for p in prompts]
        inputs = self.chat_inputs(loaded.tokenizer, conversations, padding=True)  # left: the
        return inputs.to(loaded.model.device)  # tokenizer's padding side is set on load
