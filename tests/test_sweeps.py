"""Sweeps: a models × strategies × splits grid through the joblib launcher summarised cell by
cell, sweep-level resume with no repeated call, and the shipped presets (models, judges, data,
experiments, launchers) composing as documented."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from eicore_test_support import CLI, echo_args, read_json, read_jsonl

from eicore.report.run_tables import pct
from eicore.viewer.page import decode_payload

# A second test model: the scripted model without vision, as a preset in a search path of the
# test's own (the shipped conf/ holds only real models).
SCRIPTED_TEXT = """\
defaults:
  - scripted
  - _self_

vision: false
default: "1. {last_line}"
"""
GRID = ("model=echo,scripted-text", "strategy=direct,cot", "data.split=basic,complex")
SELECTION = "data.shard=0/200"  # 9 basic samples over the four emotions, 1 complex


def grid_args(eibench_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    conf = tmp_path / "conf" / "model"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "scripted-text.yaml").write_text(SCRIPTED_TEXT, encoding="utf-8")
    return echo_args(
        eibench_dir,
        tmp_path / "runs",
        SELECTION,
        f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
        f"model.log={tmp_path / 'calls.jsonl'}",
        *extra,
    )


def md_table(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in ``text``."""
    lines = [line for line in text.split("\n## ")[0].splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


@pytest.fixture(scope="module")
def grid(echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2 × 2 × 2 grid run once through joblib (two worker processes)."""
    tmp_path = tmp_path_factory.mktemp("grid")
    cli = CLI([echo_site], tmp_path / "cache", tmp_path)
    args = grid_args(eibench_dir, tmp_path, *GRID, "hydra/launcher=local")
    cli.run(*args, flags=["-m"], timeout=300)
    # the echo model logs its process: the jobs ran in joblib's two worker processes
    assert len({c["pid"] for c in calls(tmp_path / "calls.jsonl") if "pid" in c}) == 2
    return tmp_path / "runs" / "sweeps"


def test_the_summary_holds_every_cell_of_every_run(grid: Path) -> None:
    jobs = [read_json(p) for p in sorted(grid.glob(".eicore-job-*.json"))]
    assert len(jobs) == 8 and {j["status"] for j in jobs} == {"completed"}
    runs = {j["run_dir"]: read_json(grid / j["run_dir"] / "metrics.json") for j in jobs}
    lines = list(csv.DictReader((grid / "summary.csv").open(encoding="utf-8")))
    table = md_table((grid / "summary.md").read_text(encoding="utf-8"))
    assert [(r[0], r[1]) for r in table] == [
        ("direct", "echo"),
        ("", "scripted-text"),
        ("cot", "echo"),
        ("", "scripted-text"),
    ]
    settings = ["direct", "direct", "cot", "cot"]
    rows = {(setting, r[1]): r for setting, r in zip(settings, table, strict=True)}
    checked = 0
    for run_dir, metrics in runs.items():
        choices = metrics["provenance"]["choices"]
        model, setting = choices["model"], choices["strategy"]
        split = "complex" if "__complex__" in run_dir else "basic"
        recall = metrics["recall_by_judge"]["keyword"]
        row = rows[(setting, model)]
        mine = [line for line in lines if line["run_dir"].endswith(run_dir)]
        if split == "basic":
            cells = {**recall["by_emotion"], "overall": recall["overall"], "macro": recall["macro"]}
            cis = {**recall["ci_by_emotion"], "overall": recall["ci"], "macro": recall["ci_macro"]}
            for i, column in enumerate(("happy", "angry", "sad", "excited", "overall", "macro")):
                assert row[2 + i] == pct(cells.get(column))
        else:
            cells, cis = {"overall": recall["overall"]}, {"overall": recall["ci"]}
            assert row[8] == pct(recall["overall"])
        assert {line["cell"] for line in mine} == set(cells)
        for line in mine:
            assert (line["setting"], line["model"], line["split"]) == (setting, model, split)
            assert float(line["recall"]) == cells[line["cell"]]
            assert [float(line["ci_low"]), float(line["ci_high"])] == cis[line["cell"]]
            assert line["config_hash"] == metrics["provenance"]["config_hash"]
            checked += 1
    assert checked == len(lines) and checked >= 4 * 6 + 4
    for row in table:
        assert row[9:] == ["0", "0"]  # failed, unparsed
    assert len({row[6] for row in table}) > 1  # the cells are not all alike


def test_the_sweep_writes_tex_and_plots(grid: Path) -> None:
    tex = (grid / "summary.tex").read_text(encoding="utf-8")
    recall_table = tex.split(r"\end{tabular}")[0]  # then the precision table, ruled once
    assert recall_table.count(r"\midrule") == 2 and "scripted-text" in tex and r"\bottomrule" in tex
    for name in ("recall_by_emotion", "setting_effect"):
        assert (grid / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (grid / f"{name}.svg").read_text(encoding="utf-8")


def test_the_sweep_writes_one_viewer_of_every_job(grid: Path) -> None:
    data = decode_payload((grid / "report.html").read_text(encoding="utf-8"))
    run_dirs = sorted(p.parent for p in grid.glob("*/metrics.json"))
    assert len(run_dirs) == 8 and len(data["summary"]) == 8
    answered = sum(len(read_jsonl(d / "records.jsonl")) for d in run_dirs)
    assert sum(r is not None for s in data["samples"] for r in s["results"]) == answered


def test_provenance_is_in_every_metrics_json_and_the_summary(grid: Path) -> None:
    for path in grid.glob("*/metrics.json"):
        p = read_json(path)["provenance"]
        assert p["eicore"] and p["plugins"]["eicore-echo"] == "1.2.3"
        assert p["git"] is None or len(p["git"]["commit"]) == 40
        assert {f["sha256"] for f in p["data"]["files"].values()}
        assert [j["name"] for j in p["judges"]] == ["keyword"]
        assert p["judges"][0]["id"].startswith("keyword:")
        assert p["seeds"] == {"metrics.trigger_recall.seed": 0}
        assert len(p["config_sha256"]) == 64 and p["choices"]["strategy"] in ("direct", "cot")
    summary = (grid / "summary.md").read_text(encoding="utf-8")
    assert "## Provenance" in summary and "metrics.trigger_recall.seed=0" in summary
    assert "not comparable" not in summary


def calls(log: Path) -> list[dict[str, Any]]:
    return read_jsonl(log) if log.exists() else []


def test_a_relaunched_sweep_finishes_failed_cells_with_no_repeated_call(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    # no call cache: what the relaunch skips, it skips because each run stored it
    args = grid_args(eibench_dir, tmp_path, "model=echo", *GRID[1:], "run.cache=false")
    sweep = tmp_path / "runs" / "sweeps"
    log = tmp_path / "calls.jsonl"
    cli.run(*args, flags=["-m"], env={"ECHO_FAIL_ON": "the woman"})  # one basic sample
    first = calls(log)
    summary = (sweep / "summary.md").read_text(encoding="utf-8")
    failed = [int(row[9]) for row in md_table(summary)]
    assert failed == [1, 1], summary

    cli.run(*args, flags=["-m"])
    second = calls(log)[len(first) :]
    assert len(second) == sum(failed)
    done = {(c["prompt_sha256"]) for c in first}
    assert not done & {c["prompt_sha256"] for c in second}  # nothing asked twice
    table = md_table((sweep / "summary.md").read_text(encoding="utf-8"))
    assert [row[9] for row in table] == ["0", "0"]

    cli.run(*args, flags=["-m"])
    assert len(calls(log)) == len(first) + len(second)  # a finished sweep: zero calls
    for path in sweep.glob("*/metrics.json"):
        assert json.loads(path.read_text())["complete"]


def test_a_sweep_without_a_judge_still_writes_its_summary(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = grid_args(eibench_dir, tmp_path, "model=echo", "strategy=direct,cot", "~judge")
    cli.run(*args, "metrics=[]", flags=["-m"])
    table = md_table((tmp_path / "runs" / "sweeps" / "summary.md").read_text(encoding="utf-8"))
    assert len(table) == 2 and all(row[2:9] == [pct(None)] * 7 for row in table), table


def compose(*overrides: str) -> Any:
    """The run config with Hydra's own node, composed in-process (nothing launched)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    from eicore.plugins import registry
    from eicore.run.settings import register_resolvers

    register_resolvers()
    registry().store_configs()
    with initialize_config_module(config_module="eicore.conf", version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize(
    ("experiment", "data", "swept"),
    [
        ("paper_basic_grid", "basic", {"model": "qwen-vl-chat,llava-1.5-13b,llava-next-7b,"
                                                "claude-3-haiku,gpt-4o"}),
        ("paper_complex", "complex", {"model": "gpt-4o,llava-1.5-13b,claude-3-haiku"}),
        ("paper_settings", "basic", {"strategy": "direct,caption,cot,cfsa"}),
        ("paper_caption_text_only", "basic", {}),
    ],
)  # fmt: skip
def test_experiments_pin_the_paper_tables(
    experiment: str, data: str, swept: dict[str, str]
) -> None:
    cfg = compose(f"experiment={experiment}")
    assert cfg.data.split == data and dict(cfg.hydra.sweeper.params or {}) == swept
    assert cfg.hydra.sweep.dir == f"runs/experiments/{experiment}"
    assert cfg.get("judge") is None and list(cfg.judges) == ["llama3", "chatgpt"]
    llama, chatgpt = cfg.judges.llama3.model, cfg.judges.chatgpt.model
    assert (llama.plugin, llama.name, llama.temperature) == (
        "vllm",
        "meta-llama/Meta-Llama-3-8B-Instruct",
        0.1,
    )
    assert (chatgpt.plugin, chatgpt.name, chatgpt.max_tokens) == (
        "openai",
        "gpt-3.5-turbo-0125",
        512,
    )
    for value in filter(None, swept.get("model", "").split(",")):
        assert compose(f"model={value}").model.plugin in {"hf", "vllm", "openai", "anthropic"}
    if experiment == "paper_caption_text_only":
        assert cfg.strategy.plugin == "caption" and not cfg.strategy.answerer_sees_image
        assert cfg.model.vision is False and cfg.roles.captioner.path.endswith("mistral-7b-hf")


def test_model_and_data_presets_extend_the_plugins_configs() -> None:
    cfg = compose("model=claude-3-haiku", "data=sad")
    assert (cfg.model.plugin, cfg.model.name) == ("anthropic", "claude-3-haiku-20240307")
    assert cfg.model.api_key_env == "ANTHROPIC_API_KEY"  # the plugin's own defaults stay
    assert (cfg.data.plugin, cfg.data.split, list(cfg.data.emotions)) == (
        "eibench",
        "basic",
        ["sad"],
    )
    assert compose("data=complex", "model=llava-1.5-13b-vllm").model.base_url.startswith(
        "http://127"
    )


@pytest.mark.parametrize(
    ("launcher", "target", "settings"),
    [
        ("local", "hydra_joblib_launcher.joblib_launcher.JoblibLauncher", {"n_jobs": 2}),
        ("slurm", "hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
         {"array_parallelism": 32, "gpus_per_node": 1, "timeout_min": 240}),
        ("ray_cluster", "hydra_ray_launcher.ray_launcher.RayLauncher", {}),
    ],
)  # fmt: skip
def test_launcher_presets_compose(launcher: str, target: str, settings: dict[str, Any]) -> None:
    if launcher == "slurm":
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = compose(f"hydra/launcher={launcher}", "run.root=/scratch/eicore")
    node = cfg.hydra.launcher
    assert node._target_ == f"hydra_plugins.{target}"
    for key, value in settings.items():
        assert node[key] == value
    if launcher == "slurm":
        assert node.submitit_folder == "/scratch/eicore/sweeps/.submitit/%j"
    if launcher == "ray_cluster":
        assert node.ray.init.address == "auto"
        try:  # when the plugin is installed, the preset matches its schema
            from hydra_plugins.hydra_ray_launcher._config import RayLauncherConf
        except ImportError:
            return
        assert node._target_ == RayLauncherConf._target_
        assert set(node) == {"_target_", "ray"}


def test_ray_cluster_joins_the_running_cluster_sized_by_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """hydra-ray-launcher sets ``object_store_memory`` unless the config has the key, and Ray
    refuses it when joining a running cluster: the preset holds it as null. The address comes
    from ``RAY_ADDRESS``; each job reserves the CPUs its run uses (``run.threads``)."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    init = compose("hydra/launcher=ray_cluster").hydra.launcher.ray.init
    assert init.address == "auto"
    assert "object_store_memory" in init and init.object_store_memory is None
    init.setdefault("object_store_memory", 78643200)  # what the plugin does before ray.init
    assert init.object_store_memory is None
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.7:6379")
    cfg = compose("hydra/launcher=ray_cluster", "run.threads=4")
    assert cfg.hydra.launcher.ray.init.address == "10.0.0.7:6379"
    assert dict(cfg.hydra.launcher.ray.remote) == {"num_cpus": 4, "num_gpus": 0}
    default = compose("hydra/launcher=ray_cluster").hydra.launcher.ray.remote
    assert default.num_cpus is None  # Ray's own default: one CPU per task
