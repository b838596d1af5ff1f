"""Moves are announced: booking, moving and cancelling a surgery tell the patient through the outbox.

Each announcement is one outbox row per channel (in the app always, push and email as the
patient chose), claimed and delivered like any reminder: real PostgreSQL, the real SMTP
server on loopback, the Web Push stand-in. The message names the old and the new date and
the steps whose dates changed, in the patient's language.
"""

from datetime import time, timedelta

import pytest
from django.utils import timezone, translation

from checklists.models import Task
from prepapp.reminders import announcements
from prepapp.reminders.announcements import send_at_for
from prepapp.reminders.compose import announcement_texts, day_text
from prepapp.reminders.models import Announcement, InboxMessage, Reminder
from prepapp.workflows import case_book, case_reschedule, checklist_assign, patient_update

from .factories import days_from_today
from .support.fixtures import subscribe
from .support.outbox import deliver_all, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


def only_announcements_due(patient):
    """Step reminders that happen to be due now would go out too: these tests look at announcements only."""
    Reminder.objects.filter(patient=patient, task__isnull=False).delete()


def spanish(day) -> str:
    with translation.override("es"):
        return day_text(day)


@pytest.fixture
def quiet_pat(pat):
    no_quiet_hours(pat)
    return pat


def test_moving_the_surgery_tells_the_patient_in_the_app_and_by_email(
    quiet_pat, pat_checklist, as_carol, email_to_sink, django_capture_on_commit_callbacks
):
    pat = quiet_pat
    # "Both": email planned beside push (the default, push then email, is checked below).
    patient_update(patient=pat, channel_policy="both")
    case = pat_checklist.case
    old_date, new_date = case.surgery_date, case.surgery_date + timedelta(days=14)
    grab_bars = Task.objects.get(checklist=pat_checklist, definition__key="grab-bars")
    done = Task.objects.get(checklist=pat_checklist, definition__key="protein-target")
    done.status = Task.Status.DONE
    done.save()

    response = as_carol.post(f"/api/v1/cases/{case.id}/reschedule/", {"surgery_date": str(new_date)}, format="json")
    assert response.status_code == 200
    announcement = Announcement.objects.get(patient=pat, event=Announcement.Event.MOVED)
    assert (announcement.old_date, announcement.new_date) == (old_date, new_date)
    moved = {s["definition"]: s for s in announcement.steps}
    assert moved[grab_bars.definition_id] == {
        "definition": grab_bars.definition_id, "old_due": str(grab_bars.due_date),
        "new_due": str(grab_bars.due_date + timedelta(days=14)),
    }
    assert done.definition_id not in moved  # done steps keep their dates
    # One outbox row per channel: the app, push and email (Pat keeps all three on, both at once).
    rows = Reminder.objects.filter(announcement=announcement)
    assert {(r.kind, r.channel, r.status) for r in rows} == {
        ("announcement", channel, "pending") for channel in (INAPP, PUSH, EMAIL)
    }

    only_announcements_due(pat)
    deliver_all(django_capture_on_commit_callbacks)

    message = InboxMessage.objects.get(patient=pat, title__startswith="Your surgery has moved")
    assert message.title == f"Your surgery has moved to {day_text(new_date)}"
    assert f"It was planned for {day_text(old_date)}. It is now on {day_text(new_date)}." in message.body
    grab_line = (f"• Install grab bars in your bathroom: now {day_text(grab_bars.due_date + timedelta(days=14))} "
                 f"(was {day_text(grab_bars.due_date)})")
    assert grab_line in message.body.splitlines()
    assert "Eat enough protein" not in message.body
    assert Reminder.objects.get(announcement=announcement, channel=INAPP).status == Reminder.Status.SENT

    # No push subscription: the push row is skipped and email, already planned, is not doubled.
    assert Reminder.objects.get(announcement=announcement, channel=PUSH).status == Reminder.Status.SKIPPED
    emails = [m for m in email_to_sink.received() if m["Subject"].startswith("Your surgery has moved")]
    assert len(emails) == 1 and emails[0]["To"] == "pat@example.org"
    text = emails[0].get_body(("plain",)).get_content()
    assert day_text(old_date) in text and day_text(new_date) in text and grab_line in text
    html = emails[0].get_body(("html",)).get_content()
    assert "Install grab bars in your bathroom" in html and "<br>" in html
    assert Reminder.objects.get(announcement=announcement, channel=EMAIL).status == Reminder.Status.SENT


