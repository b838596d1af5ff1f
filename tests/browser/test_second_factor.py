"""A clinical lead's first sign-in on a phone: the password, setting up the authenticator app, the
recovery codes, and the code step the next time (here with a recovery code), in English and
Spanish; and a lead resetting a teammate's second factor.

The app's codes are computed as the phone would, with django-otp's TOTP, from the key the page
shows as text. axe-core checks every screen.
"""

import base64
import re

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from prepapp.models import StaffMembership

from ..factories import StaffFactory, UserFactory
from ..support.second_factor import code_for, give_second_factor
from .a11y import assert_no_axe_violations
from .conftest import PHONE, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' password


@pytest.fixture
def lena(riverside):
    return StaffFactory(
        user=UserFactory(username="lena"), organization=riverside, role=StaffMembership.Role.CLINICAL_LEAD
    ).user


def password_step(page, username="lena"):
    page.goto("/coordinator/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_lead_sets_up_her_second_factor_and_signs_in_with_it(phone, lena):
    page = phone.new_page()
    password_step(page)
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    assert_no_axe_violations(page, "setting up the second factor")
    screenshot(page, "coordinator-second-factor-setup")

    # A wrong code is named, and nothing is signed in.
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("This code is not valid")

    key = page.locator("#secret-key").inner_text().replace(" ", "")
    code = f"{TOTP(base64.b32decode(key + '=' * (-len(key) % 8))).token():06d}"
    page.get_by_label("Code from the app").fill(code)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", c) for c in codes)
    assert_no_axe_violations(page, "the recovery codes")
    screenshot(page, "coordinator-second-factor-recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.get_by_role("heading", name="Roster", level=1)).to_be_visible()

    # Next time, after the password: the code step. No phone at hand: a recovery code.
    phone.clear_cookies()
    again = phone.new_page()
    password_step(again)
    expect(again.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert_no_axe_violations(again, "the code step")
    screenshot(again, "coordinator-second-factor-code")
    again.get_by_label("Code").fill(codes[0])
    again.get_by_role("button", name="Sign in").click()
    expect(again.get_by_role("heading", name="Roster", level=1)).to_be_visible()


def test_the_code_step_speaks_spanish(browser, live_server, lena):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  base_url=live_server.url, locale="es-ES")
    page = context.new_page()
    page.goto("/coordinator/")
    page.locator("input[name=username]").fill("lena")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name="Configure su segundo factor")).to_be_visible()
    expect(page.get_by_text("Escriba el código de 6 cifras que muestra ahora la aplicación:")).to_be_visible()
    screenshot(page, "coordinator-second-factor-setup-es")
    context.close()


def test_a_lead_resets_a_teammates_second_factor(desk, lee, carol):
    give_second_factor(carol)
    page = desk.new_page()
    password_step(page, "lee")
    page.get_by_label("Code").fill(code_for(TOTPDevice.objects.get(user=lee)))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Care team").click()
    expect(page.get_by_role("heading", name="Care team", level=1)).to_be_visible()
    assert_no_axe_violations(page, "the care team")
    page.get_by_role("button", name="Reset carol's second factor").click()
    expect(page.get_by_role("status")).to_contain_text("carol's second factor was removed")
    expect(page.get_by_role("row").filter(has_text="carol")).to_contain_text("Not used")
    screenshot(page, "coordinator-team-second-factor-reset")
    assert not TOTPDevice.objects.filter(user=carol).exists()
