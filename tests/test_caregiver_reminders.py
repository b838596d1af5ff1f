"""The caregiver's own reminders: their channels, hours and language, and the messages meant for the family.

- ana: Pat's daughter, reads Spanish, gets reminders by email, push on her own phone and in her inbox;
- Pat (English) has chosen otherwise (email off): none of Pat's choices reach Ana's messages.

Real SMTP sink, the Web Push stand-in (it decrypts what it is sent), the real delivery path.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.caregivers import caregiver_revoke
from prepapp.models import CaregiverLink, CaregiverSettings, Patient, SurgeryCase
from prepapp.reminders import escalation, family
from prepapp.reminders.models import (
    DAY_BEFORE_RULE, DAY_OF_RULE, OVERDUE_ALERT_RULE, CaregiverPushSubscription, FamilyMessage, InboxMessage,
    Reminder,
)
from prepapp.workflows import case_reschedule

from .conftest import client_for
from .support.outbox import deliver_all
from .test_caregivers import OWN_PAGE, sign_in, site_url, token_in  # noqa: F401 (site_url is a fixture)


def own_phone(user, service, name="ana-phone"):
    """The caregiver's own browser, subscribed as her settings screen subscribes it."""
    browser = service.browser(name)
    CaregiverPushSubscription.objects.create(user=user, endpoint=browser.endpoint, p256dh=browser.p256dh,
                                             auth=browser.auth)
    CaregiverSettings.objects.filter(user=user).update(push_enabled=True)
    return browser


def quiet_hours_around_now(own: CaregiverSettings):
    """Quiet hours that hold now where the caregiver lives (an hour either side)."""
    local = timezone.now().astimezone(own.zone)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    CaregiverSettings.objects.filter(pk=own.pk).update(quiet_hours_start=start, quiet_hours_end=end)


@pytest.fixture
def ana(pat, pat_checklist, email_to_sink, site_url):  # noqa: F811
    response = client_for(pat.user).post("/api/v1/me/caregivers/", {
        "name": "Ana", "relationship": "daughter", "email": "ana@example.org", "language": "es",
        "access": "see",
    }, format="json")
    assert response.status_code == 201, response.content
    link = CaregiverLink.objects.get(pk=response.json()["id"])
    link.client = sign_in(token_in(email_to_sink.received()[-1]))
    # Pat wants no email at all; Ana's messages must not care.
    Patient.objects.filter(pk=pat.pk).update(email_enabled=False, push_enabled=False, quiet_hours_start=time(0),
                                             quiet_hours_end=time(0))
    CaregiverSettings.objects.filter(user=link.caregiver).update(quiet_hours_start=time(0), quiet_hours_end=time(0))
    return link


def overdue_step(pat) -> Task:
    task = Task.objects.get(checklist__case__patient=pat, definition__key="stop-nsaids")
    Task.objects.filter(pk=task.pk).update(due_date=pat.local_today() - timedelta(days=2), window_start=None)
    return task


# --- The overdue critical step, on the caregiver's channels, in her language ---------------------


def test_the_alert_reaches_a_spanish_caregiver_on_her_own_channels_in_spanish(
    ana, pat, email_to_sink, push_configured, django_capture_on_commit_callbacks
):
    phone = own_phone(ana.caregiver, push_configured)
    pats_phone = push_configured.browser("pat-phone")
    pat.push_subscriptions.create(endpoint=pats_phone.endpoint, p256dh=pats_phone.p256dh, auth=pats_phone.auth)
    overdue_step(pat)
    mail_before = len(email_to_sink.received())
    escalation.escalate()
    rows = Reminder.objects.filter(caregiver=ana, rule=OVERDUE_ALERT_RULE)
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "inapp", "push"]
    deliver_all(django_capture_on_commit_callbacks)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    # Email: to Ana (Pat has email off), in Spanish, about Pat by name.
    told = email_to_sink.received()[mail_before:]
    assert [m["To"] for m in told] == ["ana@example.org"]
    assert "Pat" in told[0]["Subject"] and "paso importante" in told[0]["Subject"]
    text = told[0].get_body(("plain",)).get_content()
    assert "Hola, Ana" in text and "hace 2 días" in text and "su cirugía" not in text
    # Push: to Ana's own phone only, in Spanish.
    assert [payload["title"] for payload in phone.received] == [told[0]["Subject"]]
    assert pats_phone.received == []
    # In-app: in Ana's own inbox, never in Pat's.
    assert FamilyMessage.objects.filter(caregiver=ana).count() == 1
    assert not InboxMessage.objects.filter(patient=pat).filter(title__contains="paso importante").exists()
    inbox = ana.client.get("/api/v1/following/inbox/").json()
    assert [m["title"] for m in inbox] == [told[0]["Subject"]] and inbox[0]["patient_name"] == "Pat Example"
    # Once: the next tick raises nothing new.
    escalation.escalate()
    assert rows.count() == 3


