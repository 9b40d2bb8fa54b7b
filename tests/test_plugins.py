"""The plugin system, through the installed command: discovery from entry points, listing,
narrowing with EICORE_LOAD_PLUGINS, broken plugins, and a first real run of a third-party plugin."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from eicore_test_support import (
    CLI,
    UNMEASURED,
    echo_args,
    keyword_recalled,
    only_run_dir,
    read_json,
    read_jsonl,
)

ECHO_REGISTERED = [
    ["model", "echo"],
    ["model", "echo-vision"],
    ["model", "scripted"],
    ["model", "grader"],
    ["judge", "keyword"],
]


EIBENCH_REGISTERED = [
    ["dataset", "eibench"],
    *(
        ["preset", f"data={name}"]
        for name in ("angry", "basic", "complex", "excited", "happy", "sad")
    ),
]


def by_name(listing: list[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in listing}


def text_blocks(stdout: str) -> dict[str, tuple[str, list[str]]]:
    """``eicore plugins`` as {plugin name: (header line, ["kind name", ...])}."""
    blocks: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in stdout.splitlines():
        if not line.strip():
            continue
        if line.startswith((" ", "\t")):
            assert current is not None, stdout
            blocks[current][1].append(" ".join(line.split()))
        else:
            name, distribution = line.split()[:2]
            current = name if name not in blocks else f"{name} {distribution.lstrip('(')}"
            blocks[current] = (line, [])
    return blocks


# -- listing --------------------------------------------------------------------------------------
def test_plugins_lists_the_installed_third_party_plugin(cli: CLI) -> None:
    result = cli("plugins")
    blocks = text_blocks(result.stdout)
    assert "echo" in blocks, result.stdout
    header, registered = blocks["echo"]
    assert "eicore-echo" in header and "1.2.3" in header, header  # version from its dist-info
    assert "BROKEN" not in header
    assert registered == [" ".join(r) for r in ECHO_REGISTERED]
    # the first-party plugins come through the very same mechanism
    assert "dataset eibench" in blocks["eicore.datasets.eibench"][1]
    assert any("strategy direct" in regs for _, regs in blocks.values())
    assert any("metric trigger_recall" in regs for _, regs in blocks.values())


def test_plugins_json_parses_and_names_distribution_version_and_registrations(cli: CLI) -> None:
    listing = cli("plugins", "--json").json()
    assert isinstance(listing, list)
    echo = by_name(listing)["echo"]
    assert echo["distribution"] == "eicore-echo"
    assert echo["version"] == "1.2.3"
    assert echo["error"] is None
    assert echo["registered"] == ECHO_REGISTERED
    builtin = by_name(listing)["eicore.datasets.eibench"]
    assert builtin["distribution"] == "eicore" and builtin["registered"] == EIBENCH_REGISTERED


BUILTIN = ["eicore.datasets.eibench", "eicore.datasets.image_folder"]


def test_load_plugins_empty_loads_only_the_builtin_datasets(cli: CLI) -> None:
    env = {"EICORE_LOAD_PLUGINS": ""}
    listing = cli("plugins", "--json", env=env).json()
    assert [p["name"] for p in listing] == BUILTIN
    assert [p["registered"] for p in listing] == [EIBENCH_REGISTERED, [["dataset", "images"]]]
    text = cli("plugins", env=env).stdout
    assert list(text_blocks(text)) == BUILTIN, text


def test_load_plugins_narrows_to_named_distributions(cli: CLI) -> None:
    # distribution names are compared normalised: eicore_echo == eicore-echo == EICORE.ECHO
    listing = cli("plugins", "--json", env={"EICORE_LOAD_PLUGINS": "EICORE_Echo"}).json()
    assert sorted(p["name"] for p in listing) == ["echo", *BUILTIN]
    assert all(p["error"] is None for p in listing)


# Spaces around EICORE_LOAD_PLUGINS names are ignored ("a, b" loads both).
def test_load_plugins_ignores_spaces_around_names(cli: CLI) -> None:
    listing = cli(
        "plugins", "--json", env={"EICORE_LOAD_PLUGINS": "eicore-metrics, eicore-echo "}
    ).json()
    assert sorted(p["name"] for p in listing) == ["echo", *BUILTIN, "metrics"]


def test_narrowed_plugins_still_compose_a_run(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    env = {"EICORE_LOAD_PLUGINS": "eicore-echo,eicore-strategies,eicore-metrics"}
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=2"), env=env)
    metrics = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    assert metrics["n_samples"] == 2
    assert set(metrics["provenance"]["plugins"]) == {
        "eicore",
        "eicore-echo",
        "eicore-strategies",
        "eicore-metrics",
    }


def test_a_run_without_the_plugin_that_provides_a_default_fails_clearly(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    env = {"EICORE_LOAD_PLUGINS": "eicore-echo", **UNMEASURED}  # no eicore-strategies: no `direct`
    result = cli.run(
        *echo_args(eibench_dir, tmp_path / "runs", "data.limit=2"), env=env, expect=None
    )
    assert result.returncode != 0
    assert "direct" in result.stderr, str(result)
    assert "Traceback" not in result.stderr, str(result)


# -- broken plugins -------------------------------------------------------------------------------
@pytest.fixture
def broken_cli(cli: CLI, broken_site: Path) -> CLI:
    return CLI([*cli.pythonpath, broken_site], cli.cache, cli.cwd)


def test_broken_plugins_are_reported_by_name_and_the_healthy_ones_load(broken_cli: CLI) -> None:
    entries = broken_cli("plugins", "--json").json()
    (taken,) = [p for p in entries if p["name"] == "echo" and p["error"]]
    assert taken["distribution"] == "eicore-broken-hookname"
    assert taken["error"] == "entry point name 'echo' is already taken by eicore-echo"
    listing = by_name([p for p in entries if p is not taken])
    crashes = listing["crashes"]
    assert crashes["distribution"] == "eicore-broken-import" and crashes["version"] == "0.0.1"
    assert "ImportError" in crashes["error"] and "on purpose" in crashes["error"]
    misspelled = listing["misspelled"]
    assert misspelled["distribution"] == "eicore-broken-hookname"
    assert "eicore_register_modles" in misspelled["error"]
    raising = listing["raising"]
    assert "registration went wrong halfway" in raising["error"]
    # the healthy plugins are untouched
    assert listing["echo"]["error"] is None and listing["echo"]["registered"] == ECHO_REGISTERED
    assert listing["eicore.datasets.eibench"]["error"] is None
    healthy = [
        p for p in listing.values() if p["distribution"] in {"eicore-strategies", "eicore-metrics"}
    ]
    assert len(healthy) == 2 and all(p["error"] is None for p in healthy)

    text = broken_cli("plugins").stdout
    blocks = text_blocks(text)
    for name in ("crashes", "misspelled", "raising"):
        assert "BROKEN" in blocks[name][0], text
    assert "eicore-broken-import" in blocks["crashes"][0]
    assert "BROKEN" not in blocks["echo"][0]
    assert "already taken by eicore-echo" in blocks["echo eicore-broken-hookname"][0]


def test_nothing_of_a_rejected_plugin_is_usable(
    broken_cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    # `misspelled` also has a well-formed judge hook: the whole plugin is rejected, not half of it.
    # `raising` registered a model before raising: the registration is rolled back.
    for override in ("judge=typo-judge", "model=half-registered"):
        args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1")
        args = [a for a in args if a.split("=")[0] != override.split("=")[0]] + [override]
        result = broken_cli.run(*args, expect=None)
        assert result.returncode != 0, str(result)
        assert override.split("=")[1] in result.stderr, str(result)


# A plugin whose register hook raises lists none of its rolled-back registrations.
def test_a_rolled_back_plugin_lists_no_registrations(broken_cli: CLI) -> None:
    listing = by_name(broken_cli("plugins", "--json").json())
    assert listing["raising"]["registered"] == []


def test_a_run_succeeds_beside_broken_plugins(
    broken_cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    broken_cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=2"))
    metrics = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    assert metrics["n_samples"] == 2 and metrics["n_failed"] == 0
    plugins = metrics["provenance"]["plugins"]
    assert "eicore-echo" in plugins
    assert "eicore-broken-import" not in plugins  # provenance lists only plugins that loaded


# -- unknown names --------------------------------------------------------------------------------
def test_unknown_model_fails_with_a_clear_message(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", model="nope")
    result = cli.run(*args, env=UNMEASURED, expect=None)
    assert result.returncode != 0
    assert "nope" in result.stderr, str(result)
    assert "echo" in result.stderr, "the message should list the models that are installed"
    assert "Traceback" not in result.stderr, str(result)
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_unknown_command_fails(cli: CLI) -> None:
    result = cli("frobnicate", expect=2)
    assert "frobnicate" in result.stderr and "usage" in result.stderr


# -- a first run ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def basic_run(echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`eicore run model=echo judge=keyword data.root=<eibench> data.limit=5 run.root=<tmp>`."""
    tmp = tmp_path_factory.mktemp("basic-run")
    (tmp / "cwd").mkdir()
    cli = CLI([echo_site], tmp / "cache", tmp / "cwd")
    log = tmp / "echo.log"
    cli.run(*echo_args(eibench_dir, tmp / "runs", "data.limit=5", f"model.log={log}"))
    return only_run_dir(tmp / "runs")


