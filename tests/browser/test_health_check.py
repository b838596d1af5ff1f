"""Tailoring in Chromium: the patient's health check on a phone, and the coordinator's health facts.

Lucía was enrolled with nothing known about her health: the steps that depend on it are on
her list, each with its "If you …:" line, and the home screen asks her to answer the health
check. She answers; her list changes at once, the screen says how, and her inbox keeps a
message about it. Offline she can still read her answers, and is told that saving needs a
connection. Carol, at her desk, sets a fact on a patient's page and sees the checklist follow.
"""

import re

import pytest
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.models import Patient
from prepapp.reminders.models import InboxMessage
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .conftest import screenshot
from .test_coordinator import sign_in
from .test_patient_app import phone_screenshot, wait_for_worker

pytestmark = pytest.mark.browser


def keys(patient) -> set[str]:
    return set(Task.objects.filter(checklist__case__patient=patient).values_list("definition__key", flat=True))


@pytest.fixture
def lucia(riverside, carol, protocol_version):
    patient = patient_enrol(
        organization=riverside, full_name="Lucía Reyes", contact_email="lucia@example.org",
        time_zone="America/New_York",
    )
    case = case_book(patient=patient, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return patient


def test_the_health_check_on_a_phone(phone, lucia):
    page = phone.new_page()
    page.goto(f"/join/#{lucia.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")

    # Nothing is known yet: the steps that depend on it carry their condition, and a card asks.
    smoking = page.locator(".task", has_text="Stop smoking and all nicotine")
    expect(smoking.locator(".conditional")).to_have_text("If you smoke or use nicotine:")
    prompt = page.locator(".health-check-prompt")
    expect(prompt.get_by_role("heading", level=2)).to_have_text("Some steps may not apply to you")
    # Seven since the blood thinner's restart joined the steps that wait on a fact.
    expect(prompt).to_contain_text("7 steps are marked “if this applies to you”")
    wait_for_worker(page)
    assert_no_axe_violations(page, "home with steps waiting on the health check")
    prompt.evaluate("node => node.scrollIntoView({block: 'start'})")
    phone_screenshot(page, "patient-if-it-applies")

    # A conditional step says so on its own screen, with the way to settle it.
    smoking.click()
    expect(page.locator(".conditional-note")).to_contain_text("If you smoke or use nicotine:")
    page.get_by_role("link", name="Answer the health check").click()

    # The four questions, yes / no / not sure, big enough to tap.
    expect(page.locator("h1")).to_have_text("Your health check")
    expect(page.locator("fieldset.question")).to_have_count(4)
    expect(page.get_by_role("radio", name="Not sure")).to_have_count(4)
    assert tap_targets_smaller_than(page) == []
    assert_no_axe_violations(page, "the health check")
    page.get_by_role("group", name="Do you smoke, vape or use any other nicotine?").get_by_label("No", exact=True).check()
    page.get_by_role("group", name="Do you take anti-inflammatory painkillers?").get_by_label("Yes", exact=True).check()
    # What is not known yet reads as "Not sure", as it stands.
    expect(page.get_by_role("group", name="Do you take a blood thinner?").get_by_label("Not sure")).to_be_checked()
    page.get_by_role("group", name="Do you have diabetes?").get_by_label("No", exact=True).check()
    page.evaluate("window.scrollTo(0, 0)")
    phone_screenshot(page, "patient-health-check")
    page.get_by_role("button", name="Save my answers").click()

    # The list changed at once, and the screen says how.
    result = page.locator("#health-check-result")
    expect(result.get_by_role("heading", level=2)).to_have_text("Your steps have been updated")
    expect(result.locator(".changed-steps")).to_contain_text("Stop smoking and all nicotine")
    expect(result.locator(".changed-steps")).to_contain_text("Get your blood sugar under control")
    expect(result).to_be_focused()
    lucia.refresh_from_db()
    assert (lucia.smoker, lucia.takes_nsaids, lucia.on_blood_thinners, lucia.diabetic) == (False, True, None, False)
    assert not {"stop-smoking", "glucose-control"} & keys(lucia)
    assert {"stop-nsaids", "blood-thinner-plan"} <= keys(lucia)
    assert_no_axe_violations(page, "the health check's result")

    # The message in the inbox says what changed and why.
    expect(page.locator("#unread-badge")).to_have_text(re.compile(r"^\d+ unread$"))
    page.get_by_role("link", name="Open my messages").click()
    expect(page.locator("h1")).to_have_text("Messages")
    change = page.locator(".msg", has_text="Your steps have changed")
    expect(change).to_contain_text("You answered the health check:")
    expect(change).to_contain_text("Smoking or nicotine: no (before: not known)")
    expect(change).to_contain_text("Taken off your list, because they no longer apply to you:")
    assert InboxMessage.objects.filter(patient=lucia, title="Your steps have changed").count() == 1
    assert_no_axe_violations(page, "the inbox with the change message")
    phone_screenshot(page, "patient-plan-changed")

    # Home again: the list is the new one; what is still not known keeps its line.
    page.get_by_role("link", name="Home").click()
    expect(page.locator(".task", has_text="Stop smoking and all nicotine")).to_have_count(0)
    thinner = page.locator(".task", has_text="Get a written plan for your blood thinner")
    expect(thinner.locator(".conditional")).to_have_text("If you take a blood thinner:")
    expect(page.locator(".task", has_text="Stop taking anti-inflammatory painkillers").locator(".conditional")).to_have_count(0)

    # Offline: the answers are still there to read; saving needs a connection and says so.
    page.goto("/health-check/")
    expect(page.get_by_role("group", name="Do you have diabetes?").get_by_label("No", exact=True)).to_be_checked()
    phone.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text("Your health check")
    expect(page.get_by_text("You need an internet connection to save your answers.", exact=True)).to_be_visible()
    page.get_by_role("group", name="Do you have diabetes?").get_by_label("Not sure").check()
    page.get_by_role("button", name="Save my answers").click()
    expect(page.locator("#health-check-status")).to_contain_text("You need an internet connection to save your answers.")
    phone.set_offline(False)
    assert Patient.objects.get(pk=lucia.pk).diabetic is False


def test_the_coordinator_sets_a_fact_and_the_checklist_follows(desk, lucia, carol):
    page = desk.new_page()
    sign_in(page)
    page.goto(f"/coordinator/patients/{lucia.pk}/")
    checklist = page.locator("[data-checklist]")
    smoking = checklist.locator('tr[data-task-key="stop-smoking"]')
    expect(smoking.locator("[data-conditional]")).to_have_text("if it applies")
    form = page.locator("#facts-form")
    expect(form.get_by_label("Smokes or uses nicotine")).to_have_value("")
    form.get_by_label("Smokes or uses nicotine").select_option("no")
    form.get_by_label("Heart or lung condition").select_option("yes")
    form.get_by_role("button", name="Save health facts").click()
    expect(page.locator("[data-announcer]")).to_contain_text("Taken off the checklist: Stop smoking and all nicotine.")
    expect(smoking).to_have_count(0)
    clearance = checklist.locator('tr[data-task-key="medical-clearance"]')
    expect(clearance).to_be_visible()
    expect(clearance.locator("[data-conditional]")).to_have_count(0)
    lucia.refresh_from_db()
    assert (lucia.smoker, lucia.heart_or_lung_condition) == (False, True)
    assert_no_axe_violations(page, "the patient page after setting facts")
    page.locator("#facts-title").scroll_into_view_if_needed()
    screenshot(page, "coordinator-patient-facts")
