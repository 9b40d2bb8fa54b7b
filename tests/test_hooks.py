"""The command and lifecycle hooks, through the installed command: a plugin adds a subcommand,
and sees a run start, each sample end and the run end, with what the run directory holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

TRACER = """
import json, os, sys
from eicore import hookimpl

def note(event, **fields):
    with open(os.environ["TRACER_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"event": event, **fields}, default=str) + "\\n")

def hello(argv):
    if not argv:
        print("eicore hello: name someone", file=sys.stderr)
        raise SystemExit(2)
    print("hello " + " ".join(argv))

def shadow(argv):
    print("not the core's run")

@hookimpl
def eicore_register_commands(register):
    register("hello", hello, "hello <name>...\\ngreets the people named, one line for all")
    register("run", shadow, "run\\na plugin's command may not take a built-in name")

@hookimpl
def eicore_run_start(run_dir, config, samples):
    note("start", run_dir=run_dir, model=config["model"], samples=samples)

@hookimpl
def eicore_sample_end(record, step):
    if os.environ.get("TRACER_FAIL"):
        raise OSError("the tracker's disk is full")
    note("sample", id=record.sample.id, status=record.status, step=step)

@hookimpl
def eicore_run_end(run_dir, log):
    note("end", run_dir=run_dir, metrics=log.summary(), complete=log.complete,
         records=len(log.samples))
"""


@pytest.fixture
def tracer(cli: CLI, tmp_path: Path) -> CLI:
    """``cli`` with the tracer plugin installed (its module and dist-info on the path)."""
    site = tmp_path / "tracer-site"
    dist_info = site / "eicore_tracer-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (site / "eicore_tracer.py").write_text(TRACER, encoding="utf-8")
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: eicore-tracer\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text("[eicore]\ntracer = eicore_tracer\n")
    return CLI([site, *cli.pythonpath], cli.cache, cli.cwd)


def test_a_plugins_command_runs_and_is_listed_in_help(tracer: CLI) -> None:
    assert tracer("hello", "Ada", "Alan").stdout == "hello Ada Alan\n"
    refused = tracer("hello", expect=2)
    assert refused.stderr.strip().splitlines()[-1] == "eicore hello: name someone"
    help_text = tracer("--help").stdout
    added = help_text.split("commands from plugins:\n")[1]
    assert f"  hello <name>...\n{' ' * 23}greets the people named, one line for all\n" in added
    assert "a plugin's command may not take" not in help_text
    listing = {p["name"]: p for p in tracer("plugins", "--json").json()}
    assert listing["tracer"]["registered"] == [["command", "hello"], ["command", "run"]]


def test_a_built_in_command_keeps_its_name(tracer: CLI) -> None:
    result = tracer("run", "--help")
    assert "not the core's run" not in result.stdout and "usage: eicore run" in result.stdout
    listed = tracer("--help")
    assert "plugin 'tracer': command 'run' is built in; not added" in listed.stderr


def test_the_lifecycle_hooks_see_the_run_as_it_goes(
    tracer: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "tracer.jsonl"
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=3", "model.api_key=hunter2-key")
    tracer.run(*args, env={"TRACER_LOG": str(log)})
    run_dir = only_run_dir(tmp_path / "runs")
    events = read_jsonl(log)
    assert [e["event"] for e in events] == ["start", "sample", "sample", "sample", "end"]
    start, *samples, end = events
    assert (start["run_dir"], start["samples"]) == (str(run_dir), 3)
    assert start["model"]["plugin"] == "echo" and start["model"]["api_key"] == "***"
    assert "hunter2" not in log.read_text()
    assert sorted(e["step"] for e in samples) == [1, 2, 3]
    records = {r["sample"]["id"]: r["status"] for r in read_jsonl(run_dir / "records.jsonl")}
    assert {e["id"]: e["status"] for e in samples} == records
    assert end["metrics"] == read_json(run_dir / "metrics.json")
    assert (end["complete"], end["records"]) == (True, 3)


def test_an_interrupted_run_ends_incomplete_and_its_resumption_counts_on(
    tracer: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "tracer.jsonl"
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=5", "run.concurrency=1")
    env = {"TRACER_LOG": str(log), "ECHO_INTERRUPT_AFTER": "2"}
    tracer.run(*args, env=env, expect=130)
    stopped = read_jsonl(log)
    assert stopped[-1]["event"] == "end" and stopped[-1]["metrics"]["complete"] is False
    done = [e["step"] for e in stopped if e["event"] == "sample"]
    assert done == list(range(1, len(done) + 1)) and len(done) < 5
    tracer.run(*args, env={"TRACER_LOG": str(log)})
    resumed = read_jsonl(log)[len(stopped) :]
    assert resumed[0]["event"] == "start" and resumed[0]["samples"] == 5
    steps = [e["step"] for e in resumed if e["event"] == "sample"]
    assert steps == list(range(len(done) + 1, 6))
    assert resumed[-1]["event"] == "end" and resumed[-1]["metrics"]["complete"] is True


def test_a_failing_hook_is_reported_once_and_the_run_goes_on(
    tracer: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "tracer.jsonl"
    result = tracer.run(
        *echo_args(eibench_dir, tmp_path / "runs", "data.limit=3"),
        env={"TRACER_LOG": str(log), "TRACER_FAIL": "1"},
    )
    warnings = [line for line in result.stderr.splitlines() if "eicore_sample_end failed" in line]
    assert len(warnings) == 1 and "the tracker's disk is full" in warnings[0]
    assert "tracer" in warnings[0]
    assert [e["event"] for e in read_jsonl(log)] == ["start", "end"]
    run_dir = only_run_dir(tmp_path / "runs")
    assert len(read_jsonl(run_dir / "records.jsonl")) == 3
    assert json.loads((run_dir / "metrics.json").read_text())["complete"] is True