def test_nothing_reaches_her_inside_her_quiet_hours(ana, pat, email_to_sink, django_capture_on_commit_callbacks):
    own = CaregiverSettings.objects.get(user=ana.caregiver)
    quiet_hours_around_now(own)
    overdue_step(pat)
    mail_before = len(email_to_sink.received())
    now = timezone.now()
    escalation.escalate(now=now)
    rows = list(Reminder.objects.filter(caregiver=ana))
    assert rows and all(r.send_at > now + timedelta(minutes=50) for r in rows)  # at the end of her quiet hours
    deliver_all(django_capture_on_commit_callbacks)
    assert len(email_to_sink.received()) == mail_before
    assert not FamilyMessage.objects.exists()
    # A row that was due before her quiet hours began but goes out inside them waits for her morning.
    Reminder.objects.filter(caregiver=ana).update(send_at=now - timedelta(minutes=61))
    deliver_all(django_capture_on_commit_callbacks)
    assert len(email_to_sink.received()) == mail_before
    assert set(Reminder.objects.filter(caregiver=ana).values_list("status", flat=True)) == {"pending"}


def test_only_the_channels_she_chose(ana, pat, email_to_sink, django_capture_on_commit_callbacks):
    CaregiverSettings.objects.filter(user=ana.caregiver).update(email_enabled=False)
    overdue_step(pat)
    escalation.escalate()
    assert list(Reminder.objects.filter(caregiver=ana).values_list("channel", flat=True)) == ["inapp"]


def test_a_revoked_caregiver_or_one_without_reminders_is_told_nothing(
    ana, pat, email_to_sink, django_capture_on_commit_callbacks
):
    overdue_step(pat)
    escalation.escalate()
    mail_before = len(email_to_sink.received())
    caregiver_revoke(link=ana, revoked_by=pat.user)
    deliver_all(django_capture_on_commit_callbacks)
    assert len(email_to_sink.received()) == mail_before
    assert set(Reminder.objects.filter(caregiver=ana).values_list("last_error", flat=True)) == {family.NO_LONGER_TOLD}


# --- The messages meant for the family ----------------------------------------------------------


def surgery_tomorrow(pat, carol, arrival=time(6, 30)):
    case = SurgeryCase.objects.get(patient=pat)
    case_reschedule(case=case, surgery_date=pat.local_today() + timedelta(days=1), surgery_time=time(8, 0),
                    arrival_time=arrival, by=carol)


def due_now(link, rule):
    rows = Reminder.objects.filter(caregiver=link, rule=rule)
    assert rows.exists()
    rows.update(send_at=timezone.now() - timedelta(seconds=5))
    return rows


