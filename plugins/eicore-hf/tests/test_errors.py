"""Models that cannot be used fail early and say why: the folder, the file, or the hub id."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest
from eicore_hf.config import HFConfig
from eicore_hf.loading import ModelLoadError
from eicore_hf.model import hf_model
from eicore_hf.source import ModelSourceError

from eicore import ConfigError, Prompt


@pytest.fixture
def broken(tiny_llava: Path, tmp_path: Path) -> Path:
    """A copy of the tiny LLaVA, for a test to damage."""
    return Path(shutil.copytree(tiny_llava, tmp_path / "broken-llava"))


def build(path: Path | str, **fields: object) -> object:
    return hf_model(HFConfig(path=str(path), **fields))  # type: ignore[arg-type]


def test_truncated_config_names_the_file(broken: Path) -> None:
    config = broken / "config.json"
    config.write_text(config.read_text()[:100])
    with pytest.raises(ModelSourceError, match=re.escape(f"{config} is corrupt (not valid JSON")):
        build(broken)


def test_missing_config_names_the_folder(broken: Path) -> None:
    (broken / "config.json").unlink()
    with pytest.raises(
        ModelSourceError, match=re.escape(f"{broken} is not a model folder: it has no config.json")
    ):
        build(broken)


def test_missing_weights_name_the_folder(broken: Path) -> None:
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelSourceError, match=re.escape(f"{broken} has no weights")):
        build(broken)


def test_truncated_weights_name_the_file(broken: Path) -> None:
    weights = broken / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 1000])
    with pytest.raises(
        ModelSourceError,
        match=re.escape(f"{weights} is truncated or corrupt: {len(data) - 1000} bytes"),
    ):
        build(broken)


def test_missing_shard_of_an_index_is_named(broken: Path) -> None:
    (broken / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}}'
    )
    with pytest.raises(ModelSourceError, match=r"lists missing files \['model-00002-of-00002"):
        build(broken)


def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ModelSourceError, match="model folder not found: ./no-such-model"):
        build("./no-such-model")


def test_hub_id_offline_fails_fast_naming_the_id_and_a_local_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connections: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connections.append(address))
    with pytest.raises(ModelSourceError) as caught:
        build("llava-hf/llava-1.5-7b-hf")
    assert connections == []  # fails at once: nothing was even tried on the network
    message = str(caught.value)
    assert "'llava-hf/llava-1.5-7b-hf' is not a local folder" in message
    assert "HF_HUB_OFFLINE is set" in message
    assert "hf download llava-hf/llava-1.5-7b-hf --local-dir <folder>" in message
    assert "model.path=<folder>" in message
    assert isinstance(caught.value, ConfigError)  # the CLI prints it as one line, no traceback


def test_unloadable_files_fail_every_batch_with_the_folder_named(broken: Path) -> None:
    (broken / "tokenizer.json").write_text("{ not json")
    model = hf_model(
        HFConfig(path=str(broken), max_new_tokens=2)
    )  # the checks pass: no weights read
    with pytest.raises(ModelLoadError, match=re.escape(f"cannot load {broken}: ")) as first:
        model.generate_blocking([Prompt.user("Why?")])
    loads: list[object] = []
    model._load_now = lambda: loads.append(1)  # type: ignore[method-assign]
    with pytest.raises(ModelLoadError) as second:
        model.generate_blocking([Prompt.user("Why?")])
    assert str(second.value) == str(first.value)
    assert loads == []  # not loaded again


def test_checkpoint_without_chat_template(broken: Path) -> None:
    (broken / "chat_template.jinja").unlink()
    model = hf_model(HFConfig(path=str(broken)))
    with pytest.raises(
        ModelLoadError, match="has no chat template: use a chat/instruct checkpoint"
    ):
        model.load()


def test_a_gpu_that_is_not_there(tiny_llava: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    model = hf_model(HFConfig(path=str(tiny_llava), device="cuda"))
    with pytest.raises(ModelLoadError, match="model.device=cuda but torch .* sees no CUDA GPU"):
        model.load()


def test_settings_are_checked_before_anything_loads() -> None:
    with pytest.raises(ConfigError, match="model.path is not set"):
        hf_model(HFConfig())
    with pytest.raises(ConfigError) as caught:
        hf_model(
            HFConfig(path="x", kind="audio", dtype="int3", device="tpu", top_p=0, batch_size=0)
        )
    for field in ("model.kind", "model.dtype", "model.device", "model.top_p", "model.batch_size"):
        assert field in str(caught.value)
