"""The patient's app in Chromium on a phone, against the live server and the real API.

Sign in from the invitation link, read the countdown and the week's steps, open a step
with personal amounts, tick it off and undo, note answers for the surgeon, go offline and
tick a step off (it waits on the phone and is sent when the signal is back), read the
reminders in the inbox, change the settings and the language. axe-core checks every
screen; other tests cover the Spanish interface, text at 200 %, tap targets, the manifest,
the service worker and a Web Push message arriving.
"""

import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from checklists.models import Task
from prepapp.models import Patient
from prepapp.reminders import delivery, outbox
from prepapp.reminders.models import InboxMessage
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from ..factories import days_from_today
from ..support.outbox import make_due, no_quiet_hours
from .a11y import assert_no_axe_violations, tap_targets_smaller_than
from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser



# --- Helpers ------------------------------------------------------------------------------------


def phone_screenshot(page, name: str):
    """What the phone's screen shows (the viewport), for the README.

    Like the shared `screenshot()`: the committed pictures are replaced only with
    UPDATE_SCREENSHOTS=1; other runs write them to a scratch folder.
    """
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        folder = SCREENSHOTS
    else:
        folder = Path(tempfile.gettempdir()) / "prepapp-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def wait_for_worker(page):
    """The service worker controls the page (it claims the page as soon as it is active)."""
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")


def task_of(patient, key) -> Task:
    return Task.objects.get(checklist__case__patient=patient, definition__key=key)


def enrol(riverside, carol, protocol_version, *, name, language="en", days=30, **facts) -> Patient:
    patient = patient_enrol(
        organization=riverside, full_name=name, contact_email=f"{name.split()[0].lower()}@example.org",
        time_zone="America/New_York", language=language, **facts,
    )
    case = case_book(
        patient=patient, procedure="Minimally invasive lumbar fusion", surgeon="Dr. Imani Okafor",
        surgery_date=days_from_today(days),
    )
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return patient


@pytest.fixture
def rosa(riverside, carol, protocol_version):
    """A smoker taking painkillers, 80 kg, 30 days from surgery: steps this week, earlier and later."""
    return enrol(riverside, carol, protocol_version, name="Rosa Alvarez", weight_kg=Decimal("80"),
                 smoker=True, takes_nsaids=True)


@pytest.fixture
def ana(riverside, carol, protocol_version):
    return enrol(riverside, carol, protocol_version, name="Ana Castillo", language="es", weight_kg=Decimal("61"))


def deliver_in_app_reminders(patient, count: int):
    """Two reminders fall due and go through the real sweeper and in-app delivery."""
    no_quiet_hours(patient)
    make_due(patient, channels=["inapp"], limit=count)
    outbox.sweep(enqueue=lambda channel, ids, token: delivery.deliver_batch(ids=ids, token=token, channel=channel))
    assert InboxMessage.objects.filter(patient=patient).count() == count


# --- The journey ------------------------------------------------------------------------------------


