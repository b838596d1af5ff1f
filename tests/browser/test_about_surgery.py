"""About your surgery on a phone (390 × 844): from the countdown to the topics, the patient's own
approach first, the comparison with open surgery, a word of a step tapped for its meaning, in
English and in Spanish, and the pages again with no connection. axe-core checks each screen;
screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1.
"""

import pytest
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.workflows import case_complete, case_describe

from ..support.journey import surgery_was
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .conftest import screenshot
from .test_coordinator import sign_in as staff_sign_in
from .test_patient_app import phone_screenshot
from .test_safety_screens import enrol, phone, sign_in  # noqa: F401 - phone is the 390 × 844 fixture

pytestmark = pytest.mark.browser


def task_of(patient, key: str) -> Task:
    return Task.objects.get(checklist__case__patient=patient, definition__key=key)


def wait_until_saved(page, *paths):
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    for path in paths:
        page.wait_for_function(
            f"caches.open('prep-data').then(c => c.keys()).then(k => k.some(r => r.url.endsWith('{path}')))"
        )


def test_the_patient_reads_about_their_surgery_and_a_word_of_a_step_also_offline(
    phone, riverside, carol, protocol_version  # noqa: F811
):
    dora = enrol(riverside, carol, protocol_version, name="Dora Lindqvist", bone_density_concern=True)
    case_describe(case=dora.cases.get(), approach="mis-tlif", level="L4-L5", by=carol)
    page = sign_in(phone, dora)

    # The countdown card leads there, and names the operation.
    about = page.locator(".countdown #about-surgery")
    expect(about).to_contain_text("About your surgery")
    expect(about).to_contain_text("MIS-TLIF at L4–L5")
    phone_screenshot(page, "patient-home-about-link")
    about.click()
    expect(page.locator("h1")).to_have_text("About your surgery")
    expect(page.locator(".your-operation")).to_contain_text("MIS-TLIF at L4–L5")
    topics = page.locator(".topics .task")
    # The page about the patient's own approach comes first, marked as theirs.
    expect(topics.first).to_contain_text("Your approach")
    expect(topics.first).to_contain_text("MIS-TLIF: from the back")
    expect(topics.nth(1)).to_contain_text("What the operation is")
    expect(topics.last).to_have_text("Words explained")
    assert_no_axe_violations(page, "about your surgery")
    assert tap_targets_smaller_than(page) == []
    phone_screenshot(page, "patient-about")

    topics.nth(1).click()
    expect(page.locator("h1")).to_have_text("What the operation is, and why it is done")
    expect(page.locator(".about-text").first).to_contain_text("lumbar fusion joins two or more bones")
    expect(page.locator(".source")).to_contain_text("Where this comes from: the patient guide")
    page.get_by_role("link", name="Next: Small cuts or open surgery").click()
    expect(page.locator("h1")).to_have_text("Small cuts or open surgery")
    table = page.locator("table.compare")
    expect(table.locator("tr", has_text="Cut in the skin")).to_contain_text("About 1 inch")
    expect(table.locator("tr", has_text="Cut in the skin")).to_contain_text("5 to 6 inches")
    expect(table.locator("tr", has_text="Time in hospital")).to_contain_text("3 to 5 days")
    expect(table.locator("tr", has_text="Blood lost")).to_contain_text("500 ml")
    # A word the glossary explains opens its meaning under its paragraph, and closes again.
    word = page.locator("button.term", has_text="fuse").first
    word.click()
    meaning = page.locator(".term-meaning")
    expect(meaning).to_contain_text("Fusion: Two or more bones of the spine healing together")
    expect(word).to_have_attribute("aria-expanded", "true")
    assert_no_axe_violations(page, "small cuts or open surgery")
    assert tap_targets_smaller_than(page) == []
    table.evaluate("node => window.scrollTo(0, node.getBoundingClientRect().top + window.scrollY - 8)")
    phone_screenshot(page, "patient-about-compared")
    word.click()
    expect(meaning).to_have_count(0)

    # A step's words: DEXA in what to do, fusion in why it matters.
    page.goto(f"/tasks/{task_of(dora, 'dexa-scan').id}/")
    expect(page.locator("h1")).to_have_text("Have a bone density (DEXA) scan")
    dexa = page.locator(".instructions button.term", has_text="DEXA")
    dexa.click()
    expect(page.locator(".term-meaning")).to_contain_text("DEXA scan: A quick, painless X-ray test")
    expect(page.locator("button.term", has_text="fusion")).to_have_count(1)
    assert_no_axe_violations(page, "a step with a word opened")
    page.locator(".instructions").evaluate("node => window.scrollTo(0, node.getBoundingClientRect().top + window.scrollY - 60)")
    phone_screenshot(page, "patient-step-word")
    page.get_by_role("link", name="All the words explained").click()
    expect(page.locator("h1")).to_have_text("Words explained")
    expect(page.locator("#term-pseudarthrosis")).to_have_text("Pseudarthrosis")

    # No connection: the pages were saved with the app.
    wait_until_saved(page, "/api/v1/me/about/", "/api/v1/me/checklist/state/")
    phone.set_offline(True)
    page.goto("/about/compared/")
    expect(page.locator("h1")).to_have_text("Small cuts or open surgery")
    expect(page.locator(".notice-saved")).to_contain_text("You are offline")
    expect(page.locator("table.compare")).to_contain_text("5 to 6 inches")
    page.goto(f"/tasks/{task_of(dora, 'dexa-scan').id}/")
    page.locator(".instructions button.term", has_text="DEXA").click()
    expect(page.locator(".term-meaning")).to_contain_text("painless X-ray test")
    phone.set_offline(False)


