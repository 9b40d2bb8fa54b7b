"""The run's identity (config hash), its settings, the redacted snapshot, and the model's cache
identity — in process, no subprocess."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from omegaconf import OmegaConf

from eicore import Completion, Model
from eicore.run.settings import ConfigError, RunSettings, config_hash, run_settings, snapshot
from eicore.secrets.masking import MASK, redact, redact_tree


def cfg(**changes: object):  # type: ignore[no-untyped-def]
    base = {
        "data": {"plugin": "eibench", "split": "basic", "limit": 5},
        "model": {"plugin": "acme", "temperature": 0.0, "timeout": 30, "batch_size": 1},
        "strategy": {"plugin": "direct", "persona": "emotion_expert"},
        "judge": {"plugin": "keyword"},
        "metrics": ["trigger_recall"],
        "roles": {},
        "run": {"name": "x", "root": "runs", "concurrency": 8},
    }
    tree = OmegaConf.create(base)
    for key, value in changes.items():
        OmegaConf.update(tree, key, value)
    return tree


def test_config_hash_ignores_how_a_run_runs() -> None:
    reference = config_hash(cfg())
    assert len(reference) == 10 and reference == config_hash(cfg())
    for key, value in [
        ("run.concurrency", 2),
        ("run.root", "elsewhere"),
        ("run.name", "y"),
        ("model.timeout", 600),
        ("model.batch_size", 16),
        ("model.max_retries", 9),
        ("model.concurrency", 3),
        ("model.api_key_env", "OTHER_KEY"),
    ]:
        assert config_hash(cfg(**{key: value})) == reference, key


def test_config_hash_follows_what_decides_the_results() -> None:
    reference = config_hash(cfg())
    for key, value in [
        ("data.limit", 6),
        ("data.split", "complex"),
        ("model.temperature", 0.1),
        ("model.plugin", "other"),
        ("strategy.persona", "none"),
        ("judge.plugin", "x"),
        ("metrics", ["trigger_recall", "coherence"]),
        ("roles", {"captioner": {"plugin": "c"}}),
    ]:
        assert config_hash(cfg(**{key: value})) != reference, key


def test_run_settings_are_checked() -> None:
    settings = run_settings(cfg())
    assert (
        isinstance(settings, RunSettings) and settings.concurrency == 8 and settings.cache is True
    )
    with pytest.raises(ConfigError, match="concurrency"):
        run_settings(cfg(**{"run.concurrency": 0}))
    with pytest.raises(ConfigError, match="bogus"):
        run_settings(cfg(**{"run.bogus": 1}))
    with pytest.raises(ConfigError, match="concurrency"):
        run_settings(cfg(**{"run.concurrency": "many"}))


def test_snapshot_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "sk-acme-0123456789")
    tree = cfg(
        **{"model.api_key": "literal-key-abcdef", "strategy.persona": "uses sk-acme-0123456789"}
    )
    text = snapshot(tree)
    assert "literal-key-abcdef" not in text and "sk-acme-0123456789" not in text
    loaded = OmegaConf.create(text)
    assert loaded.model.api_key == MASK
    assert loaded.strategy.persona == f"uses {MASK}"
    assert loaded.model.temperature == 0.0 and loaded.run.concurrency == 8  # the rest is kept


def test_redaction_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "tok-1234567890")
    monkeypatch.setenv("SHORT_SECRET", "abc")  # too short to scrub safely
    assert redact("x tok-1234567890 y abc") == f"x {MASK} y abc"
    tree = {"api_key": "v", "password": "", "nested": [{"token": "t"}], "keys": 3}
    assert redact_tree(tree) == {
        "api_key": MASK,
        "password": "",
        "nested": [{"token": MASK}],
        "keys": 3,
    }


@dataclass
class AcmeConfig:
    temperature: float | None = 0.0
    seed: int | None = None
    timeout: float = 30
    batch_size: int = 4
    plugin: str = "acme"


class Acme(Model):
    async def generate(self, prompts):  # type: ignore[no-untyped-def]
        return [Completion("x") for _ in prompts]


@pytest.mark.parametrize(
    ("temperature", "seed", "cacheable"),
    [(0.0, None, True), (None, None, True), (0.7, None, False), (0.7, 0, True), (0.7, 123, True)],
)
def test_model_cacheable(temperature: float | None, seed: int | None, cacheable: bool) -> None:
    assert Acme(AcmeConfig(temperature=temperature, seed=seed)).cacheable is cacheable


def test_model_identity_leaves_out_runtime_fields() -> None:
    model = Acme(AcmeConfig(temperature=0.2, timeout=5, batch_size=8))
    assert model.identity() == {"plugin": "acme", "temperature": 0.2, "seed": None}
    assert model.max_batch_size == 8
    assert Acme(AcmeConfig(timeout=999, batch_size=1)).identity() == Acme(AcmeConfig()).identity()
