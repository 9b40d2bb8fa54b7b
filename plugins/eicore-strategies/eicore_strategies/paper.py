"""The paper's own answerer prompts (``strategy=paper-direct``, ``paper-cot``), read from the
original baseline scripts at run time (:func:`eicore.answer_prompt`), and the persona ablation on
them.

The scripts' prompts open with a persona sentence ("You are ... emotion understanding."); the
ablation swaps that sentence. The code holds a string for the emotion expert only: the other
three personas the paper names are eicore's (:data:`OURS`), marked as such in metrics.json.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eicore import (
    PROMPTS,
    ConfigError,
    ImagePart,
    ModelRole,
    Prompt,
    Sample,
    Strategy,
    Template,
    answer_prompt,
    prompt_name,
)

OURS = {
    "none": "",
    "assistant": "You are a helpful AI assistant.",
    "architecture_expert": "You are a good expert of architecture.",
}
"""The ablation's personas the original code has no string for: eicore's wording, modelled on
the scripts' emotion-expert sentence. ``emotion_expert`` is the script's own sentence."""

PAPER_PERSONA = "emotion_expert"


@dataclass
class PaperPromptConfig:
    prompt: str = "base"
    """Which scripts' wording: ``base`` (Qwen-VL-Chat, Video-LLaVA, GPT-4, Claude), ``llava``,
    ``minigpt-v2``, ``qwen-vl-plus`` (lower-cases the question) or ``otter`` (likewise); the
    complex split uses the family's complex script where its words differ."""
    cot: bool = False
    """The family's chain-of-thought form ("Let's think step by step.")."""
    persona: str = PAPER_PERSONA
    """``emotion_expert`` (the script's own), ``none``, ``assistant``,
    ``architecture_expert`` (eicore's wording), or a sentence of your own."""
    paper_root: str | None = None
    """A checkout of EIBench at the pinned commit (default ``$EICORE_PAPER``, else download)."""


def split_persona(template: Template) -> tuple[str, Template]:
    """The script's persona sentence and the template without it."""
    first = template.parts[0]
    if not isinstance(first, str) or ". " not in first:
        raise ValueError(f"{template.source}: no persona sentence to split off")
    persona, rest = first.split(". ", 1)
    return persona + ".", Template((rest, *template.parts[1:]), template.source)


class PaperPrompt(Strategy):
    """One call with the paper's prompt: the image (when the answerer sees images), then the
    text, the reply kept whole as the original scripts kept it."""

    roles = ("answerer",)
    config: PaperPromptConfig

    def __init__(self, config: PaperPromptConfig) -> None:
        super().__init__(config)
        families = sorted({name.split("-cot")[0].removesuffix("-complex") for name in PROMPTS})
        if config.prompt not in families:
            raise ConfigError(
                f"strategy.prompt={config.prompt!r}: expected one of {', '.join(families)}"
            )
        prompt_name(config.prompt, config.cot, "basic")  # refuses a family without CoT now
        self._templates: dict[str, tuple[str, Template]] = {}

    def template(self, split: str = "basic") -> tuple[str, Template]:
        """The persona sentence and the rest of the prompt for ``split``."""
        name = prompt_name(self.config.prompt, self.config.cot, split)
        if name not in self._templates:
            own, rest = split_persona(answer_prompt(name, self.config.paper_root))
            persona = self.config.persona
            chosen = own if persona == PAPER_PERSONA else OURS.get(persona, persona)
            self._templates[name] = (chosen, rest)
        return self._templates[name]

    def text(self, sample: Sample) -> str:
        persona, rest = self.template(sample.split)
        body = rest.render(question=sample.question)
        return f"{persona} {body}" if persona else body

    def describe(self) -> dict[str, Any]:
        persona, rest = self.template()
        literal = f"{persona} {rest.literal}" if persona else rest.literal
        c = self.config
        return {
            "prompt": c.prompt,
            "cot": c.cot,
            "persona": c.persona,
            "persona_source": (
                rest.source if c.persona == PAPER_PERSONA
                else "eicore (the code has no string for it)" if c.persona in OURS else "given"
            ),
            "source": rest.source,
            "template_sha256": hashlib.sha256(literal.encode()).hexdigest(),
        }  # fmt: skip

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        answerer = models["answerer"]
        text = self.text(sample)
        parts = (image, text) if image is not None and answerer.accepts_images else (text,)
        completion = await answerer.complete(Prompt.user(*parts))
        return completion.text.strip()
