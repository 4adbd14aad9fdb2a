"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Nothing is downloaded: the driver path is given, so Selenium Manager never runs, and SE_OFFLINE /
SE_AVOID_STATS keep it quiet if anything reaches it. Every browser is torn down with its whole
process tree (driver, browser, renderers), so the suite's leak check stays meaningful.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import psutil
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")


def available() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} missing: apt-get install -y chromium chromium-driver"
    return None


class Browser:
    """One browser session (its own profile, cookies and localStorage)."""

    def __init__(
        self, base_url: str, profile: Path, *, width: int = 1400, height: int = 900
    ) -> None:
        self.base_url = base_url.rstrip("/")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--autoplay-policy=user-gesture-required",
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
            "--lang=id-ID",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver_log = str(profile) + ".driver.log"
        self.service = Service(executable_path=CHROMEDRIVER, log_output=driver_log)
        self.driver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(15)
        self._tree = self._process_tree()

    def _process_tree(self) -> list[psutil.Process]:
        proc = getattr(self.service, "process", None)
        if proc is None:
            return []
        try:
            root = psutil.Process(proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def quit(self) -> None:
        """Quit, then make sure no driver or browser process outlives the session."""
        tree = {p.pid: p for p in [*self._tree, *self._process_tree()]}
        try:
            self.driver.quit()
        finally:
            _, alive = psutil.wait_procs(list(tree.values()), timeout=5)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            psutil.wait_procs(alive, timeout=5)

    # -- helpers the tests use --

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait(self, predicate: Any, timeout: float = 10.0, what: str = "") -> Any:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(predicate, what)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_css(self, css: str, timeout: float = 10.0) -> WebElement:
        return self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), timeout, css)[0]

    def login(self, username: str, password: str, path: str = "/console/") -> None:
        self.open(path)
        self.wait_css("#login-form")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#login-submit").click()
        self.wait(lambda d: "/login.html" not in d.current_url, what="leaving the login page")
        self.wait(lambda d: d.execute_script("return document.body.dataset.view"), what="a view")

    def severe_logs(self) -> list[str]:
        """Console errors (CSP violations, exceptions) the page produced since the last call."""
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def screenshot(self, directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
