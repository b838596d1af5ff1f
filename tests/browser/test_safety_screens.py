"""The safety net on a phone (390 × 844): rules for now, "When to call" (also offline), the
check-in and its answer, the day-of card, "Stop today" on a late stop, and a rule the care
team lifts. axe-core checks each screen; screenshots go to docs/screenshots with
UPDATE_SCREENSHOTS=1.
"""

from datetime import time, timedelta

import pytest
from playwright.sync_api import expect

from checklists.models import CheckIn
from prepapp.models import SurgeryCase
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_complete, checklist_assign

from ..factories import days_from_today
from ..safety_support import phones
from ..support.journey import surgery_was
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .test_patient_app import phone_screenshot

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
LEG_WEAKNESS = {"back-pain": "4", "leg-pain": "2", "walking": "yes", "wound": "fine", "fever": "no",
                "bladder-bowels": "normal", "new-weakness": "yes"}


@pytest.fixture
def phone(browser, live_server):
    """A 390 × 844 phone (the size most patients' phones are now)."""
    context = browser.new_context(
        viewport=PHONE_390, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=live_server.url
    )
    yield context
    context.close()


def enrol(riverside, carol, protocol_version, *, name, days=30, language="en", **facts):
    phones(riverside)
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


def recovering(riverside, carol, protocol_version, days_ago, name="Walt Moreno"):
    patient = enrol(riverside, carol, protocol_version, name=name, smoker=False, takes_nsaids=False)
    case_complete(case=surgery_was(patient.cases.get(), days_ago=days_ago))
    return patient


def sign_in(phone, patient):
    page = phone.new_page()
    page.goto(f"/join/#{patient.invitation_code}")
    expect(page.locator("h1")).to_be_visible()
    return page


def to_top(locator):
    """Scroll so that a section starts at the top of the screen, for its screenshot."""
    locator.evaluate("node => window.scrollTo(0, node.getBoundingClientRect().top + window.scrollY - 8)")


def answer(page, answers):
    """Tap each answer's big button as a patient would, scrolled to the middle of the screen (clear of the tab bar)."""
    for key, value in answers.items():
        option = page.locator(f'[data-question="{key}"] label.option', has=page.locator(f'input[value="{value}"]'))
        option.evaluate("node => node.scrollIntoView({block: 'center'})")
        option.click()
        expect(option.locator("input")).to_be_checked()


@pytest.mark.parametrize("days", [20, 60, 120])
def test_rules_for_now_and_when_to_call_also_offline(phone, riverside, carol, protocol_version, days):
    walt = recovering(riverside, carol, protocol_version, days)
    page = sign_in(phone, walt)
    rules = page.locator(".rules")
    expect(rules.get_by_role("heading", name="Rules for now")).to_be_visible()
    blt = rules.locator('[data-rule="no-blt"]')
    expect(blt).to_contain_text("30 degrees")
    expect(blt).to_contain_text("5 to 10 pounds")
    expect(blt.locator(".rule-until")).to_have_text("Until your care team says otherwise")
    # After the surgery "When to call" is in the header of every screen, and home shows no signs after day 14.
    expect(page.locator("#call-top")).to_have_text("When to call")
    expect(page.locator(".signs-home")).to_have_count(0)
    if days == 20:
        assert_no_axe_violations(page, "the recovery home with its rules")
        assert tap_targets_smaller_than(page) == []
        to_top(rules)
        phone_screenshot(page, "patient-rules-for-now")
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#call-top")).to_be_visible()

    page.locator("#call-top").click()
    expect(page.locator("h1")).to_have_text("When to call")
    team = page.locator(".care-team")
    expect(team.get_by_role("heading", name="Riverside Spine Center")).to_be_visible()
    expect(team.locator('a[href="tel:+15550100"]')).to_contain_text("+1 555 0100")
    expect(team.locator('a[href="tel:+15550199"]')).to_contain_text("+1 555 0199")
    expect(team).to_contain_text(
        "The care team reads messages Monday to Friday, 8:00 to 17:00. It is not watched around the clock."
    )
    groups = page.locator("[data-urgency]")
    expect(groups.first).to_have_attribute("data-urgency", "emergency")
    expect(groups.first.locator(".action")).to_contain_text("Call emergency services now")
    # The clinic's emergency number, one tap away in the emergency group.
    expect(groups.first.locator('a.danger[href="tel:911"]')).to_contain_text("Call emergency services")
    expect(page.locator(".notice-saved")).to_have_count(0)
    if days == 20:
        assert_no_axe_violations(page, "when to call")
        assert tap_targets_smaller_than(page) == []
        phone_screenshot(page, "patient-when-to-call")

    # Offline after that first visit: the worker has the page and the last answer.
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    # The page needs both saved: who is signed in (me/) and the card (me/safety/). Waited for in the
    # page, by awaiting the cache's answer (a predicate returning a promise is truthy at once).
    assert page.evaluate("""async () => {
        for (let tries = 0; tries < 150; tries += 1) {
            const keys = await caches.open('prep-data').then((c) => c.keys());
            if (['/api/v1/me/', '/api/v1/me/safety/'].every((p) => keys.some((r) => r.url.endsWith(p)))) return true;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return false;
    }"""), "the worker did not save me/ and me/safety/"
    phone.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text("When to call")
    expect(page.locator(".notice-saved")).to_contain_text("This page was saved on")
    expect(page.locator('.care-team a[href="tel:+15550100"]')).to_be_visible()
    expect(page.locator('[data-urgency="emergency"] a[href="tel:911"]')).to_be_visible()
    expect(page.locator('[data-urgency="emergency"] .sign-list li').first).to_be_visible()
    phone.set_offline(False)


