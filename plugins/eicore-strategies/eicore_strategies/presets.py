"""Presets of strategies: the paper's own prompts, and the text-only caption row
(``eicore_register_presets``): each a named setting of a registered component, so
``<group>=<preset>`` composes as the component with these settings on top, in the run hash too."""

from eicore import RegisterPreset


def register_presets(register: RegisterPreset) -> None:
    register(
        "strategy",
        "caption-text-only",
        of="caption",
        doc=(
            "The paper's text-only caption row: the answerer reads the caption and the question, "
            "never the image; give the captioner its own model with "
            "`+model@roles.captioner=<vlm>`."
        ),
        settings={"answerer_sees_image": False},
    )
    register(
        "strategy",
        "paper-cot",
        of="paper",
        doc=(
            "The paper's user-question + chain-of-thought prompt, read from the original script "
            "at run time (EIBench/baselines/video-llava.py: the base prompt and \"Let's think step "
            'by step."); the reply is judged whole, as the original scripts kept it. Per-model '
            "wording: strategy.prompt=llava-cot|minigpt-v2-cot|otter-cot."
        ),
        settings={"prompt": "base", "cot": True, "paper_root": "${oc.select:paper.root,null}"},
    )
    register(
        "strategy",
        "paper-direct",
        of="paper",
        doc=(
            "The paper's user-question prompt, read from the original baseline script at run time "
            "(EIBench/baselines/qwen/qwen_user.py; the GPT-4 and Claude scripts use the same "
            "words). Per-model wording: strategy.prompt=qwen-vl-plus|minigpt-v2|llava|otter; the "
            "persona ablation: "
            "strategy.persona=none|assistant|architecture_expert|emotion_expert."
        ),
        settings={"prompt": "base", "paper_root": "${oc.select:paper.root,null}"},
    )
