"""After the surgery, and short of time before it: the patient's home screen on a phone.

Once the surgery is marked done (or its day has passed) the countdown gives way to "Day N
after your surgery" (then "Week N of your recovery") and the stage of the recovery from the
protocol; in Spanish the procedure is in Spanish too. A step whose minimum lead time can no
longer be met asks the patient to call the care team. axe-core checks every screen; the
screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1.
"""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_complete, checklist_assign

from ..factories import days_from_today
from ..support.journey import surgery_was
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .test_patient_app import phone_screenshot, task_of

pytestmark = pytest.mark.browser


def enrol(riverside, carol, protocol_version, *, name, language="en", days=30, **facts):
    patient = patient_enrol(
        organization=riverside, full_name=name, contact_email=f"{name.split()[1].lower()}@example.org",
        time_zone="America/New_York", language=language, **facts,
    )
    case = case_book(
        patient=patient, procedure="Minimally invasive lumbar fusion (L4-L5)", surgeon="Dr. Imani Okafor",
        surgery_date=days_from_today(days),
    )
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return patient


@pytest.fixture
def walt(riverside, carol, protocol_version):
    """Three days after his surgery, which the care team has marked done."""
    patient = enrol(riverside, carol, protocol_version, name="Walt Moreno", weight_kg=Decimal("90"))
    case_complete(case=surgery_was(patient.cases.get(), days_ago=3))
    return patient


@pytest.fixture
def lucia(riverside, carol, protocol_version):
    """Three weeks after her surgery; the date alone moved her app to the recovery."""
    patient = enrol(riverside, carol, protocol_version, name="Lucía Fernandez", language="es", weight_kg=Decimal("64"))
    surgery_was(patient.cases.get(), days_ago=20)
    return patient


@pytest.fixture
def gus(riverside, carol, protocol_version):
    """A smoker enrolled 20 days before his surgery: six weeks without nicotine cannot be had."""
    return enrol(riverside, carol, protocol_version, name="Gus Hale", days=20, smoker=True, weight_kg=Decimal("75"))


def test_the_recovery_home_in_english(phone, walt):
    page = phone.new_page()
    page.goto(f"/join/#{walt.invitation_code}")
    expect(page.locator("h1")).to_have_text("Day 3 after your surgery")
    # The app's name follows the journey: no longer "Getting ready for surgery".
    expect(page.locator(".brand")).to_have_text("Recovering from surgery")
    expect(page).to_have_title("Home · Recovering from surgery")
    countdown = page.locator(".countdown")
    expect(countdown).to_contain_text("Your surgery was on ")
    expect(countdown).to_contain_text("Minimally invasive lumbar fusion (L4-L5)")
    stage = page.locator(".stage")
    expect(stage.get_by_role("heading", name="Where you are now")).to_be_visible()
    expect(stage.locator(".stage-now")).to_have_text("Weeks 1–2: checking your wound every day")
    expect(stage.locator(".stage-next")).to_have_text(
        "After that: Weeks 3–6: physical therapy, fewer strong painkillers, desk work"
    )
    # The preparation is over: no span of weeks, no preparation step overdue, the count is the recovery's.
    expect(page.locator(".preparation-span")).to_have_count(0)
    steps = Task.objects.filter(checklist__case__patient=walt)
    recovery = steps.filter(definition__offset_days__gt=0).count()
    expect(page.get_by_text(f"0 of {recovery} recovery steps done")).to_be_visible()
    # What to keep doing now: the steps whose window holds today, due or not.
    # The "no BLT" limits and no anti-inflammatories are rules now, under "Rules for now", not steps.
    expect(stage.locator(".stage-steps li")).to_have_text([
        "Restart your blood thinner as agreed before surgery", "Check your wound every day for infection",
        "Keep up protein, calcium and vitamin D while the bone heals",
    ])
    expect(page.locator('.rules [data-rule="no-blt"]')).to_be_visible()
    overdue = page.locator(".group-overdue")
    expect(overdue.get_by_role("link", name="Get up and walk soon after surgery")).to_be_visible()
    expect(overdue.get_by_role("link", name="Stop smoking and all nicotine")).to_have_count(0)
    earlier = page.locator("details.earlier")
    expect(earlier.locator("summary")).to_have_text(f"Before your surgery ({steps.count() - recovery} steps)")
    assert_no_axe_violations(page, "the recovery home")
    assert tap_targets_smaller_than(page) == []
    phone_screenshot(page, "patient-recovery")

    # Two weeks on, days give way to weeks.
    surgery_was(walt.cases.get(), days_ago=20)
    page.reload()
    expect(page.locator("h1")).to_have_text("Week 3 of your recovery")
    expect(page.locator(".stage-now")).to_have_text("Weeks 3–6: physical therapy, fewer strong painkillers, desk work")


def test_the_recovery_home_in_spanish_with_figures_written_the_spanish_way(phone, lucia):
    page = phone.new_page()
    page.goto(f"/join/#{lucia.invitation_code}")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text("Semana 3 de su recuperación")
    expect(page.locator(".brand")).to_have_text("Recuperándose de la cirugía")
    expect(page.locator(".countdown")).to_contain_text("Su cirugía fue el ")
    expect(page.locator(".procedure")).to_contain_text("Fusión lumbar mínimamente invasiva (L4-L5)")
    expect(page.locator(".stage").get_by_role("heading", name="En qué etapa está ahora")).to_be_visible()
    expect(page.locator(".stage-now")).to_have_text(
        "Semanas 3 a 6: fisioterapia, menos analgésicos fuertes, trabajo de escritorio"
    )
    expect(page.locator(".stage-next")).to_have_text("Después: Meses 2 y 3: su primera radiografía o estudio de control")
    expect(page.get_by_role("heading", name="Para hacer esta semana")).to_be_visible()
    assert_no_axe_violations(page, "the Spanish recovery home")
    phone_screenshot(page, "patient-recovery-es")

    # Calcium and vitamin D, all the way to the fusion: "1200 mg", "2000 UI", "1,2" per kilogram.
    nutrition = task_of(lucia, "nutrition-through-fusion")
    page.goto(f"/tasks/{nutrition.id}/")
    figures = page.locator(".figures")
    expect(figures).to_contain_text("77–102 g al día")  # 1,2–1,6 g × 64 kg
    expect(figures).to_contain_text("1200 mg al día")
    expect(figures).to_contain_text("2000 UI al día")
    expect(page.locator(".instructions")).to_contain_text("1,2 a 1,6 gramos")
    assert_no_axe_violations(page, "a Spanish recovery step with figures")


