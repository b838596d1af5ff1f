"""After the surgery: marking it done, the recovery in the app's payloads, its reminders, the roster.

Recovery starts when a coordinator marks the surgery done, or on the day after the surgery
date. The phone then counts days (then weeks) after surgery and shows the protocol's stage.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from checklists.models import Task
from prepapp.models import AuditEntry, Patient, SurgeryCase
from prepapp.reminders import delivery, digest, outbox
from prepapp.reminders.models import DIGEST_RULE, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_cancel, case_complete, checklist_assign, patient_update

from .factories import days_from_today
from .support.journey import surgery_was
from .support.outbox import make_due, no_quiet_hours

ROSTER = reverse("roster")


def complete_url(case):
    return f"/api/v1/cases/{case.pk}/complete/"


@pytest.fixture
def ana(riverside, carol, protocol_version):
    """A Spanish-speaking patient booked with the protocol's procedure and the level added."""
    patient = patient_enrol(
        organization=riverside, full_name="Ana Castillo", time_zone="America/Mexico_City", language="es",
        weight_kg=Decimal("61"),
    )
    case = case_book(patient=patient, procedure="Minimally invasive lumbar fusion (L4-L5)", surgery_date=days_from_today(20))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return patient


def my_checklist(client):
    response = client.get("/api/v1/me/checklist/")
    assert response.status_code == 200, response.content
    return response.json()


def roster_row(client, name, **headers):
    response = client.get(ROSTER, **headers)
    assert response.status_code == 200, response.content
    return {row["full_name"]: row for row in response.json()["results"]}[name]


# --- Marking the surgery done -----------------------------------------------------------------


def test_carol_marks_the_surgery_done_on_its_day_and_it_is_audited(as_carol, carol, pat, pat_checklist):
    case = surgery_was(pat_checklist.case, days_ago=0)
    response = as_carol.post(complete_url(case))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    assert SurgeryCase.objects.get(pk=case.pk).status == SurgeryCase.Status.DONE
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="complete").count() == 1
    # Again: nothing changes, and it is still an answer, not an error.
    again = as_carol.post(complete_url(case))
    assert again.status_code == 200 and again.json()["status"] == "done"


def test_a_surgery_still_ahead_cannot_be_marked_done(as_carol, pat_checklist):
    response = as_carol.post(complete_url(pat_checklist.case))
    assert response.status_code == 400
    assert "it can be marked done from that day on" in response.json()["surgery_date"][0]
    assert SurgeryCase.objects.get(pk=pat_checklist.case.pk).status == SurgeryCase.Status.SCHEDULED


def test_a_cancelled_surgery_cannot_be_marked_done(as_carol, pat_checklist):
    case = surgery_was(pat_checklist.case, days_ago=1)
    case_cancel(case=case)
    response = as_carol.post(complete_url(case))
    assert response.status_code == 400
    assert response.json() == {"status": ["A cancelled surgery cannot be marked done."]}


def test_olga_the_patient_and_strangers_cannot_mark_it_done(client, as_olga, as_pat, pat_checklist):
    case = surgery_was(pat_checklist.case, days_ago=0)
    assert as_olga.post(complete_url(case)).status_code == 404
    assert as_pat.post(complete_url(case)).status_code == 403
    assert client.post(complete_url(case)).status_code == 401
    assert SurgeryCase.objects.get(pk=case.pk).status == SurgeryCase.Status.SCHEDULED


# --- The recovery in the app -------------------------------------------------------------------


def test_on_the_surgery_day_the_countdown_stays_until_it_is_marked_done(as_pat, pat_checklist):
    case = surgery_was(pat_checklist.case, days_ago=0)
    before = my_checklist(as_pat)["case"]
    assert (before["phase"], before["days_to_surgery"], before["recovery_stage"]) == ("preparation", 0, None)
    case_complete(case=case)
    after = my_checklist(as_pat)["case"]
    assert (after["phase"], after["days_after_surgery"], after["recovery_week"]) == ("recovery", 0, 1)
    assert after["recovery_stage"]["key"] == "first-days"


