"""Presets of judges: the paper's two, and the same models under eicore's own judge prompt
(``eicore_register_presets``): each a named setting of a registered component, so
``<group>=<preset>`` composes as the component with these settings on top, in the run hash too."""

from eicore import RegisterPreset


def register_presets(register: RegisterPreset) -> None:
    register(
        "judge",
        "gpt-3.5-turbo",
        of="llm",
        doc=(
            'The paper\'s second judge ("ChatGPT"): gpt-3.5-turbo at temperature 0.1, 512 tokens; '
            "the key comes from $OPENAI_API_KEY."
        ),
        settings={
            "model": {
                "name": "gpt-3.5-turbo-0125",
                "vision": False,
                "temperature": 0.1,
                "max_tokens": 512,
            }
        },
        defaults=[{"/model@model": "openai"}],
    )
    register(
        "judge",
        "llama-3-8b",
        of="llm",
        doc=(
            "The paper's first judge: Meta-Llama-3-8B-Instruct at temperature 0.1, 512 new "
            "tokens, behind a vLLM server (`vllm serve meta-llama/Meta-Llama-3-8B-Instruct --port "
            "8000`)."
        ),
        settings={
            "model": {
                "name": "meta-llama/Meta-Llama-3-8B-Instruct",
                "vision": False,
                "temperature": 0.1,
                "max_tokens": 512,
            }
        },
        defaults=[{"/model@model": "vllm"}],
    )
    register(
        "judge",
        "paper-gpt",
        of="paper",
        doc=(
            "The paper's ChatGPT judge (EIBench/EI_Basic/gpt-eval.py; gpt-eval-complex.py on the "
            "complex split): its system message and user text read from the original script at "
            "run time (docs/reproducing.md), gpt-3.5-turbo pinned to a dated snapshot, "
            "temperature 0.1, 512 tokens as the script's ask_chatgpt defaults; 5 attempts (the "
            "script retried without limit). The key comes from $OPENAI_API_KEY."
        ),
        settings={
            "script": "gpt",
            "paper_root": "${oc.select:paper.root,null}",
            "max_attempts": 5,
            "model": {
                "name": "gpt-3.5-turbo-0125",
                "vision": False,
                "temperature": 0.1,
                "max_tokens": 512,
            },
        },
        defaults=[{"/model@model": "openai"}],
    )
    register(
        "judge",
        "paper-llama3",
        of="paper",
        doc=(
            "The paper's LLaMA-3 judge (EIBench/EI_Basic/llama3-eval.py; llama3-eval-complex.py "
            "on the complex split): its system message and user text read from the original "
            "script at run time (docs/reproducing.md), Meta-Llama-3-8B-Instruct sampled at "
            "temperature 0.1, top_p 0.9, 512 new tokens, 5 attempts, as the script's generate() "
            "call and retry loop. Served by vLLM: vllm serve meta-llama/Meta-Llama-3-8B-Instruct "
            "--port 8100"
        ),
        settings={
            "script": "llama3",
            "paper_root": "${oc.select:paper.root,null}",
            "max_attempts": 5,
            "model": {
                "name": "meta-llama/Meta-Llama-3-8B-Instruct",
                "base_url": "http://127.0.0.1:8100/v1",
                "vision": False,
                "temperature": 0.1,
                "top_p": 0.9,
                "max_tokens": 512,
            },
        },
        defaults=[{"/model@model": "vllm"}],
    )
