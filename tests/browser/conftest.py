"""Browser tests of the viewer in real headless Chromium (Debian's chromium and chromium-driver).

They are collected only when ``EICORE_BROWSER_TESTS=1`` (``nox -s browser`` sets it), so the
default test run leaves them out; when collected, a missing browser or driver fails them.
Screenshots go to ``$EICORE_TEST_ARTIFACTS`` (default ``tests/browser/artifacts/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ENABLED = os.environ.get("EICORE_BROWSER_TESTS") == "1"
collect_ignore_glob = [] if ENABLED else ["test_*.py"]

CHROMIUM = Path(os.environ.get("EICORE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EICORE_CHROMEDRIVER", "/usr/bin/chromedriver"))
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,1000",
)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("EICORE_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A fresh headless Chromium driven through chromedriver (selenium)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(
            f"browser tests need {' and '.join(missing)}: apt-get install -y chromium "
            "chromium-driver (or set EICORE_CHROMIUM and EICORE_CHROMEDRIVER)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
