"""Secrets: a key given as a config field (``model.api_key=...``) or found in the environment
must not reach any file eicore writes (run directories, sweep folders, the call cache) nor its
output, whole or in pieces of 8 characters, in any form it takes."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eicore_test_support import (
    CLI,
    UNMEASURED,
    Result,
    echo_args,
    leaks,
    only_run_dir,
    read_jsonl,
)

from eicore.datasets.samples import DataConfig, load_basic, select
from eicore.testing.fake_api import FakeAPI, Received, Reply

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


# --- a key in every form it takes: the openai plugin against the fake API ----------------------

ECHO_KEY = f"sk-echo-{secrets.token_hex(16)}"
QUOTED = 300
"""The openai plugin quotes this many characters of a 200 body that is not a chat completion."""
SHOWN = 7
"""Characters of the key inside the quote, if it is cut before it is masked (fewer than 8: no
scan for 8-character pieces of the key can see them)."""


@dataclass
class KeyRun:
    result: Result
    run_dir: Path
    cache: Path
    served: list[Received]
    records: dict[str, dict[str, Any]]
    """By the sample's role in the run (``"echo"``, ``"cut"``, ``"answer"``)."""


def key_run(cli: CLI, eibench_dir: Path, root: Path, exported: str, plan: list[str]) -> KeyRun:
    """``model=openai`` on the first ``len(plan)`` EIBench samples, the key exported as
    ``exported``; the fake answers each sample by its role in ``plan``: ``echo`` a 500 whose
    body echoes the request's headers, ``cut`` a 200 that is not a chat completion and echoes
    the key so that the plugin's quote ends inside it, ``answer`` an answer that repeats the
    key (a proxy or a model echoing it)."""
    samples = select(
        load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json"),
        DataConfig(limit=len(plan)),
    )
    role = {s.question: r for s, r in zip(samples, plan, strict=True)}

    def answer(request: Received) -> Reply | str:
        text = json.dumps(request.body)
        (kind,) = [r for q, r in role.items() if json.dumps(q)[1:-1] in text]
        sent = request.headers["authorization"]
        if kind == "echo":
            return Reply("upstream failure", status=500, echo_headers=True)
        if kind == "cut":  # str() of this dict puts the key's first SHOWN characters at the cut
            before, between = "{'note': '", "', 'authorization': 'Bearer "
            pad = "x" * (QUOTED - SHOWN - len(before) - len(between))
            return Reply(body=json.dumps({"note": pad, "authorization": sent}).encode())
        return f"1. The proxy says {sent}\n2. A raised fist"

    with FakeAPI(answer=answer) as fake:
        result = cli.run(
            "model=openai", f"model.base_url={fake.url}/v1", "model.vision=false",
            "model.max_retries=0", "judge=keyword", "metrics=[trigger_recall]",
            f"data.root={eibench_dir}", f"data.limit={len(plan)}", f"run.root={root}",
            env={"OPENAI_API_KEY": exported},
        )  # fmt: skip
        served = fake.requests
    run_dir = only_run_dir(root)
    by_question = {r["sample"]["question"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    records = {kind: by_question[q] for q, kind in role.items()}
    return KeyRun(result, run_dir, cli.cache, served, records)


def everywhere(run: KeyRun, key: str) -> list[str]:
    """Every place of the run holding 8 consecutive characters of ``key``: the run directory's
    files (run.log, run.sqlite and its WAL among them), the cache's, the command's output."""
    return leaks(key, run.run_dir, run.cache, texts=(run.result.stdout, run.result.stderr))


# Item 1: the variable holds the key and a newline; the plugin sends it trimmed.
def test_a_key_exported_with_a_trailing_newline_is_masked_as_sent(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    run = key_run(cli, eibench_dir, tmp_path / "runs", ECHO_KEY + "\n ", ["echo", "answer"])
    assert {r.headers["authorization"] for r in run.served} == {f"Bearer {ECHO_KEY}"}
    echoed = run.records["echo"]
    assert echoed["error_type"] == "InternalServerError" and "***" in echoed["error"]
    assert (run.run_dir / "run.log").stat().st_size > 0
    assert everywhere(run, ECHO_KEY) == []


@pytest.fixture(scope="module")
def echoed(echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> KeyRun:
    """One run in which a cut error and an answer quote the key (exported as it is)."""
    folder = tmp_path_factory.mktemp("echoed")
    (folder / "cwd").mkdir()
    cli = CLI([echo_site], folder / "cache", folder / "cwd")
    return key_run(cli, eibench_dir, folder / "runs", ECHO_KEY, ["cut", "answer"])


# Item 2: a message cut inside the key; masking after the cut would leave its start in clear.
def test_a_message_cut_inside_the_key_is_masked_before_the_cut(echoed: KeyRun) -> None:
    cut = echoed.records["cut"]
    assert cut["error_type"] == "ValueError" and "not a chat completion" in cut["error"]
    assert "Bearer ***" in cut["error"]
    assert ECHO_KEY[:SHOWN] not in cut["error"]


# Item 3: an answer repeating the key is stored masked wherever answers are stored (masked where
# completions enter eicore, before the cache and the record see them).
def test_an_answer_holding_the_key_is_stored_masked(echoed: KeyRun) -> None:
    answer = echoed.records["answer"]
    assert answer["status"] == "answered"
    assert answer["response"]["text"] == "1. The proxy says Bearer ***\n2. A raised fist"
    stores = [
        echoed.run_dir / name
        for name in ("predictions.jsonl", "records.jsonl", "report.html", "run.sqlite")
    ] + [echoed.cache / "calls.sqlite"]
    assert all(p.is_file() for p in stores)
    assert leaks(ECHO_KEY, echoed.run_dir, echoed.cache) == []


def test_no_piece_of_an_echoed_key_reaches_any_file_or_output(echoed: KeyRun) -> None:
    assert everywhere(echoed, ECHO_KEY) == []


# Item 3, `eicore score`: a judge's reply holding the key (judgments are written from memory).
def test_a_judge_reply_holding_the_key_is_stored_masked(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=2"))
    run_dir = only_run_dir(tmp_path / "runs")

    def verdict(request: Received) -> str:
        return f"The header said {request.headers['authorization']}. {{score: 1/3}}"

    with FakeAPI(answer=verdict) as fake:
        result = cli("score", str(run_dir), "judge=llm", "+model@judge.model=openai",
                     f"judge.model.base_url={fake.url}/v1", "judge.model.vision=false",
                     "judge.model.max_retries=0", env={"OPENAI_API_KEY": ECHO_KEY})  # fmt: skip
        assert len(fake.requests) == 2
    (out,) = (run_dir / "scores").iterdir()
    judgments = [r["judgments"][0] for r in read_jsonl(out / "records.jsonl")]
    assert [j["recalled"] for j in judgments] == [1, 1]
    assert all("The header said Bearer ***." in j["raw"] for j in judgments)
    texts = (result.stdout, result.stderr)
    assert leaks(ECHO_KEY, run_dir, cli.cache, texts=texts) == []


# --- item 4: a key on the command line, where Hydra would print it ----------------------------


def refused_unseen(result: Result, key: str) -> None:
    """One line on stderr, exit 2, and no piece of ``key`` in the output."""
    assert result.returncode == 2, str(result)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert leaks(key, texts=(result.stdout, result.stderr)) == [], str(result)


def test_a_key_given_for_the_variable_name_is_refused_unseen(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", model="openai")
    result = cli.run(*args, f"model.api_key_env={ECHO_KEY}", env=UNMEASURED, expect=None)
    refused_unseen(result, ECHO_KEY)
    assert "model.api_key_env" in result.stderr and "not shown" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_key_added_as_a_field_is_refused_before_hydra_echoes_it(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", model="openai")
    result = cli.run(*args, f"+model.api_key={ECHO_KEY}", env=UNMEASURED, expect=None)
    refused_unseen(result, ECHO_KEY)
    assert "+model.api_key" in result.stderr


def test_a_key_shaped_value_in_an_ordinary_setting_is_refused_unseen(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1")
    result = cli.run(*args, f"strategy.persona=use {ECHO_KEY}", env=UNMEASURED, expect=None)
    refused_unseen(result, ECHO_KEY)
    assert "strategy.persona" in result.stderr


# A secret field's value is masked in whatever Hydra prints: its own error messages (a field the
# model does not have) and the config it shows (`--cfg job`).
def test_hydra_prints_no_secret_field_value(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    openai = echo_args(eibench_dir, tmp_path / "runs", model="openai")
    unknown = cli.run(*openai, f"model.api_key={ECHO_KEY}", env=UNMEASURED, expect=None)
    assert unknown.returncode != 0 and "model.api_key" in unknown.stderr
    shown = cli.run(*echo_args(eibench_dir, tmp_path / "runs"), f"model.api_key={ECHO_KEY}",
                    flags=["--cfg", "job"], env=UNMEASURED)  # fmt: skip
    assert "api_key: '***'" in shown.stdout or "api_key: ***" in shown.stdout
    assert leaks(ECHO_KEY, texts=(unknown.stdout, unknown.stderr, shown.stdout)) == []


# --- the rules, in process ---------------------------------------------------------------------


def test_every_form_of_a_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from eicore.secrets.masking import MASK, excerpt, keep_secret, redact

    key = "sk-rules-" + secrets.token_hex(12)
    monkeypatch.setenv("RULES_API_KEY", f"  {key}\r\n")
    assert redact(f"Bearer {key}.") == f"Bearer {MASK}."  # trimmed
    assert redact(f"[{key[3:11]}] [{key[9:30]}]") == f"[{MASK}] [{MASK}]"  # pieces of 8+
    assert redact(key[:7]) == key[:7]  # fewer than 8 characters are ordinary text
    assert redact(key + key) == MASK
    quoted = "x" * 288 + f"Bearer {key}"  # the first 300 characters end in 5 of the key
    assert excerpt(quoted, 300) == "x" * 288 + f"Bearer {MASK}"
    assert key[:5] in quoted[:300] and key[:5] not in excerpt(quoted, 300)
    assert excerpt("short", 3) == "sh…"
    field_value = "field-" + secrets.token_hex(8)
    keep_secret(field_value)
    assert redact(f"a {field_value}") == f"a {MASK}"


@pytest.mark.parametrize(
    "override",
    [
        "model.name=claude-3-5-sonnet-20241022", "model.name=gpt-4o-2024-08-06",
        "model.name=Qwen/Qwen2-VL-7B-Instruct", "model.name=hf_internal_testing_tiny",
        "data.root=/tmp/pytest-of-root/pytest-12/test_a0/data", "run.name=echo__direct__1a2b3c4d5e",
        "model.api_key_env=ACME_API_KEY", "model.api_key_env=null",
        "model.api_key_env=A_API_KEY,B_API_KEY", "strategy.persona=a calm listener",
        "data.ids=[CAER-S/train/Angry/0006.png#0123abcd]", "-m", "--cfg",
        "model.api_key=sk-given-0123456789abcdef",  # a secret field: masked, not refused
    ],
)  # fmt: skip
def test_ordinary_overrides_pass_the_key_check(override: str) -> None:
    from eicore.secrets.keys import check_overrides

    check_overrides([override])


@pytest.mark.parametrize(
    "override",
    [
        "model.api_key_env=sk-proj-Abc123def456ghi789jkl0",  # a key for the variable's name
        "model.api_key_env=OPENAI-API-KEY",  # not a variable name
        "judge.model.api_key_env=A_API_KEY,AIzaSyA1234567890abcdefghijklmnopqrstu",
        "+model.api_key=anything-at-all",
        "++judges.x.token=abcdefgh12345678",
        "strategy.persona=use ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123",
        "model.base_url=https://gateway.example/v1?key=Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zA",
        "data.root=/keys/AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_a_key_where_hydra_would_print_it_is_refused_unseen(override: str) -> None:
    from eicore.run.settings import ConfigError
    from eicore.secrets.keys import check_overrides

    with pytest.raises(ConfigError) as refused:
        check_overrides([override])
    value = override.split("=", 1)[1].split(",")[-1]
    assert "not shown" in str(refused.value)
    assert leaks(value, texts=(str(refused.value),)) == []


def test_a_variable_name_that_is_a_key_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from eicore.run.settings import ConfigError
    from eicore.secrets.keys import api_key

    key = "sk-named-0123456789abcdefABCDEF"
    for name in (key, "AKIAIOSFODNN7EXAMPLE"):
        with pytest.raises(ConfigError) as refused:
            api_key(name, owner="model.api_key_env")
        assert leaks(name, texts=(str(refused.value),)) == [], name
    monkeypatch.setenv("ACME_API_KEY", " padded-key-0123456789\n")
    assert api_key("ACME_API_KEY", owner="model.api_key_env") == "padded-key-0123456789"
