"""Presets of local transformers models (``eicore_register_presets``): each a named setting of a
registered component, so ``<group>=<preset>`` composes as the component with these settings on
top, in the run hash too."""

from eicore import RegisterPreset


def register_presets(register: RegisterPreset) -> None:
    register(
        "model",
        "llava-1.5-13b",
        of="hf",
        doc="LLaVA-1.5-13B run locally with transformers (a GPU with ~28 GB, or device_map=auto).",
        settings={"path": "llava-hf/llava-1.5-13b-hf", "max_new_tokens": 512, "temperature": 0.0},
    )
    register(
        "model",
        "llava-next-7b",
        of="hf",
        doc="LLaVA-NEXT-7B (LLaVA-1.6, Mistral-7B) run locally with transformers.",
        settings={
            "path": "llava-hf/llava-v1.6-mistral-7b-hf",
            "max_new_tokens": 512,
            "temperature": 0.0,
        },
    )
    register(
        "model",
        "paper-qwen-vl-chat",
        of="hf",
        doc=(
            "Qwen-VL-Chat as qwen/qwen_user.py ran it: transformers, the checkpoint's own "
            "generation config (the script set no decoding of its own; eicore's hf model decodes "
            "with the values below: set model.temperature/top_p to the checkpoint's to match)."
        ),
        settings={
            "path": "Qwen/Qwen-VL-Chat",
            "trust_remote_code": True,
            "max_new_tokens": 512,
            "temperature": 0.0,
        },
    )
    register(
        "model",
        "paper-video-llava",
        of="hf",
        doc=(
            "Video-LLaVA as baselines/video-llava.py ran it: sampled at temperature 0.4, 512 new "
            "tokens (its argparse defaults), served by transformers."
        ),
        settings={
            "path": "LanguageBind/Video-LLaVA-7B-hf",
            "max_new_tokens": 512,
            "temperature": 0.4,
        },
    )
    register(
        "model",
        "qwen-vl-chat",
        of="hf",
        doc=(
            "Qwen-VL-Chat run locally with transformers (its own modelling code: "
            "trust_remote_code)."
        ),
        settings={
            "path": "Qwen/Qwen-VL-Chat",
            "trust_remote_code": True,
            "max_new_tokens": 512,
            "temperature": 0.0,
        },
    )
