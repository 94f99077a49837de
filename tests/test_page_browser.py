"""The status page in a real browser (Debian's chromium + chromium-driver, driven by Selenium) against a live
sidecar that follows a real log: the page renders, the ETA is visible and large, the pace plot has points, and
nothing overflows at 1280 and 800 px. Screenshots are kept in ``tests/artifacts/`` (not committed)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import half_real_log_sidecar
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

DATA = Path(__file__).parent / "data"
ARTIFACTS = Path(__file__).parent / "artifacts"


def chrome() -> webdriver.Chrome:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    assert binary and driver, "the browser test needs Debian's chromium and chromium-driver (tests/run.sh installs them)"
    options = Options()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sidecar following the first 1,500 iterations of the real nanoGPT log, then lines appended live (so
    the pace plot has record times), with two fake GPUs."""
    log = tmp_path_factory.mktemp("browser") / "train.log"
    sidecar, rest = half_real_log_sidecar(log, gpus=2)
    try:
        lines = [line for line in rest.split(b"\n") if line.startswith(b"iter ")][:60]
        with log.open("ab") as handle:
            for line in lines:
                handle.write(line + b"\n")
                handle.flush()
                time.sleep(0.03)
        time.sleep(5.5)  # one time-split refresh after the live lines
        yield sidecar.server.url
    finally:
        sidecar.stop()


@pytest.mark.parametrize("width", [1280, 800])
def test_status_page_in_a_real_browser(page_url: str, width: int) -> None:
    browser = chrome()
    try:
        browser.set_window_size(width, 1000)
        browser.get(page_url)
        eta = browser.find_element(By.CSS_SELECTOR, ".card .eta")
        assert eta.is_displayed() and "left" in eta.text
        size = float(browser.execute_script("return parseFloat(getComputedStyle(arguments[0]).fontSize)", eta))
        body = float(browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)"))
        assert size >= 2 * body  # the first, largest thing on the card
        plot = browser.find_element(By.CSS_SELECTOR, "svg.pace")
        assert int(plot.get_attribute("data-points") or 0) > 10
        assert len((plot.find_element(By.TAG_NAME, "polyline").get_attribute("points") or "").split()) > 10
        assert browser.find_element(By.CSS_SELECTOR, ".bar").is_displayed()
        assert browser.find_elements(By.CSS_SELECTOR, "svg.gpu")
        overflow = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth,"
            " Array.from(document.querySelectorAll('.card, svg, table')).map(e => e.getBoundingClientRect().right)"
            ".reduce((a, b) => Math.max(a, b), 0)]"
        )
        assert overflow[0] <= overflow[1], overflow
        assert overflow[2] <= overflow[1] + 1, overflow
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / f"status-page-{width}.png"))
    finally:
        browser.quit()
