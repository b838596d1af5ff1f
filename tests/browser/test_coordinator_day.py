"""The coordinator's day in Chromium: a patient entered twice, archive and make active again,
the roster's filters and CSV, an invitation by email, and forms that start clean.

Carol works at Riverside; Pat is her patient (with a checklist), Walter is behind, and
Elsewhere's patient never shows. axe-core checks every new screen.
"""

import csv
import io
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from prepapp.models import AuditEntry, Patient
from prepapp.reminders.models import Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today
from .a11y import assert_no_axe_violations
from .conftest import screenshot
from .test_coordinator import roster_row, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def clinic(carol, pat_checklist, paul, elsewhere, protocol_version):
    riverside = pat_checklist.case.patient.organization
    pat_checklist.case.surgeon = "Dr. Imani Okafor"
    pat_checklist.case.save(update_fields=["surgeon"])
    walter = patient_enrol(organization=riverside, full_name="Walter Brooks", contact_email="walter@example.org",
                           time_zone="America/Chicago")
    case = case_book(patient=walter, procedure="Minimally invasive lumbar fusion", surgeon="Dr. Sam Lee",
                     surgery_date=days_from_today(10))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    patient_enrol(organization=elsewhere, full_name="Elsa Elsewhere", time_zone="Europe/Madrid")
    return {"pat": pat_checklist.case.patient, "walter": walter}


def test_a_patient_entered_twice_is_caught_and_can_still_be_enrolled(desk, clinic):
    page = desk.new_page()
    sign_in(page)
    page.get_by_role("link", name="Enrol patient").first.click()
    page.get_by_label("Full name").fill("pat example")
    page.get_by_label("Email").fill("PAT@example.org")
    page.get_by_label("Date of birth").fill("1958-03-14")
    page.get_by_role("button", name="Enrol patient").click()

    warning = page.locator("[data-duplicates]")
    expect(warning).to_be_visible()
    expect(warning).to_be_focused()
    expect(warning.get_by_role("heading")).to_have_text("This patient may already be enrolled")
    existing = warning.get_by_role("link", name="Pat Example")
    expect(existing).to_have_attribute("href", f"/coordinator/patients/{clinic['pat'].pk}/")
    expect(warning.locator("li")).to_contain_text("same email")
    expect(warning).not_to_contain_text("Elsa")
    assert Patient.objects.filter(full_name__iexact="pat example").count() == 1
    assert_no_axe_violations(page, "the possible-duplicate warning")
    screenshot(page, "coordinator-enrol-duplicate")

    # Changing a detail withdraws the warning; the next try is checked again.
    page.get_by_label("Full name").fill("Pat Example")
    expect(warning).to_be_hidden()
    page.get_by_role("button", name="Enrol patient").click()
    expect(warning).to_be_visible()

    # It is another person with the same name and address (a parent and child sharing an inbox).
    warning.get_by_role("button", name="Enrol anyway").click()
    expect(page.get_by_role("heading", name="2. Surgery")).to_be_focused()
    second = Patient.objects.filter(full_name="Pat Example").order_by("-id").first()
    assert second.pk != clinic["pat"].pk and second.date_of_birth.isoformat() == "1958-03-14"


def test_archive_hides_from_the_roster_and_make_active_again_brings_back(desk, clinic, carol):
    pat = clinic["pat"]
    page = desk.new_page()
    sign_in(page)
    roster_row(page, "Pat Example").get_by_role("link", name="Pat Example").click()
    expect(page.get_by_role("heading", name="Pat Example", level=1)).to_be_visible()
    status = page.locator("#status-section")
    status.get_by_label("Archive: entered by mistake").check()
    status.get_by_label("Reason").fill("entered twice")
    status.get_by_role("button", name="Take off the roster").click()

    banner = page.locator('[data-status-banner="archived"]')
    expect(banner).to_contain_text("Archived")
    expect(banner).to_contain_text("entered twice")
    expect(banner).to_contain_text("The patient cannot sign in.")
    expect(page.locator('form[data-action="reschedule"]')).to_have_count(0)
    assert not Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).exists()
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="archive").exists()
    assert_no_axe_violations(page, "an archived patient's page")
    screenshot(page, "coordinator-patient-archived")

    page.get_by_role("link", name="Roster", exact=True).click()
    expect(roster_row(page, "Walter Brooks")).to_be_visible()
    expect(roster_row(page, "Pat Example")).to_have_count(0)
    page.get_by_label("Status").select_option("archived")
    page.get_by_role("button", name="Apply filters").click()
    expect(roster_row(page, "Pat Example").locator('[data-status="archived"]')).to_have_text("Archived")
    expect(roster_row(page, "Walter Brooks")).to_have_count(0)

    roster_row(page, "Pat Example").get_by_role("link", name="Pat Example").click()
    page.get_by_role("button", name="Make active again").click()
    expect(page.locator("[data-status-banner]")).to_have_count(0)
    expect(page.locator('form[data-action="reschedule"]')).to_have_count(1)
    assert Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).exists()
    page.get_by_role("link", name="Roster", exact=True).click()
    expect(roster_row(page, "Pat Example")).to_be_visible()