def test_the_patient_journey(phone, rosa):
    days = rosa.cases.get().days_to_surgery()
    smoking, protein, questions = (task_of(rosa, k) for k in ("stop-smoking", "protein-target", "surgeon-questions"))
    page = phone.new_page()

    # The invitation link signs in and lands on the countdown; the code leaves the address bar.
    page.goto(f"/join/#{rosa.invitation_code}")
    expect(page.locator("h1")).to_have_text(f"{days} days to your surgery")
    assert page.url.endswith("/") and rosa.invitation_code not in page.url
    expect(page.locator(".countdown")).to_have_attribute("aria-live", "polite")
    week = page.locator(".group-week")
    expect(week.locator("h2")).to_have_text("To do this week")
    expect(week.locator(".task", has_text=smoking.definition.title)).to_contain_text("Lifestyle")
    # Prehab's planned day (6 weeks before) passed before she was enrolled, but its window is open:
    # it is "start now" this week, not overdue.
    expect(week.locator(".task", has_text="Start physical therapy before surgery")).to_contain_text("Start now, by ")
    expect(page.locator(".group-overdue")).to_have_count(0)
    expect(page.get_by_role("heading", name="Next week")).to_be_visible()
    total = Task.objects.filter(checklist__case__patient=rosa).count()
    expect(page.get_by_text(f"0 of {total} steps done")).to_be_visible()
    # Dates are written out: "By Sunday 13 December".
    expect(week.locator(".task-when", has_text=re.compile("^By ")).first).to_have_text(
        re.compile(r"^By \w+day \d{1,2} \w+$")
    )
    # Six weeks without nicotine cannot be had 30 days ahead: she is asked to call her care team.
    expect(week.locator(".task", has_text=smoking.definition.title)).to_contain_text("Call your care team about this step")
    expect(page.locator(".urgent")).to_contain_text("Your surgery is in only 30 days")
    wait_for_worker(page)
    assert_no_axe_violations(page, "home")
    phone_screenshot(page, "patient-home")

    # A step with figures for this patient: protein for 80 kg is 96–128 g a day.
    page.get_by_role("link", name=protein.definition.title).click()
    expect(page.locator("h1")).to_have_text(protein.definition.title)
    expect(page.locator(".figures")).to_contain_text("96–128 g a day")
    expect(page.get_by_role("heading", name="Why it matters")).to_be_visible()
    assert_no_axe_violations(page, "a step")
    phone_screenshot(page, "patient-task")

    # Tick it off, then undo; the server follows each time and screen readers hear it.
    page.get_by_role("button", name="Mark as done").click()
    expect(page.locator(".state-done")).to_contain_text("Done on")
    expect(page.locator("#announcer")).to_have_text(f"Marked as done: {protein.definition.title}")
    protein.refresh_from_db()
    assert protein.status == Task.Status.DONE
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("button", name="Mark as done")).to_be_focused()
    protein.refresh_from_db()
    assert protein.status == Task.Status.OPEN

    # The questions for the surgeon, with room for the answers.
    page.get_by_role("link", name="My checklist").click()
    page.get_by_role("link", name=questions.definition.title).click()
    first_question = questions.definition.sub_items[0]
    page.get_by_label(first_question["text"]).fill("About 200 a year")
    page.get_by_role("button", name="Save my answers").click()
    expect(page.locator(".answers .save-status")).to_have_text("Saved.")
    questions.refresh_from_db()
    assert questions.answers[first_question["key"]] == "About 200 a year"
    page.locator("#h-answers").scroll_into_view_if_needed()
    assert_no_axe_violations(page, "the questions for the surgeon")
    phone_screenshot(page, "patient-questions")

    # The visit sheet, one tap away: the same sheet the PDF is made of, with a Print button.
    with page.expect_popup() as opened:
        page.get_by_role("link", name="Print my visit sheet").click()
    sheet = opened.value
    expect(sheet.locator("h1")).to_have_text(f"My visit sheet: {rosa.full_name}")
    expect(sheet.locator("ol.questions")).to_contain_text("About 200 a year")
    expect(sheet.get_by_role("link", name="Download as PDF")).to_have_attribute("href", re.compile(r"visit-sheet\.pdf"))
    assert_no_axe_violations(sheet, "the visit sheet page")
    phone_screenshot(sheet, "patient-visit-sheet-page")
    sheet.evaluate("window.print = () => { window.printAsked = true; }")
    sheet.get_by_role("button", name="Print").click()
    sheet.wait_for_function("window.printAsked === true")
    sheet.close()

    # Offline: the app still opens, a step is ticked off and waits on the phone.
    page.reload()  # the data now comes through the worker, which keeps a copy
    expect(page.locator("h1")).to_have_text(questions.definition.title)
    phone.set_offline(True)
    page.goto("/")
    expect(page.locator("h1")).to_have_text(f"{days} days to your surgery")
    expect(page.locator("#offline")).to_be_visible()
    page.get_by_role("link", name=smoking.definition.title).click()
    page.get_by_role("button", name="Mark as done").click()
    expect(page.locator("#sync")).to_have_text("1 change waiting to be sent")
    expect(page.locator("#task-action")).to_contain_text("Waiting to be sent")
    page.get_by_role("link", name="My checklist").click()
    expect(page.locator(".task.is-done")).to_contain_text(smoking.definition.title)
    smoking.refresh_from_db()
    assert smoking.status == Task.Status.OPEN  # not sent yet
    assert_no_axe_violations(page, "home, offline with a change waiting")
    page.locator(".task.is-done").evaluate("node => node.scrollIntoView({block: 'center'})")
    phone_screenshot(page, "patient-offline")

    # Back online: the change is sent by itself and the banner goes away.
    phone.set_offline(False)
    expect(page.locator("#sync")).to_be_hidden()
    smoking.refresh_from_db()
    assert smoking.status == Task.Status.DONE
    expect(page.locator("#offline")).to_be_hidden()

    # Settings: reminder time and channels.
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("h1")).to_have_text("Settings")
    # The notifications control speaks of this phone only: no iPhone advice on this (non-Apple) browser.
    expect(page.locator("section#push")).to_have_attribute("data-push-state", re.compile(r".+"))
    expect(page.get_by_text("Add to Home Screen")).to_have_count(0)
    page.get_by_label("Time of day for reminders").fill("18:30")
    page.get_by_label("Email", exact=True).uncheck()
    page.get_by_role("button", name="Save my settings").click()
    expect(page.get_by_text("Your settings have been saved.")).to_be_visible()
    rosa.refresh_from_db()
    assert rosa.reminder_time.strftime("%H:%M") == "18:30" and rosa.email_enabled is False
    assert_no_axe_violations(page, "settings")
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    phone_screenshot(page, "patient-settings")

    # Reminders arrive in the inbox; the badge counts the unread ones.
    deliver_in_app_reminders(rosa, 2)
    page.reload()
    expect(page.locator("#unread-badge")).to_have_text("2 unread")
    page.get_by_role("link", name="Messages 2 unread").click()
    expect(page.locator("h1")).to_have_text("Messages")
    expect(page.locator(".msg.is-unread")).to_have_count(2)
    assert_no_axe_violations(page, "the inbox")
    phone_screenshot(page, "patient-inbox")
    first = InboxMessage.objects.filter(patient=rosa).order_by("-created_at", "-id").first()
    page.locator(".msg").first.get_by_role("link", name="Open this step").click()
    expect(page.locator("h1")).to_have_text(first.task.definition.localized("en")["title"])
    expect(page.locator("#unread-badge")).to_have_text("1 unread")
    first.refresh_from_db()
    assert first.read_at is not None

    # Switching the language redraws the whole app in Spanish.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Language", exact=True).select_option("es")
    page.get_by_role("button", name="Save my settings").click()
    expect(page.locator("h1")).to_have_text("Configuración")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.get_by_role("link", name="Inicio").click()
    expect(page.locator("h1")).to_have_text(f"Faltan {days} días para su cirugía")


