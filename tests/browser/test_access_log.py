"""The patient's "Who has looked at my record" screen in Chromium, reached from the settings screen."""

import pytest
from playwright.sync_api import expect

from prepapp.audit import audit_record

from .a11y import assert_no_axe_violations
from .conftest import screenshot

pytestmark = pytest.mark.browser


def test_the_access_log_screen(phone, pat, pat_checklist, paul, carol, lee):
    carol.first_name, carol.last_name = "Carol", "Nguyen"
    carol.save()
    audit_record(actor=carol, patients=[pat], action="read", ip="198.51.100.23")
    audit_record(actor=lee, patients=[paul], action="admin-read")
    page = phone.new_page()

    page.goto(f"/join/#{pat.invitation_code}")  # `pat` as enrolled: the code is on this instance only
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    page.locator(".tabs a[data-route=settings]").click()
    expect(page.locator("h1")).to_have_text("Settings")
    page.get_by_role("link", name="Who has looked at my record").click()

    expect(page.locator("h1")).to_have_text("Who has looked at my record")
    entries = page.locator("#access-log li")
    expect(entries).to_have_count(1)  # Pat's, not Paul's
    expect(entries.first).to_contain_text("Carol Nguyen")
    expect(entries.first).to_contain_text("Care coordinator, Riverside Spine Center")
    expect(entries.first).to_contain_text("Opened your record")
    expect(page.locator("main")).not_to_contain_text("198.51.100.23")
    expect(page.locator(".tabs a[data-route=settings]")).to_have_attribute("aria-current", "page")
    assert_no_axe_violations(page, "access log")
    screenshot(page, "patient-access-log")

    # The screen has its own address: a reload (or a shared link) lands on it again.
    page.reload()
    expect(page.locator("h1")).to_have_text("Who has looked at my record")
    page.locator(".back a").click()
    expect(page.locator("h1")).to_have_text("Settings")