def test_the_evening_before_is_worded_for_the_family(ana, pat, carol, email_to_sink, settings,
                                                    django_capture_on_commit_callbacks):
    surgery_tomorrow(pat, carol)
    CaregiverSettings.objects.filter(user=ana.caregiver).update(language="en")
    family.plan_due()
    rows = due_now(ana, DAY_BEFORE_RULE)
    mail_before = len(email_to_sink.received())
    deliver_all(django_capture_on_commit_callbacks)
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    mail = email_to_sink.received()[mail_before:]
    assert [m["To"] for m in mail] == ["ana@example.org"]
    assert mail[0]["Subject"].startswith("Pat's surgery is tomorrow")
    text = mail[0].get_body(("plain",)).get_content()
    assert "Pat should arrive at 6:30." in text
    assert "first 24 hours" in text and "drive" in text
    assert "your surgery" not in text.lower() and "Your surgery" not in mail[0]["Subject"]
    message = FamilyMessage.objects.get(caregiver=ana)
    assert message.title == mail[0]["Subject"] and "Pat may eat nothing after" in message.body


def test_the_day_of_surgery_tells_the_family_of_the_ride_home_in_her_language(
    ana, pat, carol, email_to_sink, django_capture_on_commit_callbacks
):
    case = SurgeryCase.objects.get(patient=pat)
    case_reschedule(case=case, surgery_date=pat.local_today(), surgery_time=time(23, 0), by=carol)
    family.plan_due()
    due_now(ana, DAY_OF_RULE)
    mail_before = len(email_to_sink.received())
    deliver_all(django_capture_on_commit_callbacks)
    mail = email_to_sink.received()[mail_before:]
    assert [m["Subject"] for m in mail] == ["Hoy es la cirugía de Pat"]
    text = mail[0].get_body(("plain",)).get_content()
    assert "24 horas" in text and "a casa" in text


def test_a_moved_surgery_cancels_the_familys_evening_before(ana, pat, carol, django_capture_on_commit_callbacks):
    surgery_tomorrow(pat, carol)
    family.plan_due()
    rows = due_now(ana, DAY_BEFORE_RULE)
    case_reschedule(case=SurgeryCase.objects.get(patient=pat), surgery_date=pat.local_today() + timedelta(days=9),
                    by=carol)
    deliver_all(django_capture_on_commit_callbacks)
    assert set(rows.values_list("status", flat=True)) == {"cancelled"}
    assert not FamilyMessage.objects.exists()


def test_the_familys_time_is_her_own(ana, pat, carol):
    """Her reminder time and zone place the day-of message, not Pat's."""
    case = SurgeryCase.objects.get(patient=pat)
    madrid_today = datetime.now(tz=CaregiverSettings(time_zone="Europe/Madrid").zone).date()
    case_reschedule(case=case, surgery_date=madrid_today + timedelta(days=1), by=carol)
    CaregiverSettings.objects.filter(user=ana.caregiver).update(time_zone="Europe/Madrid", reminder_time=time(7, 15))
    family.plan_due()
    row = Reminder.objects.get(caregiver=ana, rule=DAY_OF_RULE, channel="email")
    local = row.send_at.astimezone(CaregiverSettings(time_zone="Europe/Madrid").zone)
    assert (local.date(), local.time()) == (madrid_today + timedelta(days=1), time(7, 15))


def test_the_rules_said_again_speak_of_the_patient(ana, pat):
    from prepapp.reminders.family_words import rules_texts
    from django.utils import translation

    case = SurgeryCase.objects.select_related("checklist__protocol_version").get(patient=pat)
    with translation.override("en"):
        title, lines = rules_texts(case, pat, case.surgery_date + timedelta(days=1), "en")
    assert "Pat" in title and "your" not in title.lower()
    assert any(line.startswith("Pat keeps to these rules") or line.startswith("Pat has no rules") for line in lines)


# --- Her settings: the API ---------------------------------------------------------------------


def test_she_reads_and_changes_her_own_settings(ana, pat):
    got = ana.client.get("/api/v1/following/settings/")
    assert got.status_code == 200 and got.json()["language"] == "es"
    assert got.json()["time_zone"] == "America/New_York"  # Pat's, to begin with
    changed = ana.client.patch("/api/v1/following/settings/", {
        "language": "en", "reminder_time": "07:30", "quiet_hours_start": "22:00", "quiet_hours_end": "07:00",
        "email_enabled": False, "time_zone": "Europe/Madrid",
    }, content_type="application/json", **OWN_PAGE)
    assert changed.status_code == 200, changed.content
    own = CaregiverSettings.objects.get(user=ana.caregiver)
    assert (own.language, own.reminder_time, own.email_enabled, own.time_zone) == (
        "en", time(7, 30), False, "Europe/Madrid")
    pat.refresh_from_db()
    assert pat.language == "en" and pat.time_zone == "America/New_York"  # Pat's own are untouched


