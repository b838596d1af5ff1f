"""Notifications on this phone: one control in the settings whose words are always true.

Each state in Chromium on a phone, against the live server: no key on the server, an iPhone
in Safari (not added to the Home Screen), blocked in the browser (with how to unblock it, for
that platform only), a browser whose push service refuses, and on and off. axe-core checks
each; the screenshots go to docs/screenshots/patient-push-*.png.
"""

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from prepapp.reminders.models import PushSubscription

from .a11y import assert_no_axe_violations
from .conftest import PHONE, SCREENSHOTS
from .test_patient_app import enrol, vapid_public_key, wait_for_worker

pytestmark = pytest.mark.browser

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
OTHER_CHANNELS = "You will still get reminders by email and in this app."
IPHONE_ADVICE = "“Add to Home Screen”"


@pytest.fixture
def rosa(riverside, carol, protocol_version):
    return enrol(riverside, carol, protocol_version, name="Rosa Alvarez")


@pytest.fixture
def server_key(settings):
    """Web Push set up on the server (a key made for this run; nothing is sent in these tests)."""
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_public_key(), "set"


def phone_context(browser, live_server, user_agent=None):
    options = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
               "base_url": live_server.url}
    if user_agent:
        options["user_agent"] = user_agent
    return browser.new_context(**options)


def open_settings(page, patient, *, worker=False):
    page.goto(f"/join/#{patient.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    if worker:
        wait_for_worker(page)
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("h1")).to_have_text("Settings")
    control = page.locator("section#push")
    expect(control).to_have_attribute("data-push-state", re.compile(r".+"))
    return control


def state_of(control, state):
    expect(control).to_have_attribute("data-push-state", state)