@pytest.mark.parametrize(
    "days_ago, week, stage",
    [(1, 1, "first-days"), (2, 1, "first-days"), (3, 1, "weeks-1-2"), (14, 2, "weeks-1-2"), (20, 3, "weeks-3-6"),
     (60, 9, "months-2-3"), (100, 15, "months-3-6"), (200, 29, "months-6-12"), (400, 58, None)],
)
def test_once_the_day_has_passed_the_app_shows_the_recovery_stage(as_pat, pat_checklist, days_ago, week, stage):
    surgery_was(pat_checklist.case, days_ago=days_ago)  # not marked done: the date alone is enough
    case = my_checklist(as_pat)["case"]
    assert case["phase"] == "recovery"
    assert (case["days_after_surgery"], case["recovery_week"]) == (days_ago, week)
    assert (case["recovery_stage"] or {}).get("key") == stage


def test_the_stage_and_procedure_in_spanish(ana, riverside):
    from .conftest import client_for

    surgery_was(ana.cases.get(), days_ago=20)
    as_ana = client_for(ana.user)
    payload = my_checklist(as_ana)
    case = payload["case"]
    assert case["procedure"] == "Fusión lumbar mínimamente invasiva (L4-L5)"
    assert case["recovery_stage"] == {
        "key": "weeks-3-6", "label": "Semanas 3 a 6: fisioterapia, menos analgésicos fuertes, trabajo de escritorio",
        "start_day": 15, "end_day": 42,
    }
    assert payload["protocol"]["procedure"] == "Fusión lumbar mínimamente invasiva"
    assert payload["protocol"]["summary"].startswith("La preparación")
    assert [s["key"] for s in payload["protocol"]["recovery_stages"]][-1] == "months-6-12"
    # The case endpoint says the same, and English on request keeps the typed procedure.
    me_case = as_ana.get("/api/v1/me/case/").json()
    assert me_case["procedure"] == "Fusión lumbar mínimamente invasiva (L4-L5)"
    assert me_case["recovery_stage"]["label"].startswith("Semanas 3 a 6")
    calendar = as_ana.get("/api/v1/me/calendar.ics").content.decode().replace("\r\n ", "")
    assert "SUMMARY:Cirugía: Fusión lumbar mínimamente invasiva (L4-L5)" in calendar
    english = as_ana.get("/api/v1/me/checklist/", {"lang": "en"}).json()["case"]
    assert english["procedure"] == "Minimally invasive lumbar fusion (L4-L5)"
    assert english["recovery_stage"]["label"].startswith("Weeks 3–6")


def test_the_preparation_span_comes_from_the_protocol(as_pat, pat_checklist):
    protocol = my_checklist(as_pat)["protocol"]
    assert protocol["preparation_weeks"] == {"min": 4, "max": 8}
    assert "4 to 8 weeks" in protocol["summary"]


# --- Reminders go on after the surgery ---------------------------------------------------------


def test_recovery_steps_keep_their_reminders_once_the_surgery_is_done(pat, pat_checklist, django_capture_on_commit_callbacks):
    """One message per step: the recovery's rows stay and go out; the preparation's are cancelled."""
    patient_update(patient=pat, reminder_style=Patient.ReminderStyle.PER_STEP)
    no_quiet_hours(pat)
    first_walk = Task.objects.get(checklist=pat_checklist, definition__key="first-walk")
    planned = Reminder.objects.filter(task=first_walk, status=Reminder.Status.PENDING)
    assert planned.exists(), "a recovery step is reminded from the day it is assigned"
    case = surgery_was(pat_checklist.case, days_ago=0)
    case_complete(case=case)
    # Marking it done leaves the recovery's reminders; preparation ones still pending are cancelled.
    assert Reminder.objects.filter(task=first_walk, status=Reminder.Status.PENDING).count() == planned.count()
    assert not Reminder.objects.filter(
        task__checklist=pat_checklist, task__definition__offset_days__lte=0, status=Reminder.Status.PENDING
    ).exists()

    # Everything that falls due now goes through the real sweeper and delivery.
    rows = make_due(pat, channels=[Reminder.Channel.INAPP])
    with django_capture_on_commit_callbacks(execute=True):
        outbox.sweep(enqueue=lambda channel, ids, token: delivery.deliver_batch(ids=ids, token=token, channel=channel))
    by_phase = {"recovery": set(), "preparation": set()}
    for row in Reminder.objects.filter(pk__in=[r.pk for r in rows]).select_related("task__definition"):
        by_phase[row.task.definition.phase].add((row.status, row.last_error if row.status != "sent" else ""))
    assert by_phase["recovery"] == {(Reminder.Status.SENT, "")}
    assert by_phase["preparation"] == {(Reminder.Status.CANCELLED, "surgery done: a preparation step")}


