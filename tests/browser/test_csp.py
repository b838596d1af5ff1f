"""Every page works under the Content-Security-Policy: Chromium reports no violation.

The patient's screens, the coordinator pages, the admin and the API docs are opened in
Chromium while every `securitypolicyviolation` event and every console message about the
Content Security Policy (or a Permissions-Policy the browser cannot parse) is collected.
Unlike the other browser tests' contexts, these enforce the policy (see conftest.py), so
they use no Playwright helper that runs as a page script (axe-core, wait_for_function).
"""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from checklists.models import Task

from ..support.second_factor import code_for
from .conftest import PHONE

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"  # the factories' password

# Runs in every page before its own scripts, so a violation while the page loads is caught too.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "?"} on ${location.pathname}` +
    ` (${event.sourceFile || "the page"}:${event.lineNumber})`
  );
});
"""


@pytest.fixture
def strict_phone(browser, live_server):
    """conftest.py's `phone`, with the policy enforced."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=live_server.url,
        bypass_csp=False,
    )
    yield context
    context.close()


@pytest.fixture
def strict_desk(browser, live_server):
    """conftest.py's `desk`, with the policy enforced."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url, bypass_csp=False)
    yield context
    context.close()


def watch_policy_problems(context) -> list[str]:
    """Collect, for every page of the context, what the browser refused or could not parse."""
    problems: list[str] = []

    def on_violation(text: str):
        problems.append(text)

    context.expose_function("reportCspViolation", on_violation)
    context.add_init_script(REPORT_VIOLATIONS)

    def on_console(message):
        text = message.text
        if "Content Security Policy" in text or "Permissions-Policy" in text:
            problems.append(f"console {message.type}: {text}")

    context.on("console", on_console)
    return problems


def test_the_patient_screens(strict_phone, pat_checklist, pat):
    problems = watch_policy_problems(strict_phone)
    patient = pat_checklist.case.patient
    step = Task.objects.get(checklist=pat_checklist, definition__key="protein-target")
    questions = Task.objects.get(checklist=pat_checklist, definition__key="surgeon-questions")
    page = strict_phone.new_page()

    page.goto(f"/join/#{pat.invitation_code}")  # the code is on the enrolled instance only
    expect(page.locator("h1")).to_have_text(f"{patient.cases.get().days_to_surgery()} days to your surgery")
    # The service worker installs and takes over; later screens come through it.
    page.evaluate(
        """() => navigator.serviceWorker.controller || new Promise((resolve) =>
            navigator.serviceWorker.addEventListener("controllerchange", resolve, {once: true}))"""
    )
    page.goto(f"/tasks/{step.id}/")
    expect(page.locator("h1")).to_have_text(step.definition.title)
    page.goto(f"/tasks/{questions.id}/")
    expect(page.get_by_role("button", name="Save my answers")).to_be_visible()
    page.goto("/inbox/")
    expect(page.locator("h1")).to_have_text("Messages")
    page.goto("/settings/")
    expect(page.locator("h1")).to_have_text("Settings")
    # Drawn by the app without a reload: the same document, the same nonce.
    page.get_by_role("link", name="Home").click()
    expect(page.locator("h1")).to_contain_text("days to your surgery")

    assert problems == []


def test_the_coordinator_pages(strict_desk, carol, pat_checklist):
    problems = watch_policy_problems(strict_desk)
    patient = pat_checklist.case.patient
    page = strict_desk.new_page()

    page.goto("/coordinator/")
    page.get_by_label("Username").fill(carol.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Roster", level=1)).to_be_visible()
    expect(page.locator("table.roster progress.bar")).to_have_count(1)  # the share done, styled without style=""
    page.goto("/coordinator/enrol/")
    expect(page.get_by_role("heading", name="Enrol patient", level=1)).to_be_visible()
    page.goto(f"/coordinator/patients/{patient.id}/")
    expect(page.get_by_role("heading", name=patient.full_name, level=1)).to_be_visible()
    expect(page.locator("[data-checklist] [data-group]").first).to_be_visible()
    expect(page.locator("[data-deliveries]")).not_to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Cancel surgery…").click()  # the dialog opens and is closed again
    page.get_by_role("button", name="Keep it").click()

    assert problems == []


def sign_in_to_the_admin(page, user):
    page.goto("/admin/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    # The admin asks for the second factor with the password (the phone's code, as it shows now).
    page.locator("#id_otp_token").fill(code_for(TOTPDevice.objects.get(user=user)))
    page.locator("input[type=submit]").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_the_admin_and_the_api_docs(strict_desk, lead_admin):
    problems = watch_policy_problems(strict_desk)
    page = strict_desk.new_page()

    sign_in_to_the_admin(page, lead_admin)
    # A form with the admin's own scripts (the permission pickers, the password widget).
    page.goto(f"/admin/auth/user/{lead_admin.pk}/change/")
    expect(page.locator("#id_user_permissions_add_all")).to_be_visible()

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Pre-operative preparation API")
    operation = page.locator(".opblock").first
    operation.locator(".opblock-summary").click()
    expect(operation.get_by_role("button", name="Try it out")).to_be_visible()

    assert problems == []


def test_redoc_only_misses_its_makers_logo(strict_desk, lead_admin):
    """Redoc works under its page's policy; its footer logo, on its makers' server, stays out."""
    problems = watch_policy_problems(strict_desk)
    page = strict_desk.new_page()
    sign_in_to_the_admin(page, lead_admin)

    page.goto("/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("Pre-operative preparation API")
    page.get_by_placeholder("Search...").fill("checklist")
    expect(page.locator("[data-role='search:results'] [role=menuitem]").first).to_be_visible()

    assert [p for p in problems if "https://cdn.redoc.ly/" not in p] == []
