"""The paper's coherence variant with the real libraries: spaCy's rule-based sentencizer and a
tiny BERT built from a config (no weights can be downloaded here), checked against the original
script's computation done here step by step (sklearn's cosine, as long_term_scores.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

spacy = pytest.importorskip("spacy")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from eicore_metrics.coherence import Coherence, CoherenceConfig  # noqa: E402
from eicore_metrics.paper_coherence import PaperCoherence  # noqa: E402
from sklearn.metrics.pairwise import cosine_similarity  # noqa: E402

from eicore import (  # noqa: E402
    ConfigError,  # noqa: E402
    Response,
    Sample,
    SampleRecord,
)

WORDS = "the man is angry he shouts at a car rain falls on street she smiles".split()
ANSWER = "The man is angry. He shouts at a car. Rain falls on the street."


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "."]) + "\n")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 6, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizer(str(vocab)).save_pretrained(folder)
    return folder


def original_way(answer: str, bert: Path) -> float:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    sentences = [s.text for s in nlp(answer).sents]
    tokenizer = transformers.BertTokenizer.from_pretrained(bert)
    model = transformers.BertModel.from_pretrained(bert)
    inputs = tokenizer(sentences, return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        embeddings = model(**inputs).last_hidden_state[:, 0, :].numpy()
    sims = [cosine_similarity([embeddings[i]], [embeddings[i + 1]])[0][0]
            for i in range(len(embeddings) - 1)]  # fmt: skip
    return float(np.mean(sims))


def test_matches_the_original_computation(tiny_bert: Path) -> None:
    coherence = PaperCoherence("sentencizer", str(tiny_bert))
    assert coherence.split(ANSWER) == ["The man is angry.", "He shouts at a car.",
                                       "Rain falls on the street."]  # fmt: skip
    value = coherence(ANSWER)
    assert value == pytest.approx(original_way(ANSWER, tiny_bert), abs=1e-5)
    assert coherence("She smiles.") is None  # under two sentences: skipped


def test_the_metric_uses_it_and_says_so(tiny_bert: Path) -> None:
    config = CoherenceConfig(variant="paper", spacy_model="sentencizer", bert_model=str(tiny_bert))
    samples = [Sample(f"s{i}", "basic", f"{i}.png", "q", ("a",), "sad") for i in range(2)]
    records = [
        SampleRecord(samples[0], "answered", Response(ANSWER)),
        SampleRecord(samples[1], "answered", Response("She smiles.")),
    ]
    result = Coherence(config).compute(records)["coherence"]
    assert result["variant"] == "paper" and result["n_answers"] == 1
    assert result["n_single_sentence"] == 1
    assert result["mean"] == pytest.approx(original_way(ANSWER, tiny_bert), abs=1e-5)
    assert "[CLS]" in result["embedding_model"]


def test_missing_models_are_named_with_how_to_install(tmp_path: Path, tiny_bert: Path) -> None:
    if not spacy.util.is_package("en_core_web_sm"):
        with pytest.raises(ConfigError, match="python -m spacy download en_core_web_sm"):
            PaperCoherence("en_core_web_sm", str(tiny_bert))
    with pytest.raises(ConfigError, match=r"metric_options.coherence.bert_model=.*nothing-here"):
        PaperCoherence("sentencizer", str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="variant='bert': minilm or paper"):
        Coherence(CoherenceConfig(variant="bert"))
