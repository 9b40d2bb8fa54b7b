"""The paper's persona ablation: who the model is told it is."""

PERSONAS = {
    "none": "",
    "assistant": "You are a helpful AI assistant.",
    "unrelated_expert": "You are an expert in geology.",
    "emotion_expert": (
        "You are an expert in emotion psychology who explains why people feel as they do."
    ),
}
"""Presets; ``strategy.persona`` takes one of these keys or any sentence of your own."""


def persona_text(persona: str) -> str:
    return PERSONAS.get(persona, persona)
