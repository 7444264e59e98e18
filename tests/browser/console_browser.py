"""A headless chromium (Debian's, driven through chromium-driver by Selenium) looking at
localcloud's console, and the checks the browser tests make of what it shows."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PIL import Image, ImageStat

from tests.support.polling import eventually

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

T = TypeVar("T")

# The flags that work here: no sandbox (root in a container), no GPU, nothing fetched from the
# network by the browser itself, a fresh profile per run.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]
WIDTH = 1400
MAX_HEIGHT = 4000
# A page that drew anything has light and dark pixels; a blank one has a near-zero spread.
MIN_GREY_STDDEV = 8.0


def chromium_binaries() -> tuple[str, str] | None:
    """chromium and its driver (CHROMIUM, CHROMEDRIVER override the PATH lookup)."""
    browser = shutil.which(os.environ.get("CHROMIUM") or "chromium")
    driver = shutil.which(os.environ.get("CHROMEDRIVER") or "chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(browser: str, driver: str) -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        try:
            yield session
        finally:
            session.quit()


class Console:
    """The console of one localcloud, in one browser."""

    def __init__(self, driver: WebDriver, aws_url: str) -> None:
        self.driver = driver
        self.url = f"{aws_url}/_console"

    def open(self, fragment: str = "#/") -> None:
        self.driver.set_window_size(WIDTH, 1000)
        self.driver.get(f"{self.url}{fragment}")

    def wait_for(self, check: Callable[[], T], timeout: float = 90.0) -> T | None:
        """`check` until it answers something truthy; the page redraws what changed on each
        poll, so an element read as it is replaced is asked about again."""
        from selenium.common.exceptions import StaleElementReferenceException

        def fresh() -> T | None:
            try:
                return check()
            except StaleElementReferenceException:
                return None

        return eventually(fresh, timeout=timeout, interval=0.25)

    def all(self, css: str) -> list[WebElement]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css: str) -> WebElement:
        found = eventually(lambda: self.all(css), timeout=90.0, interval=0.25)
        assert found, f"nothing on the page matches {css}"
        return found[0]

    def saga_states(self, execution: str) -> dict[str, str]:
        """state name -> status, as the drawing of that execution shows them (read in one go
        inside the page, between two of its redraws)."""
        states: dict[str, str] = self.driver.execute_script(
            """
            const found = {};
            const selector = `.execution[data-execution="${arguments[0]}"] g.state`;
            for (const state of document.querySelectorAll(selector)) {
              found[state.dataset.state] = state.dataset.status;
            }
            return found;
            """,
            execution,
        )
        return states

    def values(self, css: str, attribute: str) -> list[str | None]:
        """An attribute of everything matching `css`, read in one go inside the page."""
        found: list[str | None] = self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]),"
            " (e) => e.getAttribute(arguments[1]));",
            css,
            attribute,
        )
        return found

    def texts(self, css: str) -> list[str]:
        """The text shown by everything matching `css`, read in one go inside the page."""
        found: list[str] = self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText);",
            css,
        )
        return found

    def click(self, css: str) -> None:
        """Click what matches `css`, once it is there (again, if it was redrawn meanwhile)."""
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked() -> bool:
            try:
                self.one(css).click()
            except StaleElementReferenceException:
                return False
            return True

        assert self.wait_for(clicked), f"could not click {css}"

    def text(self, css: str) -> str:
        """The text of what matches `css` (read again if it was redrawn meanwhile)."""
        from selenium.common.exceptions import StaleElementReferenceException

        def read() -> str | None:
            try:
                return self.one(css).text
            except StaleElementReferenceException:
                return None

        text = self.wait_for(read)
        assert text is not None, f"nothing to read at {css}"
        return text

    def attribute(self, css: str, name: str) -> str | None:
        from selenium.common.exceptions import StaleElementReferenceException

        def read() -> tuple[str | None] | None:
            try:
                return (self.one(css).get_attribute(name),)
            except StaleElementReferenceException:
                return None

        found = self.wait_for(read)
        assert found is not None, f"could not read {name} of {css}"
        return found[0]

    def screenshot(self, path: Path) -> Path:
        """The whole page (the window grown to its height), checked not to be blank."""
        height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(WIDTH, min(max(height + 120, 600), MAX_HEIGHT))
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        assert_not_blank(path)
        copies = os.environ.get("CONSOLE_SCREENSHOTS")  # a folder: the README's figures anew
        if copies:
            Path(copies).mkdir(parents=True, exist_ok=True)
            with Image.open(path) as image:  # 256 colours: a third of the size, same look
                image.convert("RGB").quantize(colors=256).save(
                    Path(copies) / path.name, optimize=True
                )
        return path


def assert_not_blank(path: Path) -> None:
    with Image.open(path) as image:
        grey = image.convert("L")
        spread = ImageStat.Stat(grey).stddev[0]
        shades = len(grey.getcolors(maxcolors=256) or [])  # "L" has at most 256
        width, height = image.size
    assert width >= 800, f"{path} is only {width} pixels wide"
    assert height >= 500, f"{path} is only {height} pixels high"
    assert spread >= MIN_GREY_STDDEV, f"{path} looks blank (grey stddev {spread:.1f})"
    assert shades > 8, f"{path} has only {shades} shades of grey: blank"
