"""Putting weights on a device: device and dtype, ``from_pretrained``, tokenizer setup."""

from __future__ import annotations

from typing import Any

from eicore_hf.config import HFConfig
from eicore_hf.source import ModelSource


class ModelLoadError(RuntimeError):
    """Weights, processor or tokenizer that could not be loaded; names the model."""


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; a GPU that is not there fails."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(
            f"model.device={device} but torch {torch.__version__} sees no CUDA GPU "
            "(a CPU-only torch build, or no driver); use model.device=cpu or install a CUDA torch"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("model.device=mps but torch sees no Apple GPU")
    return device


def resolve_dtype(dtype: str, on_cpu: bool) -> Any:
    """``auto`` keeps the checkpoint's dtype on a GPU and uses float32 on the CPU."""
    import torch

    if dtype == "auto":
        return torch.float32 if on_cpu else "auto"
    return getattr(torch, dtype)


def load_weights(auto_class: Any, source: ModelSource, config: HFConfig) -> Any:
    """``auto_class.from_pretrained`` on the configured device, in eval mode."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    device = None if config.device_map else resolve_device(config.device)
    options: dict[str, Any] = {
        "revision": source.revision,
        "trust_remote_code": config.trust_remote_code,
        "dtype": resolve_dtype(config.dtype, on_cpu=device == "cpu"),
    }
    if config.device_map:
        options["device_map"] = config.device_map
    if config.attn_implementation:
        options["attn_implementation"] = config.attn_implementation
    model = auto_class.from_pretrained(source.location, **options)
    if device is not None:
        model.to(device)
    return model.eval()


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Left padding, and a pad token (the EOS token if the checkpoint has none)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def require_chat_template(holder: Any, source: ModelSource) -> None:
    """Prompts are rendered with the checkpoint's own chat template; a base model has none."""
    if not getattr(holder, "chat_template", None):
        raise ModelLoadError(
            f"{source} has no chat template: use a chat/instruct checkpoint, or add a "
            "chat_template.jinja to its folder"
        )
