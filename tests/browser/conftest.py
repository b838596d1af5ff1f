"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Chromium is required: a missing browser fails these tests, it never skips them.
"""

import os
import tempfile
from pathlib import Path

import pytest
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