def test_filters_and_the_csv_download(desk, clinic, carol):
    page = desk.new_page()
    sign_in(page)
    page.get_by_label("Surgeon").fill("okafor")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("table.roster tbody tr")).to_have_count(1)
    expect(roster_row(page, "Pat Example")).to_be_visible()
    expect(page.locator(".filter-count")).to_have_text("1 patient matches these filters.")

    page.get_by_label("Surgeon").fill("")
    page.get_by_label("Only patients with alerts").check()
    page.get_by_role("button", name="Apply filters").click()
    # Walter (overdue steps) and Pat (a smoker whose surgery is under the six smoke-free weeks
    # away: not enough time) have alerts; Paul, with no surgery, has none.
    expect(page.locator("table.roster tbody tr")).to_have_count(2)
    expect(roster_row(page, "Walter Brooks")).to_be_visible()
    expect(roster_row(page, "Pat Example")).to_be_visible()
    expect(page.locator("table.roster tbody")).not_to_contain_text("Paul Other")
    # Sorting keeps the filters.
    page.get_by_role("link", name="Overdue").click()
    expect(page.get_by_label("Only patients with alerts")).to_be_checked()
    expect(page.locator("table.roster tbody tr")).to_have_count(2)

    lo = days_from_today(20).isoformat()
    page.get_by_label("Only patients with alerts").uncheck()
    page.get_by_label("Surgery from").fill(lo)
    page.get_by_label("Surgery to").fill(days_from_today(60).isoformat())
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("table.roster tbody tr")).to_have_count(1)
    expect(roster_row(page, "Pat Example")).to_be_visible()
    assert_no_axe_violations(page, "the filtered roster")
    screenshot(page, "coordinator-roster-filtered")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert [row["full_name"] for row in rows] == ["Pat Example"]
    assert rows[0]["surgeon"] == "Dr. Imani Okafor"

    # A range that ends before it starts is named next to its field.
    page.get_by_label("Surgery to").fill(days_from_today(5).isoformat())
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#filter-surgery_to-error")).to_contain_text("before its start")
    expect(page.get_by_label("Surgery to")).to_have_attribute("aria-invalid", "true")
    assert_no_axe_violations(page, "the roster with a filter error")


def test_forms_start_clean_and_an_invitation_goes_by_email(desk, clinic, email_to_sink, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    pat = clinic["pat"]
    page = desk.new_page()
    sign_in(page)
    page.goto(f"/coordinator/patients/{pat.pk}/")
    today = pat.local_today()

    # A date in the past is refused next to the field...
    page.get_by_label("New date").fill((today - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Move surgery").click()
    error = page.locator("#move-surgery_date-error")
    expect(error).to_contain_text("cannot be in the past")
    # ...and once the move succeeds, the old error is gone from beside the success note.
    page.get_by_label("New date").fill((today + timedelta(days=50)).isoformat())
    page.get_by_role("button", name="Move surgery").click()
    expect(page.locator("[data-announcer]")).to_contain_text("The surgery was moved")
    expect(error).to_be_hidden()
    expect(page.get_by_label("New date")).not_to_have_attribute("aria-invalid", "true")
    assert_no_axe_violations(page, "the patient page after a failed then successful move")

    # An invitation by email: the note says where it went; the code is not on the page.
    page.get_by_role("button", name="Email a new invitation").click()
    expect(page.locator("[data-announcer]")).to_contain_text("A new invitation was emailed to pat@example.org")
    expect(page.locator("[data-issued-invitation]")).to_be_hidden()
    for _ in range(100):
        if email_to_sink.received():
            break
        page.wait_for_timeout(50)
    assert email_to_sink.received()[0]["To"] == "pat@example.org"
    screenshot(page, "coordinator-invitation-emailed")
