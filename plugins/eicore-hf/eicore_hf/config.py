"""The ``hf`` model's settings (``model.<field>=...`` on the command line) and their checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eicore import ConfigError

KINDS = ("auto", "vision", "text")
DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass
class HFConfig:
    path: str | None = None
    """A local model folder, or a hub id (``llava-hf/llava-1.5-7b-hf``) found in the local hub
    cache or, with network, downloaded there."""
    revision: str | None = None
    """Hub branch, tag or commit; a hub id is pinned to the commit it resolves to."""
    kind: str = "auto"
    """``vision`` (AutoProcessor + AutoModelForImageTextToText), ``text`` (AutoTokenizer +
    AutoModelForCausalLM), or ``auto``: read from the saved config."""
    device: str = "auto"
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (the first GPU if torch sees one)."""
    dtype: str = "auto"
    """``auto``: the checkpoint's dtype on a GPU, float32 on the CPU."""
    device_map: str | None = None
    """Passed to ``from_pretrained`` (e.g. ``auto`` to spread a large model over several GPUs;
    needs ``accelerate``); replaces ``device``."""
    batch_size: int = 8
    """Prompts per ``generate`` call, left-padded; a runtime field (not in cache keys)."""
    max_new_tokens: int = 512
    temperature: float = 0.0
    """0 decodes greedily; above 0 samples."""
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    """Above 1 penalises repeated tokens (MiniGPT-v2's baseline ran 1.05); 1 leaves them."""
    seed: int | None = None
    """Seeds sampling before every batch (sampled answers then depend on how prompts are
    batched)."""
    trust_remote_code: bool = False
    """Run Python code shipped with the checkpoint; off unless you trust its source."""
    attn_implementation: str | None = None
    """``eager``, ``sdpa``, ``flash_attention_2``…; None lets transformers choose."""


def check(config: HFConfig) -> None:
    """Refuse settings that cannot work, before anything is loaded."""
    if not config.path:
        raise ConfigError(
            "model.path is not set: give a local model folder or a hub id, "
            "e.g. model.path=/models/llava-1.5-7b-hf"
        )
    problems = []
    if config.kind not in KINDS:
        problems.append(f"model.kind must be one of {', '.join(KINDS)}, got {config.kind!r}")
    if config.dtype not in DTYPES:
        problems.append(f"model.dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}")
    if not DEVICE.match(config.device):
        problems.append(
            f"model.device must be auto, cpu, mps, cuda or cuda:N, got {config.device!r}"
        )
    if config.batch_size < 1:
        problems.append(f"model.batch_size must be at least 1, got {config.batch_size}")
    if config.max_new_tokens < 1:
        problems.append(f"model.max_new_tokens must be at least 1, got {config.max_new_tokens}")
    if config.temperature < 0:
        problems.append(f"model.temperature must be 0 or more, got {config.temperature}")
    if not 0 < config.top_p <= 1:
        problems.append(f"model.top_p must be in (0, 1], got {config.top_p}")
    if config.repetition_penalty <= 0:
        problems.append(
            f"model.repetition_penalty must be above 0, got {config.repetition_penalty}"
        )
    if problems:
        raise ConfigError("; ".join(problems))
