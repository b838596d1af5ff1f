"""The coordinator's journey in Chromium, against the live server and the real API.

Sign in, read the roster, enrol a patient, book the surgery, assign the protocol, hand over
the invitation, open the patient, move the surgery (the task dates follow), cancel it.
axe-core checks every screen; the tablet check also measures the tap targets.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.models import Patient, SurgeryCase, invitation_code_digest
from prepapp.reminders.models import DeliveryAttempt, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .conftest import screenshot

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' password
TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def clinic(carol, pat_checklist, paul, olga, elsewhere, protocol_version):
    """Riverside's patients, one of them clearly behind, and a patient of another clinic."""
    walter = patient_enrol(
        organization=pat_checklist.case.patient.organization,
        full_name="Walter Brooks",
        contact_email="walter@example.org",
        time_zone="America/Chicago",
        diabetic=True,
        on_blood_thinners=True,
        channel_policy="both",  # email planned beside push, so one email can fail below
    )
    # Ten days before surgery, the steps of the weeks before are already overdue.
    case = case_book(patient=walter, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(10))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    # What the delivery engine records when the mail server refuses a reminder and the app shows another.
    failed = Reminder.objects.filter(patient=walter, channel=Reminder.Channel.EMAIL).first()
    Reminder.objects.filter(pk=failed.pk).update(status=Reminder.Status.FAILED, last_error="550 mailbox unavailable")
    DeliveryAttempt.objects.create(
        reminder=failed, patient=walter, channel="email", outcome="failed", detail="550 mailbox unavailable"
    )
    sent = Reminder.objects.filter(patient=walter, channel=Reminder.Channel.INAPP).first()
    Reminder.objects.filter(pk=sent.pk).update(status=Reminder.Status.SENT)
    DeliveryAttempt.objects.create(reminder=sent, patient=walter, channel="inapp", outcome="sent")
    patient_enrol(organization=elsewhere, full_name="Elsa Elsewhere", time_zone="Europe/Madrid")
    return {"walter": walter}


def sign_in(page, username="carol"):
    page.goto("/coordinator/")
    assert "/coordinator/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Roster", level=1)).to_be_visible()


def roster_row(page, name):
    return page.locator("table.roster tbody tr").filter(has=page.get_by_role("link", name=name))