def test_the_first_two_weeks_show_the_signs_and_the_check_in_on_home(phone, riverside, carol, protocol_version):
    walt = recovering(riverside, carol, protocol_version, 3)
    page = sign_in(phone, walt)
    expect(page.locator(".signs-home .action")).to_contain_text("Call emergency services now")
    card = page.locator(".check-in-card")
    expect(card.get_by_role("heading", name="Today's check-in")).to_be_visible()
    card.get_by_role("link", name="Start today's check-in").click()
    expect(page.locator("h1")).to_have_text("Today's check-in")
    questions = page.locator("fieldset.question")
    expect(questions.first.locator("legend")).to_contain_text("back pain")
    # 0 to 10 as eleven large radio buttons.
    expect(questions.first.locator("input[type=radio]")).to_have_count(11)
    assert_no_axe_violations(page, "the check-in")
    assert tap_targets_smaller_than(page) == []
    phone_screenshot(page, "patient-check-in")

    # Left unanswered: said next to the question.
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator('[data-question="new-weakness"] .field-error')).to_have_text("Please answer this question.")

    answer(page, LEG_WEAKNESS)
    page.get_by_role("button", name="Send my answers").click()
    result = page.locator(".result-emergency")
    expect(result.locator("h1")).to_have_text("Call emergency services now")
    expect(result).to_contain_text("emergency services")
    expect(result.locator('a[href="tel:911"]')).to_contain_text("Call emergency services")
    expect(result.locator('a[href="tel:+15550100"]')).to_be_visible()
    expect(result).to_contain_text("weakness")
    assert_no_axe_violations(page, "the check-in's emergency answer")
    phone_screenshot(page, "patient-check-in-emergency")

    # Home again: today's check-in is done.
    page.get_by_role("link", name="Back to home").click()
    expect(page.locator(".check-in-card")).to_contain_text("Done. Thank you.")


def test_a_check_in_is_never_queued_offline(phone, riverside, carol, protocol_version):
    walt = recovering(riverside, carol, protocol_version, 3)
    page = sign_in(phone, walt)
    page.get_by_role("link", name="Start today's check-in").click()
    expect(page.locator("fieldset.question").first).to_be_visible()
    answer(page, LEG_WEAKNESS)
    phone.set_offline(True)
    page.get_by_role("button", name="Send my answers").click()
    box = page.locator("#check-in-not-sent")
    expect(box).to_contain_text("Your check-in was not sent")
    expect(box).to_contain_text("If you have a warning sign, do not wait: call now.")
    expect(box.locator('a[href="tel:911"]')).to_be_visible()
    expect(box.locator('a[href="tel:+15550100"]')).to_be_visible()
    phone.set_offline(False)
    assert not CheckIn.objects.filter(patient=walt).exists()


