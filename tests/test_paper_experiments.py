"""The paper_* experiments: every job of every table composes (``eicore run -m experiment=<name>
--cfg job``), with the paper's rows, judges and servers."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from eicore.commands import cli
from eicore.plugins import registry

TABLES = {
    "paper_table_basic": 13,
    "paper_table_caption": 9,
    "paper_table_cot": 9,
    "paper_table_complex": 13,
    "paper_persona_ablation": 4,
}


def sweep_jobs(experiment: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    registry().store_configs()
    cli._print_sweep_jobs("config", ["-m", f"experiment={experiment}", "--cfg", "job"])
    out = capsys.readouterr().out
    return [yaml.safe_load(job) for job in re.split(r"^# job \d+: .*$", out, flags=re.M)[1:]]


def ident(model: dict[str, Any]) -> str:
    return str(model.get("name") or model.get("path"))


def servers(job: dict[str, Any]) -> list[tuple[str, str]]:
    """(base_url, model name) of every model of a job that is served locally."""
    nodes = [job["model"], *job["roles"].values(), *(j["model"] for j in job["judges"].values())]
    return [(n["base_url"], n["name"]) for n in nodes if "127.0.0.1" in str(n.get("base_url"))]


@pytest.mark.parametrize(("experiment", "n_jobs"), TABLES.items())
def test_every_job_composes_with_both_paper_judges(
    experiment: str, n_jobs: int, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = sweep_jobs(experiment, capsys)
    assert len(jobs) == n_jobs
    for job in jobs:
        judges = job["judges"]
        assert sorted(judges) == ["paper-gpt", "paper-llama3"] and not job.get("judge")
        assert {j["plugin"] for j in judges.values()} == {"paper"}
        assert judges["paper-gpt"]["model"]["name"] == "gpt-3.5-turbo-0125"
        ports: dict[str, str] = {}
        for url, name in servers(job):
            assert ports.setdefault(url, name) == name, f"{url} serves two models"
    if experiment != "paper_persona_ablation":
        models = [ident(job["model"]) for job in jobs]
        assert len(set(models)) == len(models) - (experiment == "paper_table_cot")  # CFSA: 34B


def test_each_local_model_has_its_own_port(capsys: pytest.CaptureFixture[str]) -> None:
    by_url: dict[str, set[str]] = {}
    for experiment in TABLES:
        for job in sweep_jobs(experiment, capsys):
            for url, name in servers(job):
                by_url.setdefault(url, set()).add(name)
    assert all(len(names) == 1 for names in by_url.values()), by_url
    assert len(by_url) >= 8


def test_rows_carry_their_scripts_wording_and_decoding(capsys: pytest.CaptureFixture[str]) -> None:
    basic = {ident(job["model"]): job for job in sweep_jobs("paper_table_basic", capsys)}
    minigpt = basic["minigpt-v2"]
    assert minigpt["strategy"]["prompt"] == "minigpt-v2"
    assert (minigpt["model"]["temperature"], minigpt["model"]["top_p"]) == (0.6, 0.9)
    assert minigpt["model"]["repetition_penalty"] == 1.05
    assert basic["qwen-vl-plus"]["strategy"]["prompt"] == "qwen-vl-plus"
    llava = basic["llava-hf/llava-1.5-13b-hf"]
    assert (llava["model"]["temperature"], llava["model"]["max_tokens"]) == (0.4, 512)
    assert basic["claude-3-haiku-20240307"]["model"]["max_tokens"] == 512
    assert basic["gpt-4-vision-preview"]["model"]["max_tokens"] == 1024
    cot = sweep_jobs("paper_table_cot", capsys)
    cfsa = [job for job in cot if job["strategy"]["plugin"] == "cfsa"]
    assert len(cfsa) == 1 and cfsa[0]["model"]["name"] == "llava-hf/llava-v1.6-34b-hf"
    assert {r["name"] for r in cfsa[0]["roles"].values()} == {"gpt-4-0613"}
    assert all(job["strategy"]["cot"] for job in cot if job["strategy"]["plugin"] == "paper")
    personas = [job["strategy"]["persona"] for job in sweep_jobs("paper_persona_ablation", capsys)]
    assert personas == ["none", "assistant", "architecture_expert", "emotion_expert"]


def test_a_bad_override_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    registry().store_configs()
    with pytest.raises(SystemExit) as stop:
        cli._hydra("run", "config", ["-m", "experiment=no_such_table", "--cfg", "job"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no_such_table" in err and "Traceback" not in err
