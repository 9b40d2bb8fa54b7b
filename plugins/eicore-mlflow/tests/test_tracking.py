"""``eicore run`` with the plugin and a real MLflow (a local file store), read back through
MLflow's own client: params, per-sample curves, final metrics, artifacts; resumes; off by
default; a store that cannot be written loses no sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from eicore.testing.runs import files_holding, read_json, read_jsonl, run_eicore

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # this process reads the file store

# A light model and judge for the runs, installed as a plugin (module and dist-info on the path).
LIGHT = '''
from dataclasses import dataclass
from eicore import Judge, Judgment, hookimpl
from eicore.testing.scripted import ScriptedConfig, ScriptedModel

@dataclass
class LightConfig(ScriptedConfig):
    api_key: str | None = None
    """Unused: there to show that a secret reaches MLflow masked."""

class FirstWord(Judge):
    """A trigger counts when the answer holds its first word."""

    async def judge(self, sample, answer, model=None):
        said = answer.lower()
        hits = tuple(i for i, t in enumerate(sample.triggers) if t.split()[0].lower() in said)
        return Judgment("first-word", len(hits), len(sample.triggers), "ok", matched=hits)

@hookimpl
def eicore_register_models(register):
    register("light", ScriptedModel, LightConfig)

@hookimpl
def eicore_register_judges(register):
    register("first-word", FirstWord)
'''


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("light-site")
    (site / "eicore_light.py").write_text(LIGHT, encoding="utf-8")
    dist_info = site / "eicore_light-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: eicore-light\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[eicore]\nlight = eicore_light\n")
    return site


def run(light: Path, eibench: Path, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = run_eicore(
        "model=light", "model.vision=false", "model.default=1. The man is shouting",
        "model.api_key=hunter2-secret", "judge=first-word", "metrics=[]",
        f"data.root={eibench}", "data.limit=3",
        folder=folder, env={"PYTHONPATH": str(light), "EICORE_MLFLOW_EXPERIMENT": "eibench", **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def only(folder: Path) -> Path:
    (run_dir,) = folder.iterdir()
    return run_dir


def logged(store: Path) -> tuple[MlflowClient, Any]:
    """The client on ``store`` and the one run of the ``eibench`` experiment."""
    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("eibench")
    assert experiment is not None
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    return client, mlflow_run


def test_a_run_is_logged_with_params_curves_metrics_and_artifacts(
    light: Path, eibench: Path, tmp_path: Path
) -> None:
    store = tmp_path / "mlruns"
    run(light, eibench, tmp_path, EICORE_MLFLOW=str(store))
    run_dir = only(tmp_path / "runs")
    client, mlflow_run = logged(store)
    assert mlflow_run.info.run_name == run_dir.name and mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.tags["eicore.run_dir"] == str(run_dir.resolve())

    params = mlflow_run.data.params
    assert params["model.plugin"] == "light" and params["data.limit"] == "3"
    assert params["judge.plugin"] == "first-word" and params["model.api_key"] == "***"
    assert files_holding("hunter2-secret", store) == []

    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["judgments"][0]["status"] for r in records] == ["ok"] * 3
    run_id = mlflow_run.info.run_id
    answered = client.get_metric_history(run_id, "sample.answered")
    assert sorted(m.step for m in answered) == [1, 2, 3] and {m.value for m in answered} == {1.0}
    recall = client.get_metric_history(run_id, "sample.recall.first-word")
    scores = sorted(r["judgments"][0]["recalled"] / r["judgments"][0]["total"] for r in records)
    assert sorted(m.value for m in recall) == pytest.approx(scores)

    metrics = read_json(run_dir / "metrics.json")
    final = mlflow_run.data.metrics
    assert final["n_answered"] == metrics["n_answered"] == 3
    assert final["n_samples"] == metrics["n_samples"] and final["calls_made"] == 3
    assert not any(k.startswith(("provenance.", "judges.", "strategy.")) for k in final)

    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "records.jsonl", "predictions.jsonl", "config.yaml"} <= artifacts
    assert not any(".sqlite" in a for a in artifacts)
    copy = client.download_artifacts(run_id, "metrics.json", str(tmp_path / "download"))
    assert json.loads(Path(copy).read_text()) == metrics


def test_a_resumed_run_continues_its_mlflow_run(light: Path, eibench: Path, tmp_path: Path) -> None:
    store = tmp_path / "mlruns"
    run(light, eibench, tmp_path, EICORE_MLFLOW=str(store))
    run(light, eibench, tmp_path, EICORE_MLFLOW=str(store))  # all done: resumes, adds nothing
    client, mlflow_run = logged(store)  # still one run
    assert mlflow_run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(mlflow_run.info.run_id, "sample.answered")]
    assert sorted(steps) == [1, 2, 3]


def test_the_store_may_live_in_the_run_directory(
    light: Path, eibench: Path, tmp_path: Path
) -> None:
    run(light, eibench, tmp_path, EICORE_MLFLOW="run")
    run_dir = only(tmp_path / "runs")
    client, mlflow_run = logged(run_dir / "mlruns")
    artifacts = {a.path for a in client.list_artifacts(mlflow_run.info.run_id)}
    assert "metrics.json" in artifacts and "mlruns" not in artifacts


def test_without_the_setting_nothing_is_logged_and_mlflow_is_not_imported(
    light: Path, eibench: Path, tmp_path: Path
) -> None:
    script = (
        "import runpy, sys\n"
        "sys.argv = ['eicore', *sys.argv[1:]]\n"
        "runpy.run_module('eicore', run_name='__main__')\n"
        "print('MLFLOW IMPORTED' if 'mlflow' in sys.modules else 'MLFLOW NOT IMPORTED')\n"
    )
    args = ["run", "model=light", "model.vision=false", "judge=first-word", "metrics=[]",
            f"data.root={eibench}", "data.limit=2", f"run.root={tmp_path / 'runs'}",
            "run.progress=false"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EICORE_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(light), EICORE_CACHE=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "MLFLOW NOT IMPORTED"
    assert not list(tmp_path.rglob("mlruns"))


def test_a_store_that_cannot_be_written_loses_no_sample(
    light: Path, eibench: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store should go")
    result = run(light, eibench, tmp_path, EICORE_MLFLOW=str(blocker / "mlruns"))
    assert "eicore_run_start failed (the run goes on)" in result.stderr
    run_dir = only(tmp_path / "runs")
    assert len(read_jsonl(run_dir / "records.jsonl")) == 3
    assert read_json(run_dir / "metrics.json")["complete"] is True