def push_screenshot(page, name: str):
    """The phone's screen with the control in view (docs/screenshots with UPDATE_SCREENSHOTS=1)."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else Path(tempfile.gettempdir()) / "prepapp-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.locator("section#push").evaluate("node => { node.scrollIntoView({block: 'start'}); window.scrollBy(0, -12); }")
    page.screenshot(path=str(folder / f"{name}.png"))


def test_without_a_key_on_the_server_it_says_notifications_are_not_available(phone, rosa, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    control = open_settings(page, rosa)
    state_of(control, "unavailable")
    expect(control.locator(".push-status")).to_have_text("Notifications are not available on this service yet.")
    expect(control.locator(".push-channels")).to_have_text(OTHER_CHANNELS)
    expect(control.get_by_role("button")).to_have_count(0)
    # No second, contradicting switch: the form has no "notifications" box any more.
    expect(page.get_by_role("checkbox", name="Notifications on this phone")).to_have_count(0)
    expect(page.get_by_text(IPHONE_ADVICE)).to_have_count(0)
    assert_no_axe_violations(page, "settings, notifications not available")
    push_screenshot(page, "patient-push-unavailable")


def test_on_an_iphone_in_safari_it_asks_for_the_home_screen_first(browser, live_server, rosa, server_key):
    context = phone_context(browser, live_server, IPHONE)
    try:
        page = context.new_page()
        control = open_settings(page, rosa)
        state_of(control, "ios-home-screen")
        expect(control.locator(".push-status")).to_contain_text("after you add this app to your Home Screen")
        expect(control.locator(".push-advice")).to_contain_text(IPHONE_ADVICE)
        expect(control.locator(".push-channels")).to_have_text(OTHER_CHANNELS)
        expect(control.get_by_role("button")).to_have_count(0)
        assert_no_axe_violations(page, "settings on an iPhone in Safari")
        push_screenshot(page, "patient-push-iphone")
    finally:
        context.close()


def test_blocked_on_android_it_says_how_to_unblock_there(browser, live_server, rosa, server_key):
    context = phone_context(browser, live_server, ANDROID)
    try:
        page = context.new_page()
        control = open_settings(page, rosa, worker=True)
        state_of(control, "off")
        # Nothing granted in this browser: asking is answered "blocked", as when the patient taps Block.
        control.get_by_role("button", name="Turn on notifications").click()
        state_of(control, "denied")
        expect(control.locator(".push-status")).to_have_text(
            "Notifications are blocked for this app in your browser's settings."
        )
        expect(control.get_by_role("alert")).to_contain_text("Notifications were blocked")
        expect(control.get_by_role("alert")).to_contain_text(OTHER_CHANNELS)
        expect(control.locator(".push-advice")).to_contain_text("“App info”")
        expect(page.get_by_text(IPHONE_ADVICE)).to_have_count(0)
        expect(control.get_by_role("button")).to_have_count(0)
        assert not rosa.push_subscriptions.exists()
        assert_no_axe_violations(page, "settings, notifications blocked on Android")
        push_screenshot(page, "patient-push-blocked")
    finally:
        context.close()


def test_blocked_before_the_screen_opens_on_a_computer(browser, live_server, rosa, server_key):
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/")
        session = browser.new_browser_cdp_session()
        targets = session.send("Target.getTargets")["targetInfos"]
        # The page's own target (the service worker, registered once the first screen is drawn, has one too).
        context_id = next(t["browserContextId"] for t in targets if t["type"] == "page" and t["url"].startswith(live_server.url))
        session.send("Browser.setPermission", {
            "permission": {"name": "notifications"}, "setting": "denied", "origin": live_server.url,
            "browserContextId": context_id,
        })
        control = open_settings(page, rosa)
        state_of(control, "denied")
        expect(control.locator(".push-advice")).to_contain_text("click the icon at the left of the web address")
        expect(control.locator(".push-channels")).to_have_text(OTHER_CHANNELS)
        expect(page.get_by_text("App info")).to_have_count(0)
        expect(page.get_by_text(IPHONE_ADVICE)).to_have_count(0)
    finally:
        context.close()


def test_when_the_browser_refuses_it_says_why_and_what_still_works(phone, rosa, server_key):
    """This headless Chromium has no push service: subscribing fails as it does without one on a phone."""
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    control = open_settings(page, rosa, worker=True)
    state_of(control, "off")
    expect(control.locator(".push-status")).to_have_text("Notifications are off for this phone.")
    control.get_by_role("button", name="Turn on notifications").click()
    alert = control.get_by_role("alert")
    expect(alert).to_contain_text("could not register with its notification service")
    expect(alert).to_contain_text("trying again will not help until that changes")
    expect(alert).to_contain_text(OTHER_CHANNELS)
    expect(page.get_by_text("Please try again.")).to_have_count(0)
    state_of(control, "off")
    expect(page.get_by_text(IPHONE_ADVICE)).to_have_count(0)
    assert not rosa.push_subscriptions.exists()
    assert_no_axe_violations(page, "settings after the browser refused")
    push_screenshot(page, "patient-push-failed")


# A browser whose push service answers: the page's PushManager hands out the subscription of a
# stand-in browser of the test's push service (kept in localStorage, as a browser keeps its own).
FAKE_PUSH_MANAGER = """
(() => {
  const json = %s;
  const KEY = "test.fake-push-subscription";
  const make = () => ({
    endpoint: json.endpoint, expirationTime: null, options: {},
    toJSON: () => json,
    unsubscribe: async () => { localStorage.removeItem(KEY); return true; },
  });
  PushManager.prototype.subscribe = async function () { localStorage.setItem(KEY, "1"); return make(); };
  PushManager.prototype.getSubscription = async function () { return localStorage.getItem(KEY) ? make() : null; };
})();
"""


def test_turning_notifications_on_and_off(phone, rosa, push_configured):
    rosa.push_enabled = False  # the patient had them off everywhere: turning them on here turns them on
    rosa.save(update_fields=["push_enabled"])
    stand_in = push_configured.browser("rosa-phone")
    phone.grant_permissions(["notifications"])
    phone.add_init_script(FAKE_PUSH_MANAGER % json.dumps(stand_in.subscription_json()))
    page = phone.new_page()
    control = open_settings(page, rosa, worker=True)
    state_of(control, "off")
    assert_no_axe_violations(page, "settings, notifications off")
    push_screenshot(page, "patient-push-off")

    control.get_by_role("button", name="Turn on notifications").click()
    state_of(control, "on")
    expect(control.locator(".push-status")).to_have_text("Notifications are on for this phone.")
    expect(control.get_by_role("alert")).to_have_count(0)
    subscription = PushSubscription.objects.get(patient=rosa)
    assert subscription.endpoint == stand_in.endpoint
    rosa.refresh_from_db()
    assert rosa.push_enabled is True
    assert_no_axe_violations(page, "settings, notifications on")
    push_screenshot(page, "patient-push-on")

    # Still on after a reload: the state is read from the phone and the server, not remembered.
    page.reload()
    state_of(page.locator("section#push"), "on")

    page.locator("section#push").get_by_role("button", name="Turn off notifications").click()
    state_of(page.locator("section#push"), "off")
    assert not PushSubscription.objects.filter(patient=rosa).exists()
