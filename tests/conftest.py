"""Shared fixtures of eicore's core tests.

- the session runs offline, with no provider API keys and a throw-away cache;
- ``eibench_dir``: the shared EIBench annotations (``../shared/eibench`` beside the repository,
  or ``$EICORE_TEST_DATA``), read in place, never copied into the repository;
- ``echo_site``: the third-party test plugin ``tests/thirdparty/eicore-echo`` installed with pip
  into a folder of its own, the way a user installs a plugin, so entry points are discovered
  from a real dist-info (``broken_site``: the deliberately broken plugins, likewise);
- ``cli``: runs the ``eicore`` command in a subprocess with the echo plugin on PYTHONPATH;
- ``make_image``: synthetic images (the EmoSet/CAER-S images are not redistributable).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for eicore_test_support

from eicore_test_support import (
    API_KEYS,
    CLI,
    EIBENCH_FILES,
    EICORE_ENV,
    OFFLINE,
    THIRDPARTY,
    eibench_path,
    pip_install_target,
)


@pytest.fixture(scope="session", autouse=True)
def _offline_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        for key in (*API_KEYS, *EICORE_ENV):
            mp.delenv(key, raising=False)
        # In-process code that falls back to the user cache gets a throw-away one.
        mp.setenv("EICORE_CACHE", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(scope="session")
def eibench_dir() -> Path:
    path = eibench_path()
    missing = [n for n in EIBENCH_FILES if not (path / n).is_file()]
    if missing:
        pytest.skip(
            f"EIBench annotations not found in {path} (missing {missing}); set EICORE_TEST_DATA"
        )
    return path


@pytest.fixture(scope="session")
def echo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed ``eicore-echo`` distribution (package + dist-info)."""
    work = tmp_path_factory.mktemp("echo-build")
    site = pip_install_target([THIRDPARTY / "eicore-echo"], work / "site", work)
    assert list(site.glob("eicore_echo-*.dist-info")), f"no dist-info in {sorted(site.iterdir())}"
    return site


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the deliberately broken test plugins."""
    work = tmp_path_factory.mktemp("broken-build")
    sources = [THIRDPARTY / "eicore-broken-import", THIRDPARTY / "eicore-broken-hookname"]
    return pip_install_target(sources, work / "site", work)


@pytest.fixture
def cli(echo_site: Path, tmp_path: Path) -> CLI:
    """``eicore`` with the echo plugin installed; its cache and working folder in tmp_path."""
    work = tmp_path / "cwd"
    work.mkdir()
    return CLI([echo_site], tmp_path / "cache", work)


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """``make_image(path, format="PNG", color=(r, g, b), size=(w, h))`` writes a small image."""
    from PIL import Image

    def make(
        path: Path,
        format: str = "PNG",
        color: tuple[int, int, int] = (200, 40, 40),
        size: tuple[int, int] = (16, 12),
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, color).save(path, format=format)
        return path

    return make