def test_a_spanish_patient_reads_it_in_spanish(
    paul, protocol_version, carol, email_to_sink, django_capture_on_commit_callbacks
):
    patient_update(patient=paul, contact_email="paul@example.org", channel_policy="both")
    no_quiet_hours(paul)
    case = case_book(patient=paul, procedure="Fusión lumbar", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    new_date = days_from_today(54)
    case_reschedule(case=case, surgery_date=new_date, surgery_time=time(8, 30))
    only_announcements_due(paul)
    deliver_all(django_capture_on_commit_callbacks)

    moved = InboxMessage.objects.get(patient=paul, title__startswith="Su cirugía pasó")
    assert moved.title == f"Su cirugía pasó al {spanish(new_date)}"
    assert f"Estaba prevista para el {spanish(days_from_today(40))}. Ahora es el {spanish(new_date)}, 8:30." in moved.body
    assert "pasos tienen fechas nuevas:" in moved.body
    assert " (antes el " in moved.body
    booked = InboxMessage.objects.get(patient=paul, title__startswith="Su cirugía está programada")
    assert spanish(days_from_today(40)) in booked.body
    subjects = {m["Subject"] for m in email_to_sink.received()}
    assert f"Su cirugía pasó al {spanish(new_date)}" in subjects


def test_booking_and_cancelling_are_announced(pat, as_carol, django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    surgery = days_from_today(30)
    response = as_carol.post(
        "/api/v1/cases/", {"patient": pat.id, "procedure": "Fusion", "surgery_date": str(surgery)}, format="json"
    )
    case_id = response.json()["id"]
    booked = Announcement.objects.get(patient=pat, event=Announcement.Event.BOOKED)
    assert (booked.old_date, booked.new_date, booked.case_id) == (None, surgery, case_id)

    # Cancelled before the booking news went out: only the cancellation goes.
    as_carol.post(f"/api/v1/cases/{case_id}/cancel/")
    assert set(Reminder.objects.filter(announcement=booked).values_list("status", flat=True)) == {"cancelled"}
    cancelled = Announcement.objects.get(patient=pat, event=Announcement.Event.CANCELLED)
    assert (cancelled.old_date, cancelled.new_date) == (surgery, None)
    deliver_all(django_capture_on_commit_callbacks)
    (message,) = InboxMessage.objects.filter(patient=pat)
    assert message.title == f"Your surgery on {day_text(surgery)} has been cancelled"
    assert "Your care team will contact you" in message.body

    # Cancelling again changes nothing and says nothing more.
    as_carol.post(f"/api/v1/cases/{case_id}/cancel/")
    assert Announcement.objects.filter(patient=pat, event=Announcement.Event.CANCELLED).count() == 1


def test_moving_to_the_same_date_and_time_says_nothing(pat_checklist):
    case = pat_checklist.case
    case_reschedule(case=case, surgery_date=case.surgery_date)
    assert not Announcement.objects.filter(event=Announcement.Event.MOVED).exists()
    case_reschedule(case=case, surgery_date=case.surgery_date, surgery_time=time(7, 0))
    moved = Announcement.objects.get(event=Announcement.Event.MOVED)
    assert (moved.old_time, moved.new_time, moved.steps) == (None, time(7, 0), [])


def test_channels_follow_the_patient_but_the_app_always_gets_it(pat, pat_checklist):
    patient_update(patient=pat, email_enabled=False, push_enabled=False, inapp_enabled=False)
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=7))
    rows = Reminder.objects.filter(announcement__event=Announcement.Event.MOVED)
    assert list(rows.values_list("channel", flat=True)) == [INAPP]


def test_push_and_email_wait_for_the_end_of_quiet_hours(pat):
    pat.quiet_hours_start, pat.quiet_hours_end = time(21, 0), time(8, 0)
    zone = pat.zone
    late_evening = timezone.now().astimezone(zone).replace(hour=23, minute=0, second=0, microsecond=0)
    next_morning = (late_evening + timedelta(days=1)).replace(hour=8, minute=0)
    assert send_at_for(pat, EMAIL, late_evening) == next_morning
    assert send_at_for(pat, PUSH, late_evening) == next_morning
    assert send_at_for(pat, INAPP, late_evening) == late_evening
    early_morning = late_evening.replace(hour=5)
    assert send_at_for(pat, EMAIL, early_morning) == early_morning.replace(hour=8)
    noon = late_evening.replace(hour=12)
    assert send_at_for(pat, EMAIL, noon) == noon


