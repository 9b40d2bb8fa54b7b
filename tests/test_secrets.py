"""Secrets: a key given as a config field (``model.api_key=...``) or found in the environment
must not reach any file eicore writes: run directories, sweep folders, the call cache."""

from __future__ import annotations

from pathlib import Path

from eicore_test_support import CLI, echo_args, only_run_dir

MODEL_KEY = "sk-live-MODELSECRET-0123456789"
JUDGE_KEY = "sk-judge-JUDGESECRET-9876543210"
ENV_KEY = "env-ACMESECRET-55555555"


def files_holding(folder: Path, *secrets: str) -> list[str]:
    """Every file under ``folder`` whose bytes contain one of ``secrets``."""
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [
                f"{path.relative_to(folder)}: {s[:12]}…" for s in secrets if s.encode() in data
            ]
    return sorted(hits)


def test_config_snapshot_masks_secret_fields_and_values(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    from omegaconf import OmegaConf

    args = echo_args(
        eibench_dir,
        tmp_path / "runs",
        "data.limit=1",
        f"model.api_key={MODEL_KEY}",
        f"judge.api_key={JUDGE_KEY}",
        f"strategy.persona=Persona {ENV_KEY}",
    )
    cli.run(*args, env={"ACME_API_KEY": ENV_KEY})
    run_dir = only_run_dir(tmp_path / "runs")
    snapshot = OmegaConf.load(run_dir / "config.yaml")
    assert snapshot.model.api_key == "***" and snapshot.judge.api_key == "***"
    assert snapshot.strategy.persona == "Persona ***"
    for name in ("config.yaml", "run.log"):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert not any(secret in text for secret in (MODEL_KEY, JUDGE_KEY, ENV_KEY)), name


# A secret config field reaches no file: metrics.json's judges, the cache's model column, logs.
def test_a_secret_field_reaches_no_file(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    args = echo_args(
        eibench_dir,
        tmp_path / "runs",
        "data.limit=2",
        f"model.api_key={MODEL_KEY}",
        f"judge.api_key={JUDGE_KEY}",
    )
    cli.run(*args, env={"ACME_API_KEY": ENV_KEY})
    leaks = files_holding(tmp_path / "runs", MODEL_KEY, JUDGE_KEY) + files_holding(
        cli.cache, MODEL_KEY, JUDGE_KEY
    )
    assert leaks == []


# A rotated key resumes the same run: secrets are not part of the config hash.
def test_rotating_a_key_resumes_the_same_run(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    cli.run(*echo_args(eibench_dir, root, "data.limit=1", f"model.api_key={MODEL_KEY}"))
    cli.run(*echo_args(eibench_dir, root, "data.limit=1", "model.api_key=sk-rotated-000000000000"))
    only_run_dir(root)


# Hydra's sweeper saves the raw config as multirun.yaml; eicore masks secrets in it.
def test_a_sweep_writes_no_secret(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    args = echo_args(
        eibench_dir,
        tmp_path / "runs",
        "data.limit=1",
        f"model.api_key={MODEL_KEY}",
        "strategy.persona=none,assistant",
    )
    cli.run(*args, flags=["-m"])
    assert len(list((tmp_path / "runs" / "sweeps").rglob("metrics.json"))) == 2
    assert files_holding(tmp_path / "runs" / "sweeps", MODEL_KEY) == []
