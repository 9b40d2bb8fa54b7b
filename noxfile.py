"""Sessions: ``tests`` installs the core, every first-party plugin and the plugin guide's example,
then runs all tests with coverage; ``docs`` builds the documentation site in strict mode; ``lint``
runs ruff and mypy."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "docs", "tests", "browser"]  # what `nox` and CI run; not `stress`

PLUGINS = [
    "plugins/eicore-strategies",
    "plugins/eicore-metrics",
    "plugins/eicore-baselines",
    "plugins/eicore-hf",
    "plugins/eicore-anthropic",
    "plugins/eicore-gemini",
    "plugins/eicore-openai",
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
    session.install("-e", EXAMPLE, *COVERAGE)
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
    session.install("-e", ".", "-e", "plugins/eicore-strategies", "pytest>=8", "selenium>=4.11")
    session.run("pytest", "tests/browser", *session.posargs)


@nox.session(default=False)
def stress(session: nox.Session) -> None:
    """20,000 synthetic samples through the openai plugin and the fake API at concurrency 64,
    with and without 5% injected faults: samples lost, peak RSS, throughput (not run by default:
    `nox -s stress`; docs/reliability.md)."""
    session.install("-e", ".", "-e", "plugins/eicore-strategies", "-e", "plugins/eicore-openai")
    session.run("python", "benchmarks/stress.py", *session.posargs)
