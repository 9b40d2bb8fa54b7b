"""Presets of OpenAI-compatible models: the paper's API rows and vLLM-served open models
(``eicore_register_presets``): each a named setting of a registered component, so
``<group>=<preset>`` composes as the component with these settings on top, in the run hash too."""

from eicore import RegisterPreset


def register_presets(register: RegisterPreset) -> None:
    register(
        "model",
        "gpt-4o",
        of="openai",
        doc=(
            "ChatGPT-4o (the paper's API row) through the OpenAI API; the key comes from "
            "$OPENAI_API_KEY."
        ),
        settings={"name": "gpt-4o-2024-05-13", "temperature": 0.0, "max_tokens": 512},
    )
    register(
        "model",
        "llama-3-8b-vllm",
        of="vllm",
        doc=(
            "Meta-Llama-3-8B-Instruct, text only, behind a vLLM server: the paper's text-only "
            "caption row (it reads a captioner's caption, never the image)."
        ),
        settings={
            "name": "meta-llama/Meta-Llama-3-8B-Instruct",
            "vision": False,
            "temperature": 0.0,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "llava-1.5-13b-vllm",
        of="vllm",
        doc=(
            "LLaVA-1.5-13B behind a vLLM server (`vllm serve llava-hf/llava-1.5-13b-hf --port "
            "8000`); on a cluster, point base_url at the node's server (docs/sweeps.md)."
        ),
        settings={"name": "llava-hf/llava-1.5-13b-hf", "temperature": 0.0, "max_tokens": 512},
    )
    register(
        "model",
        "llava-next-34b-vllm",
        of="vllm",
        doc=(
            "LLaVA-NEXT-34B (the paper's CoT and CFSA rows) behind a vLLM server (`vllm serve "
            "llava-hf/llava-v1.6-34b-hf --port 8000 --tensor-parallel-size 2`)."
        ),
        settings={"name": "llava-hf/llava-v1.6-34b-hf", "temperature": 0.0, "max_tokens": 512},
    )
    register(
        "model",
        "paper-gpt-4-planner",
        of="openai",
        doc=(
            "GPT-4, the paper's CFSA planner and summariser (text only), pinned to a dated "
            "snapshot. The key comes from $OPENAI_API_KEY."
        ),
        settings={"name": "gpt-4-0613", "vision": False, "temperature": 0.0, "max_tokens": 512},
    )
    register(
        "model",
        "paper-gpt-4o",
        of="openai",
        doc=(
            "ChatGPT-4o with gpt4-basic.py's decoding: max_tokens 1024, the API's default "
            "temperature (1); pinned to the dated snapshot of the paper's time. (The script's "
            "call names gpt-4-vision-preview for both GPT-4 rows.) The key comes from "
            "$OPENAI_API_KEY."
        ),
        settings={"name": "gpt-4o-2024-05-13", "temperature": 1.0, "max_tokens": 1024},
    )
    register(
        "model",
        "paper-gpt-4v",
        of="openai",
        doc=(
            "ChatGPT-4V as ChatGPT-4/gpt4-basic.py ran it: gpt-4-vision-preview, max_tokens 1024, "
            "no temperature sent (the API's default, 1). The key comes from $OPENAI_API_KEY."
        ),
        settings={"name": "gpt-4-vision-preview", "temperature": 1.0, "max_tokens": 1024},
    )
    register(
        "model",
        "paper-llama-3-8b",
        of="vllm",
        doc=(
            "Meta-Llama-3-8B-Instruct, text only, for the caption table's text-only row (no "
            "script in the code: eicore's decoding). vllm serve "
            "meta-llama/Meta-Llama-3-8B-Instruct --port 8007 (the paper-llama3 judge has its own "
            "server on 8100)."
        ),
        settings={
            "name": "meta-llama/Meta-Llama-3-8B-Instruct",
            "base_url": "http://127.0.0.1:8007/v1",
            "vision": False,
            "temperature": 0.0,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-llava-1.5-13b",
        of="vllm",
        doc=(
            "LLaVA-1.5-13B as LLaVA/llava/serve/ec_basic_llava.py ran it: temperature 0.4, 512 "
            "new tokens (its argparse defaults). vllm serve llava-hf/llava-1.5-13b-hf --port 8001"
        ),
        settings={
            "name": "llava-hf/llava-1.5-13b-hf",
            "base_url": "http://127.0.0.1:8001/v1",
            "temperature": 0.4,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-llava-next-13b",
        of="vllm",
        doc=(
            "LLaVA-NEXT-13B as ec_basic_llava.py ran it: temperature 0.4, 512 new tokens. vllm "
            "serve llava-hf/llava-v1.6-vicuna-13b-hf --port 8003"
        ),
        settings={
            "name": "llava-hf/llava-v1.6-vicuna-13b-hf",
            "base_url": "http://127.0.0.1:8003/v1",
            "temperature": 0.4,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-llava-next-34b",
        of="vllm",
        doc=(
            "LLaVA-NEXT-34B as ec_basic_llava.py ran it: temperature 0.4, 512 new tokens (also "
            "the CFSA VLM). vllm serve llava-hf/llava-v1.6-34b-hf --port 8004 "
            "--tensor-parallel-size 2"
        ),
        settings={
            "name": "llava-hf/llava-v1.6-34b-hf",
            "base_url": "http://127.0.0.1:8004/v1",
            "temperature": 0.4,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-llava-next-7b",
        of="vllm",
        doc=(
            "LLaVA-NEXT-7B as ec_basic_llava.py ran it: temperature 0.4, 512 new tokens. vllm "
            "serve llava-hf/llava-v1.6-mistral-7b-hf --port 8002"
        ),
        settings={
            "name": "llava-hf/llava-v1.6-mistral-7b-hf",
            "base_url": "http://127.0.0.1:8002/v1",
            "temperature": 0.4,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-minigpt-v2",
        of="vllm",
        doc=(
            "MiniGPT-v2 as MiniGPT4-v2/ec_basic_minigpt4v2.py ran it: temperature 0.6, top_p 0.9, "
            "repetition penalty 1.05, 500 new tokens. Neither vLLM nor transformers serves "
            "MiniGPT-v2: put an OpenAI-compatible server around the MiniGPT-4 repository's model "
            "on this port."
        ),
        settings={
            "name": "minigpt-v2",
            "base_url": "http://127.0.0.1:8005/v1",
            "temperature": 0.6,
            "top_p": 0.9,
            "repetition_penalty": 1.05,
            "max_tokens": 500,
        },
    )
    register(
        "model",
        "paper-otter",
        of="vllm",
        doc=(
            "Otter (luodian/OTTER-Image-LLaMA7B-LA-InContext) as Otter/ec_basic_otter.py ran it: "
            "beam search (3 beams, no repeated 3-grams), 512 new tokens — deterministic, hence "
            "temperature 0. Neither vLLM nor transformers serves Otter: put an OpenAI-compatible "
            "server around it here."
        ),
        settings={
            "name": "otter-image-llama7b",
            "base_url": "http://127.0.0.1:8006/v1",
            "temperature": 0.0,
            "max_tokens": 512,
        },
    )
    register(
        "model",
        "paper-qwen-vl-plus",
        of="openai",
        doc=(
            "Qwen-vl-plus as qwen/qwen_api_basic.py ran it (the API's decoding defaults), through "
            "DashScope's OpenAI-compatible endpoint; the script sent no decoding settings: "
            "temperature 1 and 512 tokens stand in for the API's defaults. The key comes from "
            "$DASHSCOPE_API_KEY."
        ),
        settings={
            "name": "qwen-vl-plus",
            "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "api_key_env": "DASHSCOPE_API_KEY",
            "temperature": 1.0,
            "max_tokens": 512,
        },
    )
