"""Presets (``eicore_register_presets``): the one way to name a setting of a component. Each
installed preset composes exactly as its component with the preset's settings given on the
command line; a preset of a missing component or with a setting its component lacks is left out
with a warning naming its plugin; the core's own config holds no preset."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from eicore.plugins import GROUPS, Preset, registry

CONF = Path(__file__).resolve().parents[1] / "conf"


def dotted(node: Mapping[str, Any], prefix: str) -> Iterator[str]:
    """``{"model": {"name": "x"}}`` under ``judge`` → ``judge.model.name=x``."""
    for key, value in node.items():
        if isinstance(value, Mapping):
            yield from dotted(value, f"{prefix}.{key}")
        elif isinstance(value, list):
            yield f"{prefix}.{key}={json.dumps(value)}"
        else:
            yield f"{prefix}.{key}={OmegaConf.to_yaml(OmegaConf.create({'v': value}))[3:].strip()}"


def composed(overrides: list[str]) -> dict[str, Any]:
    registry().store_configs()
    with initialize_config_module(config_module="eicore.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


PRESETS = [p for kind in registry().presets.values() for p in kind.values()]


def test_first_party_presets_are_registered() -> None:
    names = {(GROUPS[p.kind], p.name): p.plugin for p in PRESETS}
    assert names[("model", "paper-gpt-4o")] == "openai"
    assert names[("model", "paper-claude-3-haiku")] == "anthropic"
    assert names[("model", "llava-next-7b")] == "hf"
    assert names[("judge", "paper-llama3")] == "metrics"
    assert names[("strategy", "paper-cot")] == "strategies"
    assert names[("data", "angry")] == "eicore.datasets.eibench"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: f"{GROUPS[p.kind]}={p.name}")
def test_a_preset_composes_as_its_component_with_its_settings(preset: Preset) -> None:
    group = GROUPS[preset.kind]
    spelled_out = [f"{group}={preset.of}"]
    for default in preset.defaults:
        for source, choice in default.items():
            package = source.split("@")[1]
            spelled_out.append(f"+{source.lstrip('/').split('@')[0]}@{group}.{package}={choice}")
    spelled_out += list(dotted(preset.settings, group))
    by_preset, by_hand = composed([f"{group}={preset.name}"]), composed(spelled_out)
    assert by_preset[group] == by_hand[group]


def test_the_core_config_holds_no_preset_of_a_plugin_component() -> None:
    for group in GROUPS.values():
        assert not (CONF / group).exists(), f"conf/{group}/: presets belong to their plugins"


def test_a_bad_preset_is_left_out_with_its_plugin_named() -> None:
    from loguru import logger

    reg = registry()
    bad = [
        Preset("model", "no-such-base", "not-registered", "d", {}, (), "acme"),
        Preset("model", "typo-setting", "openai", "d", {"temprature": 0.1}, (), "acme"),
    ]
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        for preset in bad:
            reg.presets["model"][preset.name] = preset
        reg.store_configs()
    finally:
        for preset in bad:
            reg.presets["model"].pop(preset.name)
        logger.remove(sink)
    text = "".join(lines)
    assert "plugin 'acme': preset model=no-such-base left out: no model named" in text
    assert "preset model=typo-setting left out: 'openai' has no setting 'temprature'" in text


def test_a_presets_file_registers_each_entry_and_a_malformed_one_names_itself(
    tmp_path: Path,
) -> None:
    from eicore import register_presets_from

    calls: list[tuple[Any, ...]] = []

    def register(kind: str, name: str, **rest: Any) -> None:
        calls.append((kind, name, rest))

    good = tmp_path / "presets.yaml"
    good.write_text("model:\n  fast:\n    of: acme\n    doc: Quick.\n    settings: {speed: 2}\n")
    register_presets_from(register, good)
    assert calls == [("model", "fast", {"of": "acme", "doc": "Quick.", "settings": {"speed": 2},
                                        "defaults": []})]  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  fast:\n    of: acme\n    setings: {speed: 2}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: preset model.fast needs `of` and `doc`"):
        register_presets_from(register, bad)
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: cannot read its presets"):
        register_presets_from(register, bad)
