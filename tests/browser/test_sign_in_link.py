"""Sign-in that cannot be reused, in Chromium against the live server and the real API.

A patient on a new phone asks for a sign-in link by email (a real SMTP server on loopback),
opens it and is signed in, once; a coordinator issues a fresh invitation code, shown once,
and signs out everywhere.
"""

import re

import pytest
from playwright.sync_api import expect

from prepapp.models import invitation_code_digest

from .a11y import assert_no_axe_violations
from .sign_in_mail import link_in_mail

pytestmark = pytest.mark.browser


def test_a_sign_in_link_by_email_signs_in_once(phone, browser, rosa, live_server, settings, email_to_sink):
    settings.SITE_URL = live_server.url
    page = phone.new_page()
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Welcome")
    page.get_by_label("Your email address").fill("nobody")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.locator("#email-error")).to_have_text("Please enter a valid email address.")

    page.get_by_label("Your email address").fill("rosa@example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("status").filter(has_text="a sign-in link is on its way")).to_contain_text(
        "Open it on this phone within 15 minutes."
    )
    assert_no_axe_violations(page, "the sign-in screen with a link on its way")

    link = link_in_mail(email_to_sink)
    page.goto(link)
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    assert page.url == f"{live_server.url}/"  # the token left the address bar

    # The same link on another device: spent.
    other = browser.new_context(base_url=live_server.url)
    try:
        second = other.new_page()
        second.goto(link)
        expect(second.locator("#email-error")).to_have_text(
            "This sign-in link has expired or has already been used. You can ask for a new one here."
        )
        expect(second.get_by_label("Your email address")).to_be_focused()
        assert second.url == f"{live_server.url}/"
    finally:
        other.close()

    # Signing out on all devices ends this phone's session too.
    page.goto("/settings/")
    page.get_by_role("button", name="Sign out on all my devices").click()
    expect(page.locator("h1")).to_have_text("Welcome")
    assert page.request.get("/api/v1/me/").status in (401, 403)


def test_a_coordinator_issues_a_fresh_code_and_signs_out_everywhere(
    desk, browser, live_server, carol, pat, pat_checklist
):
    page = desk.new_page()
    page.goto("/coordinator/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Roster", level=1)).to_be_visible()

    page.goto(f"/coordinator/patients/{pat.pk}/")
    expect(page.locator("[data-invitation-state]")).to_contain_text("Issued, not used yet")
    expect(page.locator("[data-issued-invitation]")).to_be_hidden()
    assert pat.invitation_code not in page.content()
    page.get_by_role("button", name="Issue a new invitation code").click()
    shown = page.locator("[data-issued-invitation] [data-invitation-code]")
    expect(shown).to_have_text(re.compile(r"^[A-Z2-9]{8}$"))
    code = shown.text_content()
    pat.refresh_from_db()
    assert invitation_code_digest(code) == pat.invitation_code_hash != invitation_code_digest(pat.invitation_code)
    expect(page.locator("[data-issued-invitation] [data-join-link]")).to_have_attribute(
        "href", f"{live_server.url}/join/#{code}"
    )
    assert_no_axe_violations(page, "the patient page with a fresh code")
    # Once: the page opened again does not show it.
    page.reload()
    assert code not in page.content()

    # The code signs the patient in on a phone, from the join link.
    phone = browser.new_context(base_url=live_server.url)
    try:
        app = phone.new_page()
        # An older email's link, its code in the path (and so in a server's log), is not redeemed.
        app.goto(f"/join/{code}/")
        expect(app.locator("#code-error")).to_contain_text("This link is from an older email")
        assert app.url == f"{live_server.url}/" and app.locator("#code").input_value() == ""
        pat.refresh_from_db()
        assert pat.invitation_accepted_at is None
        # The emailed link carries it after "#": the page posts it, and it leaves the address bar.
        app.goto(f"/join/#{code}")
        expect(app.locator("h1")).to_contain_text("days to your surgery")
        assert code not in app.url
    finally:
        phone.close()

    # Sign out everywhere: this desk and any other session of carol's end.
    other = browser.new_context(base_url=live_server.url)
    try:
        second = other.new_page()
        second.goto("/coordinator/")
        second.get_by_label("Username").fill("carol")
        second.get_by_label("Password").fill("correct horse battery")
        second.get_by_role("button", name="Sign in").click()
        expect(second.get_by_role("heading", name="Roster", level=1)).to_be_visible()

        page.get_by_role("button", name="Sign out everywhere").click()
        expect(page).to_have_url(re.compile(r"/coordinator/login/"))
        second.goto("/coordinator/")
        assert "/coordinator/login/" in second.url
    finally:
        other.close()