def test_the_spanish_interface(phone, ana):
    days = ana.cases.get().days_to_surgery()
    protein = task_of(ana, "protein-target")
    page = phone.new_page()
    page.goto(f"/join/#{ana.invitation_code}")
    expect(page.locator("h1")).to_have_text(f"Faltan {days} días para su cirugía")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Para hacer esta semana")).to_be_visible()
    expect(page.locator(".surgery-date")).to_contain_text(" de ")  # "Cirugía el domingo, 20 de diciembre"
    expect(page.get_by_role("link", name="Coma suficiente proteína todos los días")).to_contain_text("Alimentación")
    expect(page.get_by_role("navigation")).to_contain_text("Mensajes")
    assert_no_axe_violations(page, "the Spanish home")
    phone_screenshot(page, "patient-home-es")

    page.get_by_role("link", name="Coma suficiente proteína todos los días").click()
    expect(page.locator(".figures")).to_contain_text("73–98 g al día")
    page.get_by_role("button", name="Marcar como hecho").click()
    expect(page.locator(".state-done")).to_contain_text("Hecho el")
    expect(page.get_by_role("button", name="Deshacer")).to_be_visible()
    protein.refresh_from_db()
    assert protein.status == Task.Status.DONE
    assert_no_axe_violations(page, "a Spanish step")

    # A screen loaded later brings its own Spanish strings (not in the shell's catalog), and
    # offline they come from what the service worker keeps.
    page.get_by_role("link", name="Configuración").click()
    expect(page.get_by_label("Idioma", exact=True)).to_be_visible()
    wait_for_worker(page)
    page.goto("/")
    expect(page.locator("h1")).to_have_text(f"Faltan {days} días para su cirugía")
    phone.set_offline(True)
    page.goto("/when-to-call/")
    expect(page.locator("main")).to_contain_text("Si tiene alguna de estas:")
    phone.set_offline(False)


def test_text_at_200_percent_and_tap_targets(phone, rosa):
    protein = task_of(rosa, "protein-target")
    page = phone.new_page()
    page.goto(f"/join/#{rosa.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    for path, label in [("/", "home"), (f"/tasks/{protein.id}/", "a step"), ("/inbox/", "the inbox"),
                        ("/settings/", "settings")]:
        page.goto(path)
        page.wait_for_selector(".screen-title")
        page.wait_for_load_state("networkidle")
        assert tap_targets_smaller_than(page) == [], label
        # The phone's text size setting at 200 %: every size in the app follows the root font size.
        page.evaluate("document.documentElement.style.fontSize = '225%'")  # 2 × the app's 112.5 %
        assert page.evaluate("getComputedStyle(document.body).fontSize") == "36px"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{label} scrolls sideways at 200 % text"
        assert tap_targets_smaller_than(page) == [], f"{label} at 200 % text"
        page.evaluate("document.documentElement.style.fontSize = ''")
    page.goto(f"/tasks/{protein.id}/")
    page.evaluate("document.documentElement.style.fontSize = '225%'")
    page.get_by_role("button", name="Mark as done").click()  # still reachable and usable
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    protein.refresh_from_db()
    assert protein.status == Task.Status.DONE


