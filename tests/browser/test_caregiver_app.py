"""A caregiver in Chromium at a phone's size: invited by the patient, signed in with her own link.

Ana, Rosa's daughter, opens the link from her invitation email (a real SMTP server on
loopback), sees Rosa's plan and ticks a step off; Rosa's phone then shows who ticked it.
Once Rosa revokes her, Ana's next visit finds her signed out.
"""


import pytest
from django.test import Client
from playwright.sync_api import expect

from prepapp.caregivers import caregiver_invite, caregiver_revoke
from prepapp.models import CaregiverSettings
from prepapp.reminders.models import FamilyMessage

from .a11y import assert_no_axe_violations
from .conftest import screenshot
from .sign_in_mail import link_in_mail

pytestmark = pytest.mark.browser


def test_a_caregiver_follows_the_plan_and_ticks_a_step_off(phone, rosa, live_server, settings, email_to_sink):
    settings.SITE_URL = live_server.url
    link = caregiver_invite(patient=rosa, invited_by=rosa.user, name="Ana", relationship="daughter",
                            email="ana@example.org", access="see_and_tick")
    page = phone.new_page()
    page.goto(link_in_mail(email_to_sink))
    expect(page.locator(".following-who")).to_contain_text("You are following Rosa Alvarez's plan, as their daughter.")
    # Rosa's surgery, never "your surgery": the screens speak of the patient by name.
    expect(page.locator("h1")).to_contain_text("days to Rosa's surgery")
    assert "your surgery" not in page.locator("main").inner_text().lower()
    assert page.url == f"{live_server.url}/"  # the token left the address bar
    # Her Messages and Settings tabs open her own, not Rosa's.
    expect(page.locator('.tabs a[data-route="settings"]')).to_be_visible()
    assert_no_axe_violations(page, "a caregiver's home screen")
    screenshot(page, "caregiver-home")

    page.locator("a.task").first.click()
    page.get_by_role("button", name="Mark as done").click()
    expect(page.locator(".ticked-by")).to_have_text("Ticked off by Ana (daughter)")
    screenshot(page, "caregiver-step-ticked")
    task_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    # Rosa's phone says who ticked it.
    rosa_phone = Client()
    rosa_phone.force_login(rosa.user)
    assert rosa_phone.get(f"/api/v1/me/tasks/{task_id}/").json()["ticked_off_by"] == "Ana (daughter)"

    # Revoked: her next visit finds her signed out.
    caregiver_revoke(link=link, revoked_by=rosa.user)
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Welcome")


def test_the_patient_invites_and_stops_sharing_from_settings(phone, rosa, live_server, settings, email_to_sink):
    settings.SITE_URL = live_server.url
    page = phone.new_page()
    page.goto(f"/join/#{rosa.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    page.goto("/settings/")
    card = page.locator("#caregivers")
    expect(card).to_contain_text("Nobody follows your plan yet.")
    card.get_by_label("Their name").fill("Ana")
    card.get_by_label("Who they are to you (for example, daughter)").fill("daughter")
    card.get_by_label("Their own email address").fill("rosa@example.org")
    card.get_by_role("button", name="Send the invitation").click()
    # Her own address is refused, by name of the field.
    expect(page.locator("#cg-email-error")).to_contain_text("a caregiver needs an address of their own")
    card.get_by_label("Their own email address").fill("ana@example.org")
    card.get_by_label("They may also tick off steps for me").check()
    card.get_by_role("button", name="Send the invitation").click()
    expect(card.get_by_role("status")).to_have_text("An invitation is on its way to ana@example.org.")
    expect(card).to_contain_text("Ana (daughter)")
    expect(card).to_contain_text("Can see and tick off steps")
    assert "/signin/#" in link_in_mail(email_to_sink)  # Ana's own link is in her inbox
    assert_no_axe_violations(page, "the patient's caregivers in settings")
    screenshot(page, "patient-settings-caregivers")

    card.get_by_role("button", name="Stop sharing with Ana").click()
    expect(card.get_by_role("status")).to_have_text("Ana can no longer see your plan.")
    expect(card).to_contain_text("Nobody follows your plan yet.")


def test_a_caregiver_sets_her_own_reminders_reads_her_messages_and_follows_offline(
    phone, rosa, live_server, settings, email_to_sink
):
    settings.SITE_URL = live_server.url
    link = caregiver_invite(patient=rosa, invited_by=rosa.user, name="Ana", relationship="daughter",
                            email="ana@example.org", access="see_and_tick")
    FamilyMessage.objects.create(caregiver=link, title="Rosa's surgery is tomorrow, Tuesday 8 December",
                                 body="Rosa should arrive at 6:30.\nRosa may not drive home after the operation.")
    page = phone.new_page()
    page.goto(link_in_mail(email_to_sink))
    expect(page.locator(".following-who")).to_be_visible()

    # About Rosa's surgery, from the countdown card.
    page.locator("#about-surgery").click()
    expect(page.locator("h1")).to_have_text("About Rosa's surgery")
    page.goto("/")

    # Her messages: what she was told about Rosa.
    page.locator('.tabs a[data-route="inbox"]').click()
    expect(page.locator(".messages")).to_contain_text("Rosa's surgery is tomorrow")
    assert_no_axe_violations(page, "a caregiver's messages")
    screenshot(page, "caregiver-messages")

    # Her settings: her own hours, channels and language.
    page.locator('.tabs a[data-route="settings"]').click()
    expect(page.get_by_role("heading", name="Your messages")).to_be_visible()
    page.get_by_label("Reminder time").fill("07:30")
    page.get_by_label("By email").uncheck()
    assert_no_axe_violations(page, "a caregiver's settings")
    screenshot(page, "caregiver-settings")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".save-status")).to_have_text("Saved.")
    own = CaregiverSettings.objects.get(user=link.caregiver)
    assert (own.reminder_time.strftime("%H:%M"), own.email_enabled) == ("07:30", False)
    rosa.refresh_from_db()
    assert rosa.email_enabled and rosa.reminder_time.strftime("%H:%M") != "07:30"  # Rosa's own are hers

    # Offline after a first visit: Rosa's plan and When to call still open; a tick is not kept.
    page.goto("/")
    expect(page.locator("h1")).to_contain_text("days to Rosa's surgery")
    page.goto("/when-to-call/")
    expect(page.locator("h1")).to_have_text("When to call")
    page.goto("/")
    expect(page.locator("a.task").first).to_be_visible()
    phone.set_offline(True)
    page.goto("/")
    expect(page.locator("h1")).to_contain_text("days to Rosa's surgery")
    expect(page.locator(".following-who")).to_contain_text("offline, a tick is not saved")
    expect(page.locator("#offline .for-caregiver")).to_have_text(
        "You are offline. You can still read the plan, but a tick is not saved until you are back online.")
    expect(page.locator("#offline .for-patient")).to_be_hidden()
    page.goto("/when-to-call/")
    expect(page.locator("h1")).to_have_text("When to call")
    page.goto("/")
    page.locator("a.task").first.click()
    page.get_by_role("button", name="Mark as done").click()
    expect(page.locator("#problem")).to_contain_text("Your tick was not saved and will not be sent later")
    screenshot(page, "caregiver-offline-tick")
    # Nothing waits on her phone to be sent later (the patient's app keeps offline ticks here).
    assert page.evaluate("() => JSON.parse(localStorage.getItem('prep.outbox.v1') || '[]').length") == 0
    phone.set_offline(False)
