"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Nothing is downloaded: the driver path is given, so Selenium Manager never runs, and SE_OFFLINE /
SE_AVOID_STATS keep it quiet if anything reaches it. Every browser is torn down with its whole
process tree (driver, browser, renderers), so the suite's leak check stays meaningful.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import psutil
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

CARD_JS = """
const [device, type] = arguments;
for (const li of document.querySelectorAll("li.alert")) {
  const text = (css) => li.querySelector(css)?.textContent ?? "";
  if (li.dataset.type !== type || li.dataset.device !== device) continue;
  const img = li.querySelector("img.thumb-image");
  return {
    id: Number(li.dataset.alertId), status: li.dataset.status, severity: li.dataset.severity,
    title: text(".alert-title"), site: text(".alert-site"), time: text(".alert-time"),
    typeName: text(".alert-type .type-name"), typeRaw: text(".alert-type .type-raw"),
    focused: li.classList.contains("focused"),
    statusText: li.querySelector(".alert-status")?.innerText ?? "",
    thumb: img ? img.getAttribute("src") : null,
    thumbLoaded: Boolean(img && img.complete && img.naturalWidth > 0),
    bar: getComputedStyle(li.querySelector(".sevbar")).backgroundColor,
    leaving: li.classList.contains("leaving"),
  };
}
return null;
"""

os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")


def available() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} missing: apt-get install -y chromium chromium-driver"
    return None


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes still running after ``timeout`` (psutil.wait_procs polls far more slowly
    than Chromium takes to exit, which cost a second per browser)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _running(p)]
    return alive


class Browser:
    """One browser session (its own profile, cookies and localStorage)."""

    def __init__(
        self,
        base_url: str,
        profile: Path,
        *,
        width: int = 1400,
        height: int = 900,
        autoplay: bool = False,
    ) -> None:
        """``autoplay``: start like a kiosk browser that may play sound without a click."""
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
            "--autoplay-policy="
            + ("no-user-gesture-required" if autoplay else "user-gesture-required"),
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
            alive = _wait_gone(list(tree.values()), 5.0)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            _wait_gone(alive, 5.0)

    # -- helpers the tests use --

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait(self, predicate: Any, timeout: float = 10.0, what: str = "") -> Any:
        redrawn = (StaleElementReferenceException, NoSuchElementException)
        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.05, ignored_exceptions=redrawn)
        return wait.until(predicate, what)

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
        self.wait(lambda d: self.view(), what="a view")

    def use_session(self, token: str, path: str = "/console/") -> None:
        """Arrive signed in with a session another login issued (the cookie the API sets), so
        tests that are not about the login form skip its password hashing."""
        self.open("/console/login.html")
        self.driver.add_cookie(
            {
                "name": "kendali_session",
                "value": token,
                "path": "/",
                "httpOnly": True,
                "sameSite": "Strict",
            }
        )
        self.open(path)
        self.wait(lambda d: self.view(), what="a view")

    def severe_logs(self) -> list[str]:
        """Console errors (CSP violations, exceptions) the page produced since the last call."""
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def unexpected_errors(self, *also: str) -> list[str]:
        """Console errors other than the answers the console expects (401 for the session
        check, 404 for a camera without a stored picture yet, and ``also``); a CSP violation
        or an exception in one of our modules would show up here."""
        expected = ("status of 401", "snapshot.jpg", *also)
        return [m for m in self.severe_logs() if not any(e in m for e in expected)]

    def view(self) -> str | None:
        return self.driver.execute_script("return document.body.dataset.view || null")

    def wait_live(self, timeout: float = 10.0) -> None:
        """Until the page's EventSource is open (alerts from now on arrive live)."""
        self.wait(
            lambda d: d.execute_script("return document.body.dataset.stream") == "live",
            timeout,
            "the live stream",
        )

    def card(self, device: str, type_: str) -> dict[str, Any] | None:
        """What the feed shows for one (device, type), read in one go in the page (the list is
        redrawn as the stream delivers, so element handles go stale): id, status, severity,
        whether its thumbnail has loaded, its severity bar's colour, its texts."""
        return self.driver.execute_script(CARD_JS, device, type_)  # type: ignore[no-any-return]

    def click(self, css: str, timeout: float = 5.0) -> None:
        """Click the element ``css`` names, finding it again if a redraw replaced it."""

        def attempt(d: Any) -> bool:
            try:
                d.find_element(By.CSS_SELECTOR, css).click()
            except (StaleElementReferenceException, NoSuchElementException):
                return False
            return True

        self.wait(attempt, timeout, f"click {css}")

    def screenshot(self, directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