@pytest.mark.parametrize("field, value", [
    ("time_zone", "Mars/Olympus"), ("quiet_hours_start", "25:00"), ("language", "fr"), ("email_enabled", "often"),
    ("patient", 3),
])
def test_bad_settings_name_the_field_and_change_nothing(ana, field, value):
    before = CaregiverSettings.objects.get(user=ana.caregiver).updated_at
    answer = ana.client.patch("/api/v1/following/settings/", {field: value}, content_type="application/json",
                              **OWN_PAGE)
    assert answer.status_code == 400 and field in answer.json(), answer.content
    assert CaregiverSettings.objects.get(user=ana.caregiver).updated_at == before


def test_her_own_phone_subscribes_and_turns_push_on(ana, push_configured):
    CaregiverSettings.objects.filter(user=ana.caregiver).update(push_enabled=False)
    browser = push_configured.browser("ana-phone")
    answer = ana.client.post("/api/v1/following/push/", browser.subscription_json(), content_type="application/json",
                             **OWN_PAGE)
    assert answer.status_code == 201, answer.content
    assert CaregiverSettings.objects.get(user=ana.caregiver).push_enabled
    assert CaregiverPushSubscription.objects.filter(user=ana.caregiver).count() == 1
    gone = ana.client.delete("/api/v1/following/push/", {"endpoint": browser.endpoint},
                             content_type="application/json", **OWN_PAGE)
    assert gone.status_code == 204 and not CaregiverPushSubscription.objects.exists()


def test_patients_staff_and_revoked_caregivers_get_none_of_it(ana, pat, carol):
    FamilyMessage.objects.create(caregiver=ana, title="about Pat", body="…")
    for client in (client_for(pat.user), client_for(carol), APIClient()):
        for path in ("/api/v1/following/settings/", "/api/v1/following/inbox/"):
            assert client.get(path).status_code in (401, 403), path
    caregiver_revoke(link=ana, revoked_by=pat.user)
    late = client_for(ana.caregiver)
    assert late.get("/api/v1/following/inbox/").status_code == 403
    assert late.get("/api/v1/following/settings/").status_code == 403


def test_a_caregiver_of_pat_reads_nothing_of_paul(ana, pat, paul, email_to_sink):
    from prepapp.caregivers import caregiver_invite

    bea = caregiver_invite(patient=paul, invited_by=paul.user, name="Bea", relationship="wife",
                           email="bea@example.org")
    theirs = FamilyMessage.objects.create(caregiver=bea, title="about Paul", body="…")
    assert ana.client.get("/api/v1/following/inbox/").json() == []
    answer = ana.client.post(f"/api/v1/following/inbox/{theirs.pk}/read/", **OWN_PAGE)
    assert answer.status_code == 404
    assert FamilyMessage.objects.get(pk=theirs.pk).read_at is None


def test_after_an_outage_her_rows_wait_for_the_end_of_her_quiet_hours_not_pats(ana, pat):
    from prepapp.reminders import outages

    overdue_step(pat)
    escalation.escalate()
    row = Reminder.objects.get(caregiver=ana, channel="email")
    later = timezone.now() + timedelta(hours=3)
    Reminder.objects.filter(pk=row.pk).update(waiting_for_channel=True, send_at=later)
    own = CaregiverSettings.objects.get(user=ana.caregiver)
    quiet_hours_around_now(own)  # Pat has none: by Pat's hours it would be due at once
    assert outages.retry_waiting_for_channel(channel="email") == 1
    row.refresh_from_db()
    assert timezone.now() + timedelta(minutes=50) < row.send_at < later