def test_in_spanish_after_the_surgery_offline(phone, riverside, carol, protocol_version):  # noqa: F811
    rosa = enrol(riverside, carol, protocol_version, name="Rosa Quintero", language="es", bone_density_concern=True)
    case = rosa.cases.get()
    case_describe(case=case, approach="alif", level="L5-S1", by=carol)
    case_complete(case=surgery_was(case, days_ago=10))
    page = sign_in(phone, rosa)

    # After the surgery the countdown card still leads there.
    about = page.locator(".countdown #about-surgery")
    expect(about).to_contain_text("Sobre su cirugía")
    expect(about).to_contain_text("ALIF en L5–S1")
    about.click()
    expect(page.locator("h1")).to_have_text("Sobre su cirugía")
    page.locator(".topics .task").first.click()
    expect(page.locator("h1")).to_have_text("ALIF: por delante")
    expect(page.locator(".lead")).to_have_text("Su nivel: L5–S1")
    assert_no_axe_violations(page, "the approach's page in Spanish")
    phone_screenshot(page, "patient-about-approach-es")
    page.locator("button.term", has_text="fusionen").click()
    expect(page.locator(".term-meaning")).to_contain_text("Fusión: Dos o más huesos de la columna")
    expect(page.locator(".term-meaning")).to_contain_text("Todas las palabras explicadas")

    wait_until_saved(page, "/api/v1/me/about/", "/api/v1/me/checklist/state/")
    phone.set_offline(True)
    page.goto("/about/outcomes/")
    expect(page.locator("h1")).to_have_text("Cómo están las personas un año después")
    expect(page.locator(".about-text").first).to_contain_text("85 y el 90%")
    page.locator("button.term", has_text="seudoartrosis").click()
    expect(page.locator(".term-meaning")).to_contain_text("Seudoartrosis: Cuando los huesos no se unen")
    page.goto(f"/tasks/{task_of(rosa, 'dexa-scan').id}/")
    page.locator(".instructions button.term", has_text="DEXA").click()
    expect(page.locator(".term-meaning")).to_contain_text("Densitometría (DEXA)")
    phone.set_offline(False)


def test_the_coordinator_notes_the_approach_and_level(desk, carol, pat_checklist):
    pat = pat_checklist.case.patient
    page = desk.new_page()
    staff_sign_in(page)
    page.goto(f"/coordinator/patients/{pat.pk}/")
    form = page.locator("#describe-form")
    # A level written backwards is refused beside the field, and nothing is saved.
    form.get_by_label("Approach").select_option("alif")
    form.get_by_label("Level").fill("L5-L4")
    form.get_by_role("button", name="Save the operation").click()
    expect(form.locator('[data-error-for="level"]')).to_contain_text("the upper vertebra first")
    expect(form.get_by_label("Level")).to_have_attribute("aria-invalid", "true")
    pat_checklist.case.refresh_from_db()
    assert pat_checklist.case.approach == ""

    form.get_by_label("Level").fill("l5-s1")
    form.get_by_role("button", name="Save the operation").click()
    case = page.locator("[data-case]")
    expect(case.locator('[data-field="approach"]')).to_have_text("ALIF")
    expect(case.locator('[data-field="level"]')).to_have_text("L5–S1")
    expect(form.get_by_label("Level")).to_have_value("L5–S1")
    assert_no_axe_violations(page, "the patient's page with the operation")
    form.scroll_into_view_if_needed()
    screenshot(page, "coordinator-patient-operation")
    pat_checklist.case.refresh_from_db()
    assert (pat_checklist.case.approach, pat_checklist.case.level) == ("alif", "L5–S1")
