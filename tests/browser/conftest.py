"""A real browser for the studio: Debian's chromium, headless, through its chromedriver (selenium).

Nothing is downloaded at run time: without /usr/bin/chromium and chromedriver the browser tests are
skipped with the reason (`make test` installs both first when it may: tests/browser/ensure-chromium.sh).
Every step's screenshot goes to `.artifacts/screenshots/<test>/NN-step.png`; the folder is printed at the end
(tests/conftest.py: the list travels in the test's report, so it reaches the summary from an xdist worker too).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"


def _binaries() -> tuple[str, str] | str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        return "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return browser, driver


class Shots:
    """Numbered screenshots of one test, named by step."""

    def __init__(self, driver: Any, folder: Path, node: pytest.Item) -> None:
        self.driver = driver
        self.folder = folder
        self.node = node
        self.count = 0

    def take(self, step: str, show: Any = None) -> Path:
        """Save the window as `NN-step.png`, scrolled so that the element `show` is in the middle."""
        if show is not None:
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", show)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        self.driver.save_screenshot(str(path))
        self.node.user_properties.append(("screenshot", str(path)))
        return path


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    found = _binaries()
    if isinstance(found, str):
        pytest.skip(f"browser tests skipped: {found}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--window-size=1280,900", "--disable-dev-shm-usage", "--lang=en-GB"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(browser: Any, request: pytest.FixtureRequest) -> Shots:
    folder = SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Shots(browser, folder, request.node)