def test_figures_in_english_are_written_without_a_separator(phone, walt):
    page = phone.new_page()
    page.goto(f"/join/#{walt.invitation_code}")
    expect(page.locator("h1")).to_have_text("Day 3 after your surgery")
    page.goto(f"/tasks/{task_of(walt, 'nutrition-through-fusion').id}/")
    figures = page.locator(".figures")
    expect(figures).to_contain_text("108–144 g a day")  # 1.2–1.6 g × 90 kg
    expect(figures).to_contain_text("1200 mg a day")
    expect(figures).to_contain_text("2000 IU a day")


def test_a_step_short_of_time_asks_to_call_the_care_team(phone, gus):
    smoking = task_of(gus, "stop-smoking")
    page = phone.new_page()
    page.goto(f"/join/#{gus.invitation_code}")
    expect(page.locator("h1")).to_have_text("20 days to your surgery")
    urgent = page.locator(".urgent")
    expect(urgent.get_by_role("heading", name="Please call your care team")).to_be_visible()
    expect(urgent).to_contain_text("Stop smoking and all nicotine")
    expect(urgent).to_contain_text("Surgery teams ask for 4 to 6 weeks without any nicotine before this operation")
    expect(urgent).to_contain_text(
        "Your surgery is in only 20 days, so there is not enough time left for this. "
        "Call your care team today: they will tell you what to do."
    )
    expect(page.get_by_role("link", name="Stop smoking and all nicotine")).to_contain_text(
        "Call your care team about this step"
    )
    assert_no_axe_violations(page, "the home with a step short of time")
    urgent.evaluate("node => window.scrollTo(0, node.getBoundingClientRect().top + window.scrollY - 16)")
    phone_screenshot(page, "patient-not-enough-time")

    page.get_by_role("link", name="Stop smoking and all nicotine").click()
    expect(page.locator("h1")).to_have_text(smoking.definition.title)
    expect(page.locator(".urgent")).to_contain_text("Your surgery is in only 20 days")
    assert_no_axe_violations(page, "a step short of time")


# --- The care team's side -----------------------------------------------------------------------------


def test_the_roster_shows_where_each_patient_is_and_who_to_call(desk, walt, lucia, gus):
    from .conftest import screenshot
    from .test_coordinator import roster_row, sign_in

    page = desk.new_page()
    sign_in(page)
    expect(roster_row(page, "Walt Moreno").locator('[data-cell="where"]')).to_contain_text(
        "Recovery: day 3 Weeks 1–2: checking your wound every day"
    )
    expect(roster_row(page, "Lucía Fernandez").locator('[data-cell="where"]')).to_contain_text("Recovery: week 3")
    gus_where = roster_row(page, "Gus Hale").locator('[data-cell="where"]')
    expect(gus_where).to_contain_text("20 days to surgery")
    expect(gus_where.locator("[data-not-enough-time]")).to_have_text("1 step short of time")
    expect(page.locator(".behind-summary")).to_contain_text("1 patient with steps short of time")
    assert_no_axe_violations(page, "the roster with patients recovering and one short of time")
    screenshot(page, "coordinator-roster-journey")

    # Gus's page lists the step to call him about; Walt's shows his recovery.
    roster_row(page, "Gus Hale").get_by_role("link", name="Gus Hale").click()
    alert = page.locator("[data-not-enough-time]").first
    expect(alert).to_contain_text("Stop smoking and all nicotine: needs at least 42 days before surgery; 20 left.")
    expect(page.locator('[data-task-key="stop-smoking"] [data-not-enough-time]')).to_have_text("not enough time")
    assert_no_axe_violations(page, "a patient page with a step short of time")
    page.go_back()
    roster_row(page, "Walt Moreno").get_by_role("link", name="Walt Moreno").click()
    expect(page.locator('[data-field="recovery"]')).to_contain_text("Day 3 after surgery")
    expect(page.get_by_role("button", name="Mark the surgery as done")).to_have_count(0)  # already done


def test_the_coordinator_marks_the_surgery_done_and_the_patient_sees_the_recovery(desk, phone, lucia):
    from .test_coordinator import roster_row, sign_in

    surgery_was(lucia.cases.get(), days_ago=0)  # the surgery is today
    page = desk.new_page()
    sign_in(page)
    roster_row(page, "Lucía Fernandez").get_by_role("link", name="Lucía Fernandez").click()
    page.get_by_role("button", name="Mark the surgery as done").click()
    expect(page.locator('[data-case] [data-field="status"]')).to_have_text("Done")
    expect(page.locator('[data-field="recovery"]')).to_contain_text("The day of the surgery")
    assert lucia.cases.get().status == "done"

    patient = phone.new_page()
    patient.goto(f"/join/#{lucia.invitation_code}")
    expect(patient.locator("h1")).to_have_text("Su cirugía fue hoy")
    expect(patient.locator(".stage-now")).to_have_text('Primeros días: levantarse a caminar y las reglas "no BLT"')
