"""The reminder policy in Chromium: the patient's channel and digest choices, the digest email on a
phone, and a missed critical step on the coordinator's roster and patient page. axe-core checks
each screen.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.models import Organization
from prepapp.reminders import escalation
from prepapp.reminders.channels import Outgoing
from prepapp.reminders.channels.email import EmailTransport
from prepapp.reminders.compose import compose
from prepapp.reminders.models import DIGEST_RULE, Alert, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today
from .a11y import assert_no_axe_violations
from .conftest import PHONE, screenshot
from .test_coordinator import sign_in
from .test_patient_app import enrol, phone_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def rosa(riverside, carol, protocol_version):
    return enrol(riverside, carol, protocol_version, name="Rosa Alvarez", smoker=True, takes_nsaids=True)


def test_the_patient_chooses_push_then_email_or_both_and_a_digest_or_one_per_step(phone, rosa):
    page = phone.new_page()
    page.goto(f"/join/#{rosa.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    page.goto("/settings/")
    expect(page.locator("h1")).to_have_text("Settings")
    policy = page.get_by_role("group", name="Notifications and email")
    fallback = policy.get_by_label("Notifications, and email only when a notification did not reach me")
    both = policy.get_by_label("Both notifications and email")
    expect(fallback).to_be_checked()  # the default
    expect(page.get_by_label("One message a day with everything that is due")).to_be_checked()
    assert_no_axe_violations(page, "settings with the reminder choices")
    both.check()
    page.get_by_label("One message for each step").check()
    page.get_by_role("button", name="Save my settings").click()
    expect(page.get_by_text("Your settings have been saved.")).to_be_visible()
    rosa.refresh_from_db()
    assert (rosa.channel_policy, rosa.reminder_style) == ("both", "per_step")
    # The plan follows: email beside push, one row per step, no digests left pending.
    pending = Reminder.objects.filter(patient=rosa, status="pending")
    assert pending.filter(channel="email").exists()
    assert not pending.filter(rule=DIGEST_RULE).exists()
    page.reload()
    expect(page.get_by_label("Both notifications and email")).to_be_checked()
    expect(page.get_by_label("One message for each step")).to_be_checked()
    page.get_by_label("Notifications, and email only when a notification did not reach me").check()
    page.get_by_label("One message a day with everything that is due").check()
    page.get_by_role("button", name="Save my settings").click()
    expect(page.get_by_text("Your settings have been saved.")).to_be_visible()
    rosa.refresh_from_db()
    assert (rosa.channel_policy, rosa.reminder_style) == ("push_then_email", "digest")
    page.locator("#f-channel_policy").scroll_into_view_if_needed()
    phone_screenshot(page, "patient-settings-reminder-choices")


def test_the_digest_email_reads_well_on_a_phone(browser, rosa, settings):
    settings.SITE_URL = "https://prep.example.org"
    today = rosa.local_today()
    # A day with a step overdue, one due, and one opening: take the first digest day and
    # make one step overdue so every section shows.
    Task.objects.filter(checklist__case__patient=rosa, definition__key="stop-smoking").update(
        due_date=today - timedelta(days=2), window_start=None
    )
    day = min(Reminder.objects.filter(patient=rosa, rule=DIGEST_RULE).values_list("anchor_date", flat=True))
    row = Reminder(id=424242, patient=rosa, task=None, rule=DIGEST_RULE, channel="email", anchor_date=day,
                   send_at=timezone.now())
    email = EmailTransport().build(Outgoing(row, compose(row)))
    html = next(content for content, kind in email.alternatives if kind == "text/html")
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        page.set_content(html)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Your preparation")
        expect(page.get_by_role("heading", name="Not done yet")).to_be_visible()
        link = page.get_by_role("link", name="Stop smoking")
        href = link.first.get_attribute("href")
        task = Task.objects.get(checklist__case__patient=rosa, definition__key="stop-smoking")
        assert href.startswith("https://prep.example.org/r/") and href.endswith(f"?to={task.id}")
        # Nothing is wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "digest-email")
    finally:
        context.close()


def test_a_missed_critical_step_on_the_roster_and_acknowledged_on_the_patient_page(desk, carol, riverside, protocol_version):
    Organization.objects.filter(pk=riverside.pk).update(time_zone="America/New_York")
    walter = patient_enrol(organization=riverside, full_name="Walter Brooks", contact_email="walter@example.org",
                           time_zone="America/Chicago", on_blood_thinners=True, takes_nsaids=False)
    # (With NSAIDs not known yet, the NSAID stop would be on his list and overdue too.)
    # Five days before surgery: the blood-thinner plan was due nine days ago.
    case = case_book(patient=walter, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(5))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    maria = patient_enrol(organization=riverside, full_name="Maria Lopez", time_zone="America/New_York")
    case_book(patient=maria, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(40))
    [alert] = escalation.raise_alerts()
    assert alert.patient_id == walter.id and alert.task.definition.key == "blood-thinner-plan"

    page = desk.new_page()
    sign_in(page)
    row = page.locator("table.roster tbody tr").filter(has=page.get_by_role("link", name="Walter Brooks"))
    expect(row.locator("[data-cell=alerts]")).to_have_text("1 alert")
    expect(page.get_by_text("patient with an open alert")).to_be_visible()
    assert_no_axe_violations(page, "the roster with an alert")
    screenshot(page, "coordinator-roster-alerts")

    row.locator("[data-cell=alerts]").click()
    alerts = page.locator("#alerts")
    expect(alerts.get_by_text("Get a written plan for your blood thinner")).to_be_visible()
    assert_no_axe_violations(page, "the patient's page with an alert")
    alerts.get_by_role("button", name="Acknowledge").click()
    expect(alerts.get_by_role("alert")).to_contain_text("Say what was done")
    alerts.get_by_label("What did you do?").fill("Called Walter: his cardiologist sends the plan today.")
    alerts.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#alerts")).to_contain_text("Acknowledged by carol")
    alert.refresh_from_db()
    assert alert.acknowledged_by == carol and not Alert.objects.filter(acknowledged_at__isnull=True).exists()
