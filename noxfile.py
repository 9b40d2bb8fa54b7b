"""Sessions: ``nox -s tests`` installs the core and every first-party plugin, then runs all tests."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"

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


def install(session: nox.Session) -> None:
    session.install(TORCH)
    editable = [arg for path in [".", *PLUGINS] for arg in ("-e", path)]
    session.install(*editable, "pytest>=8", "scipy", "scikit-learn")  # reference statistics


@nox.session
def tests(session: nox.Session) -> None:
    """The core's tests and every plugin's own tests, offline."""
    session.env.update(OFFLINE)
    install(session)
    session.run("pytest", *session.posargs)
