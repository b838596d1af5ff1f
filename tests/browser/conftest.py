"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Chromium is required: a missing browser fails these tests, it never skips them.
"""

import os
import tempfile
import threading
from pathlib import Path

import pytest
from django.core.signals import request_finished, request_started
from playwright.sync_api import expect

from .sign_in_mail import rosa  # noqa: E402,F401 (a fixture: Rosa, 30 days before surgery)

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous, so Django's async guard is lifted here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# The suite shares two cores with worker processes and a database: give a screen up to 15 s
# (instead of 5) to show what a test expects. The assertions themselves are unchanged.
expect.set_options(timeout=15_000)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}


class BrowserLettingTestScriptsIn:
    """Chromium, whose new contexts let Playwright's own page scripts past the app's CSP.

    The Content-Security-Policy runs no inline script and no eval, and Playwright's helpers
    are just that: `add_script_tag` (how axe-core gets into a page) adds an inline script, and
    `wait_for_function` polls with eval. So contexts bypass the policy unless a test asks for
    it with bypass_csp=False, as test_csp.py does to open every page under the real policy.
    """

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **options):
        options.setdefault("bypass_csp", True)
        return self._browser.new_context(**options)

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield BrowserLettingTestScriptsIn(browser)
        browser.close()


class RequestsInFlight:
    """How many requests the live server is answering, so a test ends only once they are done.

    A context closed by the browser leaves the server's threads finishing what it had asked;
    one still holding its locks when Django empties the tables makes the TRUNCATE fail (or
    deadlock), and one finishing afterwards touches a database the test no longer has.
    """

    def __init__(self):
        self._count = 0
        self._settled = threading.Condition()

    # The test's own Django test client answers in the test's thread: only the server's count.
    def started(self, **kwargs):
        if threading.current_thread() is threading.main_thread():
            return
        with self._settled:
            self._count += 1

    def finished(self, **kwargs):
        if threading.current_thread() is threading.main_thread():
            return
        with self._settled:
            self._count = max(0, self._count - 1)
            self._settled.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._settled:
            return self._settled.wait_for(lambda: self._count == 0, timeout=timeout)


IN_FLIGHT = RequestsInFlight()
request_started.connect(IN_FLIGHT.started, dispatch_uid="tests.browser.in_flight_started")
request_finished.connect(IN_FLIGHT.finished, dispatch_uid="tests.browser.in_flight_finished")


@pytest.fixture(autouse=True)
def _live_server_settles(live_server, transactional_db):
    """Set up before the browser contexts and torn down after them, before the tables are emptied."""
    yield
    assert IN_FLIGHT.wait(timeout=30), "the live server was still answering requests 30 s after the test"


@pytest.fixture
def phone(browser, live_server):
    """A fresh phone-sized browser context pointed at the live server."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=live_server.url
    )
    yield context
    context.close()


@pytest.fixture
def desk(browser, live_server):
    """A desktop-sized browser context for the coordinator pages."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    yield context
    context.close()


def screenshot(page, name: str):
    """Save a screenshot: into docs/screenshots with UPDATE_SCREENSHOTS=1, else to a scratch folder.

    Every run takes them (a page that fails to render fails the test); only a deliberate
    run replaces the committed pictures, so an ordinary test run leaves the tree clean.
    """
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        folder = SCREENSHOTS
    else:
        folder = Path(tempfile.gettempdir()) / "prepapp-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