def test_signing_in_with_a_code_seeing_only_ones_own_steps_and_signing_out(phone, rosa, ana):
    page = phone.new_page()
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Welcome")
    expect(page.get_by_role("navigation")).to_be_hidden()
    page.get_by_label("Your code").fill("WRONG234")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("This code is not valid. Please check it with your care team.")
    assert_no_axe_violations(page, "the sign-in with an error")
    page.get_by_label("Your code").fill(rosa.invitation_code.lower())
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_contain_text("days to your surgery")

    # Another patient's step does not exist for Rosa.
    page.goto(f"/tasks/{task_of(ana, 'protein-target').id}/")
    expect(page.locator("h1")).to_have_text("Step not found")
    assert page.request.get(f"/api/v1/me/tasks/{task_of(ana, 'protein-target').id}/").status == 404

    # Signing out leaves nothing personal on the phone.
    page.goto("/settings/")
    page.get_by_role("button", name="Sign out of this phone").click()
    expect(page.locator("h1")).to_have_text("Welcome")
    saved = page.evaluate("caches.open('prep-data').then(c => c.keys()).then(keys => keys.map(r => r.url))")
    assert saved == []
    assert page.request.get("/api/v1/me/checklist/").status == 401  # signed out: anonymous


def vapid_public_key() -> str:
    """A fresh P-256 public key in the form browsers take (made at run time, never stored)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


# The notifications opt-in, state by state: tests/browser/test_push_opt_in.py.


# --- Installable ------------------------------------------------------------------------------------


def test_the_manifest_and_the_service_worker(phone, live_server):
    page = phone.new_page()
    page.goto("/")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["name"] == "Getting ready for surgery" and manifest["short_name"]
    purposes = set()
    for icon in manifest["icons"]:
        image = page.request.get(icon["src"])
        assert image.ok and image.headers["content-type"] == "image/png", icon["src"]
        size = page.evaluate(
            """async (src) => { const b = await createImageBitmap(await (await fetch(src)).blob());
                               return `${b.width}x${b.height}`; }""",
            icon["src"],
        )
        assert size == icon["sizes"]
        purposes.add(icon["purpose"])
    assert {"any", "maskable"} <= purposes

    worker = page.request.get("/sw.js")
    assert worker.headers["service-worker-allowed"] == "/"
    assert "no-cache" in worker.headers["cache-control"]
    wait_for_worker(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == live_server.url + "/"
    # The whole shell is saved on the phone at install.
    cached = page.evaluate(
        """async () => { const urls = [];
            for (const name of await caches.keys()) {
                for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
            }
            return urls; }"""
    )
    for path in ["/", "/static/frontend/patient/app.js", "/static/frontend/patient/screens/home.js",
                 "/static/frontend/patient/app.css", "/app-i18n/en.js", "/app-i18n/es.js"]:
        assert path in cached


def test_a_push_message_shows_a_notification_that_leads_to_the_step(phone, rosa, live_server):
    """A Web Push message, delivered to the worker by Chromium itself, becomes a notification."""
    questions = task_of(rosa, "surgeon-questions")
    phone.grant_permissions(["notifications"], origin=live_server.url)
    page = phone.new_page()
    page.goto(f"/join/#{rosa.invitation_code}")
    expect(page.locator("h1")).to_contain_text("days to your surgery")
    wait_for_worker(page)

    cdp = phone.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):  # Chromium reports the registrations shortly after enabling the domain
        ours = [r for r in registrations if r["scopeURL"] == live_server.url + "/" and not r["isDeleted"]]
        if ours:
            break
        page.wait_for_timeout(100)
    registration = ours[-1]
    payload = '{"title": "Coming up: Ask your surgeon these 10 questions", "body": "Due on Sunday.", ' \
              f'"url": "/#/tasks/{questions.id}", "tag": "task-{questions.id}"}}'
    shown = None
    # The worker shows it asynchronously. On a busy machine Chromium may drop a message that
    # arrives while the worker is still starting, so it is delivered again (same tag: one
    # notification) if nothing appeared within 10 s.
    for _attempt in range(3):
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": live_server.url, "registrationId": registration["registrationId"], "data": payload})
        for _ in range(100):
            shown = page.evaluate(
                """navigator.serviceWorker.ready.then(r => r.getNotifications())
                     .then(([n]) => n && {title: n.title, body: n.body, url: n.data.url, tag: n.tag})"""
            )
            if shown:
                break
            page.wait_for_timeout(100)
        if shown:
            break
    assert shown == {
        "title": "Coming up: Ask your surgeon these 10 questions", "body": "Due on Sunday.",
        "url": f"/tasks/{questions.id}", "tag": f"task-{questions.id}",
    }
    # The old "/#/tasks/<id>" link form opens the same screen as "/tasks/<id>/".
    page.goto(f"/#/tasks/{questions.id}")
    expect(page.locator("h1")).to_have_text(questions.definition.title)
    assert page.url.endswith(f"/tasks/{questions.id}")