def test_the_day_of_card_shows_the_arrival_time_and_the_cut_offs(phone, riverside, carol, protocol_version):
    dora = enrol(riverside, carol, protocol_version, name="Dora Day", days=10)
    case = dora.cases.get()
    SurgeryCase.objects.filter(pk=case.pk).update(
        surgery_date=dora.local_today() + timedelta(days=1), surgery_time=time(8, 30), arrival_time=time(6, 30)
    )
    page = sign_in(phone, dora)
    expect(page.locator(".countdown .arrival")).to_have_text("Arrive at 6:30")
    card = page.locator(".day-of")
    expect(card.locator(".arrive")).to_contain_text("Arrive at 6:30 on ")
    # Eight hours without food and two without clear fluids before arriving (the clinic's defaults).
    expect(card).to_contain_text("no food after 22:30 on ")
    expect(card).to_contain_text("clear fluids (such as water) until 4:30 on ")
    expect(card).to_contain_text("Your care team will confirm these times with you.")
    expect(card).to_contain_text("diabetes medicines and blood thinners")
    expect(card).to_contain_text("stay with you for the first 24 hours")
    # Before surgery: no header button, a link on home, and the before-surgery signs.
    expect(page.locator("#call-top")).to_be_hidden()
    assert_no_axe_violations(page, "the day-of card")
    to_top(card)
    phone_screenshot(page, "patient-day-of")
    page.get_by_role("link", name="When to call your care team").click()
    expect(page.locator('[data-urgency="before_surgery"] h2')).to_have_text("Before your surgery: call before you come in")


def test_a_late_nsaid_user_is_told_to_stop_today(phone, riverside, carol, protocol_version):
    nina = enrol(riverside, carol, protocol_version, name="Nina Late", days=7, takes_nsaids=True)
    page = sign_in(phone, nina)
    step = page.get_by_role("link", name="Stop taking anti-inflammatory painkillers")
    expect(step.locator(".stop-badge")).to_have_text("Stop today")
    step.click()
    stop = page.locator(".stop-today")
    expect(stop.get_by_role("heading", name="Stop today")).to_be_visible()
    expect(stop.locator(".stop-text")).to_contain_text("Stop ibuprofen, naproxen and aspirin")
    assert_no_axe_violations(page, "a stop due today")


def test_the_coordinator_lifts_a_rule_and_the_patient_no_longer_sees_it(phone, desk, riverside, carol, protocol_version):
    from prepapp.workflows import safety

    from .test_coordinator import sign_in as staff_sign_in

    walt = recovering(riverside, carol, protocol_version, 10)
    # Three check-ins: pain easing, then a warning sign on day 10.
    for day, back, leg, weakness in ((8, 7, 5, "no"), (9, 5, 4, "no"), (10, 4, 3, "yes")):
        SurgeryCase.objects.filter(pk=walt.cases.get().pk).update(surgery_date=walt.local_today() - timedelta(days=day))
        safety.check_in_submit(patient=walt, answers={**LEG_WEAKNESS, "back-pain": back,
                                                        "leg-pain": leg, "new-weakness": weakness})
    page = sign_in(phone, walt)
    expect(page.locator('[data-rule="no-driving"]')).to_be_visible()

    staff = desk.new_page()
    staff_sign_in(staff)
    staff.goto(f"/coordinator/patients/{walt.id}/")
    rules = staff.locator("#rules-section")
    driving = rules.locator('[data-rule="no-driving"]')
    expect(driving).to_contain_text("Until lifted")
    check_ins = staff.locator("#check-ins-section")
    expect(check_ins.locator(".check-in-item")).to_have_count(3)
    expect(check_ins.locator(".check-in-item.is-red-flag")).to_have_count(1)
    # The answers in words, not the questions' keys.
    flagged = check_ins.locator(".check-in-item.is-red-flag")
    expect(flagged.locator("dl.answers dt").first).to_contain_text("back")
    expect(flagged).not_to_contain_text("new-weakness")
    expect(check_ins.locator(".trend-chart polyline")).to_have_count(2)
    expect(check_ins.locator("[data-pain-table] tbody tr")).to_have_count(3)
    expect(staff.locator("#alerts [data-alert-title]").first).to_contain_text("Warning sign in a check-in")
    driving.get_by_role("button", name="Lift…").click()
    driving.get_by_label("Note (optional): who allowed it, or why").fill("Dr. Okafor allows short drives")
    expect(driving.locator(".confirm-lift")).to_contain_text("The patient will be told it no longer applies.")
    assert_no_axe_violations(staff, "the rules and check-ins panels")
    # On a phone too: a coordinator on the ward.
    staff.set_viewport_size(PHONE_390)
    to_top(driving)
    phone_screenshot(staff, "coordinator-rules-check-ins")
    staff.set_viewport_size({"width": 1280, "height": 800})
    driving.get_by_role("button", name="Yes, lift it").click()
    expect(rules.locator('[data-rule="no-driving"]')).to_contain_text("Lifted by carol")
    expect(rules.locator('[data-reinstate="no-driving"]')).to_be_visible()

    page.reload()
    expect(page.locator(".rules")).to_be_visible()
    expect(page.locator('[data-rule="no-driving"]')).to_have_count(0)
    expect(page.locator('[data-ended="no-driving"]')).to_contain_text("No longer needed from")