def test_push_carries_the_announcement_to_the_home_screen(
    quiet_pat, pat_checklist, push_configured, django_capture_on_commit_callbacks
):
    phone = subscribe(quiet_pat, push_configured)
    new_date = pat_checklist.case.surgery_date + timedelta(days=3)
    case_reschedule(case=pat_checklist.case, surgery_date=new_date)
    only_announcements_due(quiet_pat)
    deliver_all(django_capture_on_commit_callbacks)
    (payload,) = [p for p in phone.received if p["title"].startswith("Your surgery has moved")]
    assert payload["url"] == "/" and payload["title"] == f"Your surgery has moved to {day_text(new_date)}"
    row = Reminder.objects.get(announcement__event="moved", channel=PUSH)
    assert row.status == Reminder.Status.SENT and payload["tag"] == f"reminder-{row.id}"


def test_the_delivery_log_and_the_export_show_announcements(
    quiet_pat, pat_checklist, as_carol, as_pat, django_capture_on_commit_callbacks
):
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=2))
    only_announcements_due(quiet_pat)
    deliver_all(django_capture_on_commit_callbacks)
    log = as_carol.get(f"/api/v1/patients/{quiet_pat.id}/deliveries/").json()
    titles = {(r["reminder"]["kind"], r["reminder"]["task_title"]) for r in log["results"]}
    assert ("announcement", "Surgery moved") in titles
    exported = as_pat.get("/api/v1/me/export/").json()
    assert any(r["task_id"] is None for r in exported["reminders"])


def test_a_time_of_day_is_written_the_patients_way(pat_checklist):
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date, surgery_time=time(14, 30))
    moved = Announcement.objects.get(event="moved")
    title, body = announcement_texts(moved, "en")
    assert title == "The time of your surgery has changed"
    assert body.startswith(f"It was planned for {day_text(moved.old_date)}. It is now on {day_text(moved.new_date)} at 14:30.")
    assert "None of your open steps has a new date." in body


def test_the_sweeper_is_asked_to_look_once_the_move_commits(pat_checklist, monkeypatch, django_capture_on_commit_callbacks):
    asked = []
    monkeypatch.setattr(announcements.sweep_due_reminders, "delay", lambda: asked.append("sweep"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=1))
    assert asked == []  # nothing is queued before the commit
    for callback in callbacks:
        callback()
    assert asked == ["sweep"]


def test_a_broker_that_is_down_loses_no_announcement(pat_checklist, monkeypatch, django_capture_on_commit_callbacks):
    def down():
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(announcements.sweep_due_reminders, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=1))
    # The rows are in the table: beat's next sweep sends them.
    assert Reminder.objects.filter(announcement__event="moved", status=Reminder.Status.PENDING).exists()


def test_under_push_then_email_a_move_reaches_a_patient_without_push_by_email(
    quiet_pat, pat_checklist, as_carol, email_to_sink, django_capture_on_commit_callbacks
):
    pat = quiet_pat  # the default policy: email only when push did not reach her
    case = pat_checklist.case
    new_date = case.surgery_date + timedelta(days=7)
    response = as_carol.post(f"/api/v1/cases/{case.id}/reschedule/", {"surgery_date": str(new_date)}, format="json")
    assert response.status_code == 200
    announcement = Announcement.objects.get(patient=pat, event=Announcement.Event.MOVED)
    assert {r.channel for r in Reminder.objects.filter(announcement=announcement)} == {INAPP, PUSH}

    only_announcements_due(pat)
    deliver_all(django_capture_on_commit_callbacks)
    deliver_all(django_capture_on_commit_callbacks)  # the fallback email planned by the push that could not go

    emails = [m for m in email_to_sink.received() if m["Subject"].startswith("Your surgery has moved")]
    assert len(emails) == 1 and emails[0]["To"] == "pat@example.org"
    email = Reminder.objects.get(announcement=announcement, channel=EMAIL)
    assert email.status == Reminder.Status.SENT and email.fallback is True