def test_the_daily_digest_goes_on_with_the_recovery_alone(pat, pat_checklist, django_capture_on_commit_callbacks):
    """The digest, everyone's default: after the surgery it lists the recovery's steps, not the preparation's."""
    assert pat.reminder_style == Patient.ReminderStyle.DIGEST
    no_quiet_hours(pat)
    case = case_complete(case=surgery_was(pat_checklist.case, days_ago=0))
    today = pat.local_today()
    digests = Reminder.objects.filter(patient=pat, rule=DIGEST_RULE, status=Reminder.Status.PENDING)
    first_walk = Task.objects.get(checklist__case=case, definition__key="first-walk")
    assert digests.filter(anchor_date=first_walk.window_start).exists(), "the day the first walk opens has a digest"
    assert not digests.filter(anchor_date__lte=today).exists(), "no digest left about the preparation"

    # The first walk's day comes: its digest goes out in the app and names the recovery's steps only.
    Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).update(send_at=timezone.now() + timedelta(days=400))
    row = digests.get(anchor_date=first_walk.window_start, channel=Reminder.Channel.INAPP)
    Reminder.objects.filter(pk=row.pk).update(send_at=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        outbox.sweep(enqueue=lambda channel, ids, token: delivery.deliver_batch(ids=ids, token=token, channel=channel))
    row.refresh_from_db()
    assert row.status == Reminder.Status.SENT, row.last_error
    content = digest.build(pat, row.anchor_date)
    assert content.items and {item.definition.phase for item in content.items} == {"recovery"}
    assert "first-walk" in {item.definition.key for item in content.items}


# --- Where each patient is, on the roster ------------------------------------------------------


def test_the_roster_shows_who_is_preparing_and_who_is_recovering(as_carol, pat, pat_checklist, ana):
    surgery_was(ana.cases.get(), days_ago=20)
    preparing = roster_row(as_carol, "Pat Example")
    assert (preparing["phase"], preparing["days_to_surgery"], preparing["recovery_stage"]) == ("preparation", 35, None)
    recovering = roster_row(as_carol, "Ana Castillo")
    assert (recovering["phase"], recovering["days_after_surgery"], recovering["recovery_week"]) == ("recovery", 20, 3)
    assert recovering["recovery_stage"] == {
        "key": "weeks-3-6", "label": "Weeks 3–6: physical therapy, fewer strong painkillers, desk work",
    }
    assert recovering["days_to_surgery"] is None  # still scheduled, but its day has passed
    spanish = roster_row(as_carol, "Ana Castillo", HTTP_ACCEPT_LANGUAGE="es")
    assert spanish["recovery_stage"]["label"].startswith("Semanas 3 a 6")


def test_after_the_surgery_only_recovery_steps_count_as_overdue(as_carol, ana):
    case = surgery_was(ana.cases.get(), days_ago=20)
    case_complete(case=case)
    today = ana.local_today()
    open_past = Task.objects.filter(checklist__case=case, status=Task.Status.OPEN, due_date__lt=today)
    recovery_past = open_past.filter(definition__offset_days__gt=0)
    assert open_past.filter(definition__offset_days__lte=0).exists(), "preparation steps were left open"
    assert {t.definition.key for t in recovery_past.select_related("definition")} == {
        # Her blood thinners are not known yet: the restart step is on her list, flagged.
        "first-walk", "restart-blood-thinner", "wound-checks",
    }
    row = roster_row(as_carol, "Ana Castillo")
    assert (row["phase"], row["case"]["status"], row["overdue"]) == ("recovery", "done", recovery_past.count())


def test_the_patient_page_offers_marking_done_from_the_surgery_day_and_then_shows_the_recovery(
    client, carol, pat, pat_checklist
):
    client.force_login(carol)
    page = reverse("coordinator:patient", args=[pat.pk])
    assert 'data-action="complete"' not in client.get(page).content.decode()
    case = surgery_was(pat_checklist.case, days_ago=0)
    assert 'data-action="complete"' in client.get(page).content.decode()
    case_complete(case=case)
    surgery_was(case, days_ago=20)
    html = client.get(page).content.decode()
    assert 'data-action="complete"' not in html
    recovery = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'data-field="recovery">(.*?)</dd>', html, re.S).group(1)).split())
    assert recovery == "Week 3 of recovery Weeks 3–6: physical therapy, fewer strong painkillers, desk work"
    assert "the recovery steps below are still reminded" in html