def test_the_coordinator_journey(desk, clinic, carol):
    page = desk.new_page()
    page.goto("/coordinator/")
    expect(page.get_by_role("heading", name="Care team sign-in")).to_be_visible()
    assert_no_axe_violations(page, "the sign-in page")
    screenshot(page, "coordinator-login")
    sign_in(page)

    # --- The roster: who is behind, at a glance ---
    walter = roster_row(page, "Walter Brooks")
    overdue = Task.objects.filter(
        checklist__case__patient=clinic["walter"], status=Task.Status.OPEN,
        due_date__lt=clinic["walter"].local_today(),
    ).count()
    assert overdue > 0
    expect(walter.locator('[data-cell="overdue"] .badge--danger')).to_have_text(f"{overdue} overdue")
    expect(walter.locator('[data-cell="failed"] .badge--warning')).to_have_text("1 failed")
    expect(walter.locator('[data-cell="signed-in"]')).to_have_text("Not yet")
    expect(roster_row(page, "Pat Example")).to_be_visible()
    expect(page.get_by_text("Elsa Elsewhere")).to_have_count(0)
    assert_no_axe_violations(page, "the roster")
    screenshot(page, "coordinator-roster")

    # Sorting: by overdue, then descending; the most behind comes first.
    page.get_by_role("link", name="Overdue").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Overdue")
    page.get_by_role("link", name="Overdue").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Overdue")
    expect(page.locator("table.roster tbody tr").first).to_contain_text("Walter Brooks")

    # Open the one who is behind: the overdue steps first, the failed delivery in the log.
    roster_row(page, "Walter Brooks").get_by_role("link", name="Walter Brooks").click()
    expect(page.get_by_role("heading", name="Walter Brooks", level=1)).to_be_visible()
    expect(page.locator('[data-group="overdue"] tr[data-task-key]')).to_have_count(overdue)
    log = page.locator("[data-deliveries] table.deliveries")
    expect(log.locator('tr[data-outcome="failed"]')).to_contain_text("550 mailbox unavailable")
    expect(log.locator('tr[data-outcome="failed"]')).to_contain_text("Email")
    expect(log.locator('tr[data-outcome="sent"]')).to_contain_text("In the app")
    expect(page.locator('[data-deliveries] [data-status="failed"]')).to_have_text("Failed 1")
    assert_no_axe_violations(page, "the page of a patient who is behind")
    screenshot(page, "coordinator-patient-behind")
    page.get_by_role("link", name="Roster", exact=True).click()

    # --- Enrol: errors from the API appear next to their fields ---
    page.get_by_role("link", name="Enrol patient").first.click()
    expect(page.get_by_role("heading", name="Enrol patient", level=1)).to_be_visible()
    assert_no_axe_violations(page, "the empty enrolment form")
    page.get_by_label("Full name").fill("Nora Quinn")
    page.get_by_label("Email").fill("nora@example.org")
    page.get_by_label("Time zone", exact=True).select_option(label="Other (type the zone name)")
    page.get_by_label("Other time zone").fill("Mars/Olympus_Mons")
    page.get_by_label("Weight (kg)").fill("68")
    page.get_by_label("Smokes or uses nicotine").select_option("yes")
    page.get_by_role("button", name="Enrol patient").click()
    error = page.locator("#enrol-time_zone-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not a known time zone")
    expect(page.get_by_label("Other time zone")).to_have_attribute("aria-invalid", "true")
    assert not Patient.objects.filter(full_name="Nora Quinn").exists()
    assert_no_axe_violations(page, "the enrolment form with an error")
    screenshot(page, "coordinator-enrol-error")

    page.get_by_label("Other time zone").fill("America/Halifax")
    page.get_by_role("button", name="Enrol patient").click()
    expect(page.get_by_role("heading", name="2. Surgery")).to_be_focused()
    expect(page.locator("#enrol-form")).to_be_hidden()
    expect(page.locator("#step-patient [data-step-done]")).to_have_text("Nora Quinn · America/Halifax")
    nora = Patient.objects.get(full_name="Nora Quinn")
    assert (nora.time_zone, nora.smoker, str(nora.weight_kg)) == ("America/Halifax", True, "68.0")

    # --- Book the surgery: a date in the past is refused, next to the date ---
    today = nora.local_today()
    book = page.locator("#book-form")
    book.get_by_label("Procedure").fill("Minimally invasive lumbar fusion (L4-L5)")
    book.get_by_label("Surgeon").fill("Dr. Imani Okafor")
    book.get_by_label("Surgery date").fill((today - timedelta(days=1)).isoformat())
    book.get_by_role("button", name="Book surgery").click()
    expect(page.locator("#book-surgery_date-error")).to_contain_text("cannot be in the past")
    surgery_date = today + timedelta(days=40)
    book.get_by_label("Surgery date").fill(surgery_date.isoformat())
    book.get_by_label("Time").fill("07:30")
    book.get_by_role("button", name="Book surgery").click()
    expect(page.get_by_role("heading", name="3. Protocol")).to_be_focused()
    case = SurgeryCase.objects.get(patient=nora)
    assert (case.surgery_date, case.surgery_time.isoformat(), case.status) == (surgery_date, "07:30:00", "scheduled")

    # --- Assign the protocol, then hand over the invitation ---
    protocol = page.get_by_label("Preparation protocol")
    expect(protocol.locator("option[value=mis-lumbar-fusion]")).to_have_count(1)
    protocol.select_option("mis-lumbar-fusion")
    assert_no_axe_violations(page, "the protocol step")
    page.get_by_role("button", name="Assign protocol").click()
    expect(page.get_by_role("heading", name="4. Invitation for the patient")).to_be_focused()
    # The code is shown this once (only its hash is stored): it is the one that signs Nora in.
    shown = page.locator("#step-invitation [data-invitation-code]")
    expect(shown).to_have_text(re.compile(r"^[A-Z2-9]{8}$"))
    code = shown.text_content()
    nora.refresh_from_db()
    assert invitation_code_digest(code) == nora.invitation_code_hash
    join = page.locator("#step-invitation [data-join-link]")
    expect(join).to_have_attribute("href", f"{page.url.split('/coordinator/')[0]}/join/#{code}")
    assert Task.objects.filter(checklist__case=case).exists()
    assert_no_axe_violations(page, "the invitation step")
    screenshot(page, "coordinator-enrol-invitation")

    # --- The patient's page: details, surgery, checklist, delivery log ---
    page.get_by_role("link", name="Open the patient's page").click()
    expect(page.get_by_role("heading", name="Nora Quinn", level=1)).to_be_visible()
    checklist = page.locator("[data-checklist]")
    expect(checklist.locator("[data-group]")).to_have_count(4)
    expect(page.locator("[data-deliveries]")).not_to_have_attribute("aria-busy", "true")
    open_tasks = {t.definition.key: t.due_date for t in Task.objects.filter(checklist__case=case).select_related("definition")}
    assert "stop-smoking" in open_tasks  # Nora smokes, so her checklist asks her to stop

    def shown_due_dates():
        return dict(
            checklist.locator("tr[data-task-key]").evaluate_all(
                "rows => rows.map(r => [r.dataset.taskKey, r.querySelector('time').getAttribute('datetime')])"
            )
        )

    assert shown_due_dates() == {key: due.isoformat() for key, due in open_tasks.items()}
    assert_no_axe_violations(page, "the patient page")
    screenshot(page, "coordinator-patient")

    # --- Move the surgery a week later: every open task moves a week too ---
    moved_to = surgery_date + timedelta(days=7)
    page.get_by_label("New date").fill(moved_to.isoformat())
    page.get_by_role("button", name="Move surgery").click()
    expect(page.locator("[data-announcer]")).to_contain_text("The surgery was moved")
    expect(page.locator('[data-case] [data-field="surgery_date"]')).to_have_attribute("datetime", moved_to.isoformat())
    expect(page.locator('[data-case] [data-field="days_to_surgery"]')).to_have_text(str((moved_to - today).days))
    # Every step moves a week with the surgery, but for one given "start now" dates at enrolment
    # (prehab: its planned day, six weeks before, had passed): it goes back to its planned day.
    # The stop that could not wait (smoking: 40 days left of its 6 weeks, so due today) has time
    # again once the surgery is 47 days away: it goes back to its planned day, 4 weeks before.
    start_now = {"prehab": moved_to - timedelta(days=42), "stop-smoking": moved_to - timedelta(days=28)}
    expected = {key: start_now.get(key, due + timedelta(days=7)).isoformat() for key, due in open_tasks.items()}
    assert open_tasks["prehab"] == today + timedelta(days=3) and start_now["prehab"] > today
    assert shown_due_dates() == expected
    case.refresh_from_db()
    assert case.surgery_date == moved_to
    assert_no_axe_violations(page, "the patient page after the move")
    screenshot(page, "coordinator-patient-moved")

    # --- Cancel, after a confirmation; "Keep it" keeps it ---
    page.get_by_role("button", name="Cancel surgery…").click()
    dialog = page.get_by_role("dialog", name="Cancel this surgery?")
    expect(dialog).to_be_visible()
    expect(dialog.locator("time")).to_have_attribute("datetime", moved_to.isoformat())
    assert_no_axe_violations(page, "the cancel confirmation")
    screenshot(page, "coordinator-cancel-confirm")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    case.refresh_from_db()
    assert case.status == SurgeryCase.Status.SCHEDULED

    page.get_by_role("button", name="Cancel surgery…").click()
    dialog.get_by_role("button", name="Yes, cancel the surgery").click()
    expect(page.locator('[data-case] [data-field="status"]')).to_have_text("Cancelled")
    expect(page.get_by_role("heading", name="Book a surgery")).to_be_visible()
    case.refresh_from_db()
    assert case.status == SurgeryCase.Status.CANCELLED
    assert not Reminder.objects.filter(task__checklist__case=case, status=Reminder.Status.PENDING).exists()
    assert_no_axe_violations(page, "the patient page after cancelling")
    screenshot(page, "coordinator-patient-cancelled")

    # Back on the roster, Nora's surgery shows as cancelled.
    page.get_by_role("link", name="Roster", exact=True).click()
    expect(roster_row(page, "Nora Quinn").locator('[data-cell="surgery"]')).to_contain_text("Cancelled")


