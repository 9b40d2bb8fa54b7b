"""Tiny randomly initialised models built from config alone: real model code, no downloads.

``build_llava`` saves a LLaVA (CLIP vision tower + Llama text model, ~600 KB) with a processor and
chat template; ``build_llama`` saves a text-only Llama causal LM (~500 KB) with a tokenizer and
chat template. Both load back with the ``hf`` model (``model.path=<folder>``). Their answers
are gibberish; they exist to test and benchmark the plumbing::

    python -m eicore_hf.tiny /tmp/tiny-llava --kind vision
    eicore run model=hf model.path=/tmp/tiny-llava data.image_root=<images> data.limit=8

The weights are initialised wider than usual and the output rows of the special tokens are
scaled up, so answers depend on the prompt and often contain special tokens or end early with
``</s>``: exactly the cases batching, decoding and finish reasons must get right.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypedDict

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<image>")
"""Ids 0-4, in this order."""
PAD, BOS, EOS, UNK, IMAGE = range(len(SPECIAL_TOKENS))

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'].upper() + ': ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ '<image>' + '\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""LLaVA-1.5's shape. A literal newline after ``{% endif %}`` would be dropped by transformers'
Jinja settings, hence ``{{ '\\n' }}``."""

CORPUS = (
    "You are an expert in emotion psychology who explains why people feel as they do.",
    "Look at the image carefully, then answer the question.",
    "Why is the man in the image angry? What makes the child at the beach so happy?",
    "The woman looks sad because she lost her dog; the crowd is excited by the concert.",
    "1. Raised fist\n2. Shouting at someone\n3. Frowning face\n4. Tears in her eyes",
    "Describe the image: the people, their faces, posture, clothing and the setting.",
)
VOCAB_SIZE = 300
IMAGE_SIZE, PATCH_SIZE = 32, 8
INIT_RANGE = 0.2
SPECIAL_LOGIT_SCALE = 1.5


def build_tokenizer() -> Any:
    """A byte-level BPE tokenizer trained on :data:`CORPUS`, padding on the left."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )


class Layers(TypedDict):
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int


def _layers(hidden_size: int) -> Layers:
    """The tiny transformers' shape (the text model's and the vision tower's): two layers, heads
    of 16 dimensions, an MLP twice as wide as the hidden size."""
    return Layers(
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=hidden_size // 16,
    )


def _text_config() -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=VOCAB_SIZE,
        **_layers(hidden_size=64),
        num_key_value_heads=4,
        max_position_embeddings=1024,
        initializer_range=INIT_RANGE,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
    )


def _finish(model: Any, folder: Path, special_scale: float) -> None:
    """Scale the special tokens' output rows, set generation ids, save."""
    import torch

    with torch.no_grad():
        head = model.get_output_embeddings().weight
        head[list(range(len(SPECIAL_TOKENS)))] *= special_scale
    generation = model.generation_config
    generation.pad_token_id, generation.bos_token_id, generation.eos_token_id = PAD, BOS, EOS
    model.save_pretrained(folder)


def build_llava(
    folder: str | Path, seed: int = 0, special_scale: float = SPECIAL_LOGIT_SCALE
) -> Path:
    """Save a tiny LLaVA and its processor into ``folder``; 16 image tokens per image.

    ``special_scale=1`` leaves the special tokens' output rows alone: answers then rarely end
    before ``max_new_tokens``."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = Path(folder)
    vision = CLIPVisionConfig(
        **_layers(hidden_size=32),
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(),
        image_token_index=IMAGE,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    _finish(LlavaForConditionalGeneration(config), folder, special_scale)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": IMAGE_SIZE},
            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        ),
        tokenizer=build_tokenizer(),
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder


def build_llama(
    folder: str | Path, seed: int = 0, special_scale: float = SPECIAL_LOGIT_SCALE
) -> Path:
    """Save a tiny text-only Llama causal LM and its tokenizer into ``folder``."""
    import torch
    from transformers import LlamaForCausalLM

    folder = Path(folder)
    torch.manual_seed(seed)
    _finish(LlamaForCausalLM(_text_config()), folder, special_scale)
    build_tokenizer().save_pretrained(folder)
    return folder


def image_tokens_per_image() -> int:
    """Patches of the CLIP tower (its CLS feature is dropped by the ``default`` strategy)."""
    return (IMAGE_SIZE // PATCH_SIZE) ** 2


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eicore_hf.tiny", description=__doc__.split("\n")[0]
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--kind", choices=("vision", "text"), default="vision")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build = build_llava if args.kind == "vision" else build_llama
    print(build(args.folder, args.seed))


if __name__ == "__main__":
    main()
