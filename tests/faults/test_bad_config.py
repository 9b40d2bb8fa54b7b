"""Bad configuration, bad command lines and damaged run directories: each ends in one line on
stderr naming what to fix, exit status 2 (1 for a run or sweep that produced nothing), never a
traceback; and the documented forms (``judge=null``) work."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from eicore_test_support import CLI, Result, echo_args, only_run_dir, read_json, read_jsonl


def one_line_error(result: Result, says: str) -> str:
    """The error line of ``result``: the last line of stderr, the only one that is an error."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or line.startswith("eicore")]
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr
    assert says in lines[-1], result.stderr
    return lines[-1]


@pytest.fixture
def finished_run(cli: CLI, eibench_dir: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """A cheap finished run: its overrides and its directory."""
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=3")
    cli.run(*args)
    return args, only_run_dir(tmp_path / "runs")


# -- 12: one line, exit 2 -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["run.log_level=LOUD"], "run.log_level='LOUD': expected one of TRACE, DEBUG, INFO"),
        (["run.log_level=WARNIG"], "run.log_level='WARNIG' (did you mean 'WARNING'?)"),
        (["+model.typo=1"], "model 'echo' has no setting 'typo'; its settings: log, delay"),
        (["+model.dely=1"], "model 'echo' has no setting 'dely' (did you mean 'delay'?)"),
        (["model.delay=-1"], "model 'echo': ValueError: delay must be 0 or more, got -1.0"),
        (["model.max_words=many"], "model.max_words"),
        (["model=ecoh"], "no model named 'ecoh' (did you mean 'echo'?); available:"),
        (["strategy=direkt"], "no strategy named 'direkt' (did you mean 'direct'?)"),
        (["judge=keywrod"], "no judge named 'keywrod' (did you mean 'keyword'?)"),
        (["modle=echo"], "unknown setting 'modle' (did you mean 'model'?)"),
        (["+modle=echo"], "unknown setting 'modle' (did you mean 'model'?)"),
        (["data.emotions=[Angry]"], "this data has happy, angry, sad, excited"),
        (["data.limit=-1"], "data.limit=-1: give a number of samples, 0 or more"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    cli: CLI, eibench_dir: Path, tmp_path: Path, extra: list[str], says: str
) -> None:
    log = tmp_path / "echo.log"
    args = [*echo_args(eibench_dir, tmp_path / "runs", "data.limit=2", f"model.log={log}"), *extra]
    line = one_line_error(cli.run(*args, expect=2), says)
    assert "+modle" not in line and not log.exists()


def test_help_of_every_command_works_without_composing_a_config(cli: CLI) -> None:
    for command in ("run", "annotate", "score", "report", "merge", "view", "cache"):
        result = cli(command, "--help")
        assert f"usage: eicore {command}" in result.stdout and "Traceback" not in result.stderr
    annotate = cli("annotate", "--help").stdout
    assert "model=: " in annotate and "echo" in annotate  # the installed names


def test_command_line_errors_of_score_and_view_are_one_line(
    cli: CLI, eibench_dir: Path, tmp_path: Path, finished_run: tuple[list[str], Path]
) -> None:
    _, run_dir = finished_run
    missing = tmp_path / "missing.jsonl"
    result = cli("score", "--predictions", str(missing), "--split", "basic", "--data-root",
                 str(eibench_dir), "judge=keyword", expect=2)  # fmt: skip
    one_line_error(result, f"{missing}: No such file or directory")
    result = cli("score", str(run_dir), "judge=keywrd", expect=2)
    one_line_error(result, "no judge named 'keywrd' (did you mean 'keyword'?)")
    result = cli("view", str(run_dir), "--port", "99999", expect=2)
    one_line_error(result, "99999 is not a port (0-65535; 0 picks a free one)")
    with socket.socket() as taken:  # a port in use: the message names it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("view", str(run_dir), "--port", str(port), expect=2)
    one_line_error(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_damaged_run_directories_are_one_line_and_exit_2(
    cli: CLI, finished_run: tuple[list[str], Path]
) -> None:
    args, run_dir = finished_run
    (run_dir / "report.html").unlink()
    (run_dir / "report.html").mkdir()  # cannot be replaced by the new report
    one_line_error(cli.run(*args, expect=2), f"cannot write {run_dir / 'report.html'}")
    (run_dir / "report.html").rmdir()
    (run_dir / "config.yaml").unlink()
    (run_dir / "config.yaml").mkdir()
    one_line_error(cli.run(*args, expect=2), f"{run_dir / 'config.yaml'}: Is a directory")
    (run_dir / "config.yaml").rmdir()
    for name in ("run.sqlite-wal", "run.sqlite-shm"):
        (run_dir / name).unlink(missing_ok=True)
    (run_dir / "run.sqlite").write_bytes(b"garbage " * 512)
    one_line_error(cli.run(*args, expect=2), "run.sqlite: file is not a database")
    one_line_error(cli("score", str(run_dir), "judge=keyword", expect=2), "run.sqlite")


def test_an_unexpected_error_is_one_line_with_the_log_that_holds_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eicore.commands.cli import error_message

    monkeypatch.setenv("EICORE_CACHE", str(tmp_path / "cache"))
    try:
        raise RuntimeError("a bug\nwith a second line")
    except RuntimeError as exc:
        line, status = error_message(exc)
    assert status == 1 and "\n" not in line
    log = tmp_path / "cache" / "errors.log"
    assert line == f"unexpected RuntimeError: a bug; the traceback is in {log}"
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
    assert error_message(FileNotFoundError(2, "No such file or directory", "x.jsonl")) == (
        "x.jsonl: No such file or directory",
        2,
    )


# -- 13: judge=null -----------------------------------------------------------------------------
def test_judge_null_runs_without_a_judge(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    args = [
        a for a in echo_args(eibench_dir, tmp_path / "runs", "data.limit=2") if a != "judge=keyword"
    ]
    result = cli.run(*args, "judge=null", "metrics=[]")
    assert "Traceback" not in result.stderr, result
    metrics = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    assert metrics["n_answered"] == 2 and metrics["judges"] == []


# -- 14: runs that produced nothing ------------------------------------------------------------
def test_a_run_where_every_sample_failed_exits_1(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=3")
    result = cli.run(*args, env={"ECHO_FAIL_ON": "image"}, expect=1)
    one_line_error(result, "no sample was answered (3 failed: {'RuntimeError': 3})")
    assert read_json(only_run_dir(tmp_path / "runs") / "metrics.json")["n_failed"] == 3
    cli.run(*args)  # the same command without the fault completes the run: exit 0


def test_a_connection_error_names_the_url_and_negative_retries_are_refused(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as closed:  # a local port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    args = [
        *echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", model="openai"),
        f"model.base_url={url}", "model.api_key_env=null", "model.vision=false",
    ]  # fmt: skip
    one_line_error(cli.run(*args, "model.max_retries=-1", expect=2), "model.max_retries=-1")
    cli.run(*args, "model.max_retries=0", expect=1)
    (record,) = read_jsonl(only_run_dir(tmp_path / "runs") / "records.jsonl")
    assert record["error_type"] == "APIConnectionError"
    assert f"could not reach {url}; check model.base_url" in record["error"]


def test_a_sweep_with_a_failed_job_exits_1_and_summarises_the_others(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=2,-1")
    result = cli.run(*args, flags=["-m"], expect=1)
    assert "Traceback" not in result.stderr, result.stderr
    assert "data.limit=-1: give a number of samples, 0 or more" in result.stderr
    sweep = tmp_path / "runs" / "sweeps"
    summary = (sweep / "summary.md").read_text(encoding="utf-8")
    assert "FAILED" in summary and "data.limit=-1" in summary
    assert "echo / direct / basic" in summary or "echo" in summary
    assert (sweep / "summary.csv").read_text(encoding="utf-8").count("\n") >= 3


# -- 15: messages that point the right way ------------------------------------------------------
def test_a_missing_questions_file_names_the_setting(cli: CLI, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = cli.run(
        "model=echo", "judge=keyword", f"data.questions={missing}",
        f"data.ground_truth={tmp_path / 'truth.json'}", f"run.root={tmp_path / 'runs'}", expect=2,
    )  # fmt: skip
    line = one_line_error(result, f"data file not found: {missing} (check data.questions)")
    assert "data.root" not in line


def test_an_unopenable_cache_is_not_called_damaged(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache-dir"
    (cache / "calls.sqlite").mkdir(parents=True)  # SQLite cannot open it, as a read-only folder
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", f"run.cache_dir={cache}")
    line = one_line_error(cli.run(*args, expect=2), f"cannot open {cache / 'calls.sqlite'}")
    assert "cache clear" not in line and "run.cache_dir" in line
    shutil.rmtree(cache)