def test_on_a_tablet(browser, live_server, clinic, pat_checklist):
    context = browser.new_context(viewport=TABLET, has_touch=True, is_mobile=True, base_url=live_server.url)
    try:
        page = context.new_page()
        sign_in(page)
        pages = [
            ("coordinator-tablet-roster", "/coordinator/"),
            ("coordinator-tablet-enrol", "/coordinator/enrol/"),
            ("coordinator-tablet-patient", f"/coordinator/patients/{clinic['walter'].pk}/"),
        ]
        for name, path in pages:
            page.goto(path)
            if "patients" in path:
                expect(page.locator("[data-checklist] [data-group]")).to_have_count(4)
            screenshot(page, name)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a tablet"
            tables = page.evaluate("[...document.querySelectorAll('.table-wrap')].map(t => t.scrollWidth - t.clientWidth)")
            assert all(extra <= 0 for extra in tables), f"a table on {path} scrolls sideways on a tablet: {tables}"
            assert tap_targets_smaller_than(page) == [], path
            assert_no_axe_violations(page, f"{path} on a tablet")
    finally:
        context.close()


def test_someone_outside_every_care_team_cannot_sign_in(desk, db):
    from ..factories import UserFactory

    UserFactory(username="admin-only", is_staff=True)
    page = desk.new_page()
    page.goto("/coordinator/login/")
    page.get_by_label("Username").fill("admin-only")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not part of a care team")
    assert "/coordinator/login/" in page.url
    assert_no_axe_violations(page, "the refused sign-in")