def test_run_writes_the_run_directory(basic_run: Path) -> None:
    for name in ("config.yaml", "predictions.jsonl", "records.jsonl", "metrics.json"):
        assert (basic_run / name).is_file(), name
    assert basic_run.name.startswith("echo__direct__basic__")


def test_run_config_snapshot_is_the_composed_config(basic_run: Path, eibench_dir: Path) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(basic_run / "config.yaml")
    assert cfg.model.plugin == "echo"
    assert cfg.judge.plugin == "keyword"
    assert cfg.strategy.plugin == "direct"
    assert cfg.data.limit == 5
    assert Path(cfg.data.root) == eibench_dir
    assert "hydra" not in cfg


def test_predictions_have_eibench_shape(basic_run: Path, eibench_dir: Path) -> None:
    predictions = read_jsonl(basic_run / "predictions.jsonl")
    assert len(predictions) == 5
    first_five = [
        next(iter(json.loads(line)))
        for line in (eibench_dir / "user.jsonl").read_text(encoding="utf-8-sig").splitlines()[:5]
    ]
    assert [list(p) for p in predictions] == [[image] for image in first_five]
    for p in predictions:
        ((_image, answer),) = p.items()
        assert isinstance(answer, str) and answer.startswith("1. "), answer


def test_records_and_metrics_agree(basic_run: Path, eibench_dir: Path) -> None:
    records = read_jsonl(basic_run / "records.jsonl")
    metrics = read_json(basic_run / "metrics.json")
    truth = json.loads((eibench_dir / "basic_ground_truth.json").read_text(encoding="utf-8"))
    assert metrics["n_samples"] == len(records) == 5
    assert metrics["n_failed"] == 0
    assert metrics["calls_made"] + metrics["calls_cached"] == 5
    assert metrics["calls_made"] == sum(
        not c["cached"] for r in records for c in r["response"]["trace"]
    )
    assert metrics["complete"] is True
    scores, by_emotion = [], {}
    for record in records:
        sample = record["sample"]
        assert record["status"] == "answered"
        assert sample["id"] == sample["image"] and sample["image"] in truth
        (judgment,) = record["judgments"]
        # the keyword judge's rule, restated independently
        matched = keyword_recalled(record["response"]["text"], sample["triggers"])
        assert judgment["recalled"] == len(matched) and judgment["total"] == len(sample["triggers"])
        scores.append(len(matched) / len(sample["triggers"]))
        by_emotion.setdefault(sample["emotion"], []).append(scores[-1])
    recall = metrics["recall"]
    assert recall["overall"] == pytest.approx(sum(scores) / len(scores))
    means = {e: sum(v) / len(v) for e, v in by_emotion.items()}
    assert recall["by_emotion"] == pytest.approx(means)
    assert recall["macro"] == pytest.approx(sum(means.values()) / len(means))
    assert Counter(r["sample"]["emotion"] for r in records) == {"angry": 5}


def test_metrics_record_provenance(basic_run: Path) -> None:
    provenance = read_json(basic_run / "metrics.json")["provenance"]
    assert provenance["plugins"]["eicore-echo"] == "1.2.3"
    files = provenance["data"]["files"]
    assert files["user.jsonl"]["eibench_release"] is True
    assert files["basic_ground_truth.json"]["eibench_release"] is True
    assert basic_run.name.endswith(provenance["config_hash"])


def test_run_log_is_written(basic_run: Path) -> None:
    log = (basic_run / "run.log").read_text(encoding="utf-8")
    assert "5 samples" in log
