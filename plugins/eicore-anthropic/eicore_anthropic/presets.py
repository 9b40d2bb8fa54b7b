"""Presets of Claude models, as the paper ran them (``eicore_register_presets``): each a named
setting of a registered component, so ``<group>=<preset>`` composes as the component with these
settings on top, in the run hash too."""

from eicore import RegisterPreset


def register_presets(register: RegisterPreset) -> None:
    register(
        "model",
        "claude-3-haiku",
        of="anthropic",
        doc=(
            "Claude-3-haiku (the paper's best user-question row) through the Anthropic API; the "
            "key comes from $ANTHROPIC_API_KEY."
        ),
        settings={"name": "claude-3-haiku-20240307", "temperature": 0.0, "max_tokens": 512},
    )
    register(
        "model",
        "paper-claude-3-haiku",
        of="anthropic",
        doc=(
            "Claude-3-haiku as Claude-3/claude_basic.py ran it: max_tokens 512, no temperature "
            "sent. The key comes from $ANTHROPIC_API_KEY."
        ),
        settings={"name": "claude-3-haiku-20240307", "temperature": None, "max_tokens": 512},
    )
    register(
        "model",
        "paper-claude-3-sonnet",
        of="anthropic",
        doc=(
            "Claude-3-sonnet as Claude-3/claude_basic.py ran it: max_tokens 512, no temperature "
            "sent. The key comes from $ANTHROPIC_API_KEY."
        ),
        settings={"name": "claude-3-sonnet-20240229", "temperature": None, "max_tokens": 512},
    )
