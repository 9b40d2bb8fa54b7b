"""The paper's coherence (EIBench/EI_Basic/long_term_scores.py), with the real libraries: spaCy
sentences, bert-base-uncased's [CLS] vector of the last hidden state for each sentence, the mean
cosine of consecutive pairs; answers of fewer than two sentences have no value.

``+metric_options.coherence.variant=paper`` selects it. spaCy's ``en_core_web_sm`` is not on the
package index (install it with ``python -m spacy download en_core_web_sm``);
``spacy_model=sentencizer`` uses spaCy's rule-based splitter instead, which needs no model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from eicore import ConfigError

SENTENCIZER = "sentencizer"
"""``spacy_model`` value for spaCy's rule-based sentence splitter (no trained pipeline)."""


def load_sentences(spacy_model: str) -> Callable[[str], list[str]]:
    """A function splitting a text into sentences with spaCy; ConfigError saying how to install
    what is missing."""
    try:
        import spacy
    except ImportError:
        raise ConfigError(
            "metric_options.coherence.variant=paper needs spaCy: pip install spacy"
        ) from None
    if spacy_model == SENTENCIZER:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
    else:
        try:
            nlp = spacy.load(spacy_model)
        except OSError:
            raise ConfigError(
                f"metric_options.coherence.spacy_model={spacy_model} is not installed: "
                f"python -m spacy download {spacy_model} (the paper's), or set "
                f"metric_options.coherence.spacy_model={SENTENCIZER} for spaCy's rule-based "
                "splitter"
            ) from None

    def split(text: str) -> list[str]:
        return [s.text for s in nlp(text).sents]

    return split


class CLSEncoder:
    """[CLS] vectors of a BERT model's last hidden state, on the CPU unless torch sees a GPU."""

    def __init__(self, bert_model: str) -> None:
        import torch
        from transformers import BertModel, BertTokenizer

        try:
            self.tokenizer: Any = BertTokenizer.from_pretrained(bert_model)
            self.model: Any = BertModel.from_pretrained(bert_model).eval()
        except OSError as exc:
            raise ConfigError(
                f"metric_options.coherence.bert_model={bert_model} could not be loaded "
                f"({str(exc).splitlines()[0]}): download it once with network "
                f"(`huggingface-cli download {bert_model}`) or give a local folder"
            ) from None
        self.torch = torch

    def encode(self, sentences: list[str]) -> np.ndarray:
        inputs = self.tokenizer(sentences, return_tensors="pt", padding=True, truncation=True)
        with self.torch.no_grad():
            outputs = self.model(**inputs)
        vectors: np.ndarray = outputs.last_hidden_state[:, 0, :].float().numpy()
        return vectors


class PaperCoherence:
    """Coherence of one answer as long_term_scores.py computes it."""

    def __init__(self, spacy_model: str, bert_model: str) -> None:
        self.split = load_sentences(spacy_model)
        self.encoder = CLSEncoder(bert_model)
        self.version = f"{bert_model} [CLS]; spaCy {spacy_model}"

    def __call__(self, answer: str) -> float | None:
        parts = self.split(answer)
        if len(parts) < 2:
            return None
        vectors = self.encoder.encode(parts)
        a, b = vectors[:-1], vectors[1:]
        cosines = np.einsum("sd,sd->s", a, b) / (
            np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        )
        return float(cosines.mean())
