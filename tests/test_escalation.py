"""Escalation: a critical step overdue too long raises an alert once; each coordinator of that
organization gets one morning email (the real SMTP sink); a coordinator acknowledges it with a
note, audited; an outsider is refused.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checklists.models import Task
from prepapp.models import AuditEntry, Organization, StaffMembership
from prepapp.reminders import escalation
from prepapp.reminders.models import DIGEST_RULE, Alert, AlertEmail, Reminder

from .conftest import client_for
from .factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def staff_emails(carol, olga, lee, riverside):
    """carol and cody coordinate Riverside, lee is its clinical lead; olga coordinates elsewhere."""
    cody = StaffFactory(user=UserFactory(username="cody"), organization=riverside).user
    for user in (carol, olga, lee, cody):
        user.email = f"{user.username}@clinic.example.org"
        user.save(update_fields=["email"])
    Organization.objects.filter(pk=riverside.pk).update(time_zone="America/New_York")
    return cody


def overdue(patient, key, days):
    task = Task.objects.get(checklist__case__patient=patient, definition__key=key)
    Task.objects.filter(pk=task.pk).update(due_date=patient.local_today() - timedelta(days=days), window_start=None)
    return task


def test_the_shipped_protocol_marks_the_nsaid_stop_and_the_blood_thinner_steps_critical(protocol_version):
    critical = {
        d.key: d.escalate_after_days for d in protocol_version.definitions.filter(critical=True)
    }
    # The restart after surgery too: not confirmed a day after it is due, the care team hears of it.
    assert critical == {"stop-nsaids": 1, "blood-thinner-plan": 7, "restart-blood-thinner": 1}


def test_an_alert_is_raised_once_and_only_when_overdue_long_enough(pat, pat_checklist):
    # stop-nsaids escalates after one day overdue; due today it is not overdue yet.
    task = overdue(pat, "stop-nsaids", 0)
    assert escalation.raise_alerts() == []
    overdue(pat, "stop-nsaids", 1)
    [alert] = escalation.raise_alerts()
    assert (alert.task_id, alert.patient_id, alert.organization_id, alert.days_overdue) == (
        task.id, pat.id, pat.organization_id, 1
    )
    assert escalation.raise_alerts() == []  # the next tick raises nothing new
    assert Alert.objects.count() == 1
    # A step that is not critical never alerts, however late.
    overdue(pat, "grab-bars", 30)
    assert escalation.raise_alerts() == []
    # A done step does not either (a new due date would be a new alert).
    Task.objects.filter(pk=task.pk).update(status="done", due_date=pat.local_today() - timedelta(days=5))
    assert escalation.raise_alerts() == []
    # The patient's next digest is planned to name the missing step.
    assert Reminder.objects.filter(patient=pat, rule=DIGEST_RULE, status="pending").exists()


def morning(hour, minute=30):
    return datetime(2026, 11, 24, hour, minute, tzinfo=NEW_YORK)


def test_each_coordinator_of_that_organization_gets_one_morning_email(
    pat, pat_checklist, staff_emails, email_to_sink, elsewhere
):
    cody = staff_emails
    overdue(pat, "stop-nsaids", 3)
    escalation.raise_alerts()
    # Before 08:00 in the organization's zone: nothing.
    assert escalation.send_alert_emails(now=morning(7)).sent == 0
    report = escalation.send_alert_emails(now=morning(8))
    assert report.sent == 2
    received = email_to_sink.received()
    assert sorted(m["To"] for m in received) == ["carol@clinic.example.org", "cody@clinic.example.org"]
    text = received[0].get_body(("plain",)).get_content()
    assert "Pat Example" in text and "Stop taking anti-inflammatory painkillers" in text
    assert f"/coordinator/patients/{pat.id}/" in text
    # Later ticks the same morning send nothing more: one row per coordinator and day, sent.
    for hour in (8, 9, 11):
        assert escalation.send_alert_emails(now=morning(hour, 45)).sent == 0
    assert len(email_to_sink.received()) == 2
    assert set(AlertEmail.objects.values_list("user__username", "status", "alerts")) == {
        ("carol", "sent", 1), ("cody", "sent", 1)
    }
    # The next morning brings the next email while the alert is open.
    next_day = morning(8) + timedelta(days=1)
    assert escalation.send_alert_emails(now=next_day).sent == 2


def test_the_email_row_is_claimed_by_compare_and_set(pat, pat_checklist, staff_emails, email_to_sink):
    overdue(pat, "stop-nsaids", 3)
    escalation.raise_alerts()
    row = AlertEmail.objects.create(user=staff_emails, organization=pat.organization, day=morning(8).date())
    now = morning(8)
    assert escalation.claim_alert_email(row.id, now) is True
    assert escalation.claim_alert_email(row.id, now) is False  # someone else already has it
    assert escalation.send_alert_emails(now=now).sent == 1  # carol's; cody's row is taken
    assert [m["To"] for m in email_to_sink.received()] == ["carol@clinic.example.org"]


def test_acknowledging_with_a_note_is_audited_and_an_outsider_is_refused(
    pat, pat_checklist, carol, olga, as_carol, as_olga
):
    overdue(pat, "stop-nsaids", 2)
    [alert] = escalation.raise_alerts()
    # The roster shows it.
    row = next(r for r in as_carol.get("/api/v1/roster/").json()["results"] if r["id"] == pat.id)
    assert row["open_alerts"] == 1
    listed = as_carol.get("/api/v1/alerts/").json()["results"]
    assert [a["id"] for a in listed] == [alert.id] and listed[0]["open"] is True
    # Olga, at another clinic, sees nothing and cannot acknowledge it.
    assert as_olga.get("/api/v1/alerts/").json()["results"] == []
    assert as_olga.post(f"/api/v1/alerts/{alert.id}/acknowledge/", {"note": "x"}, format="json").status_code == 404
    # A patient cannot either.
    assert client_for(pat.user).post(f"/api/v1/alerts/{alert.id}/acknowledge/", {"note": "x"}, format="json").status_code == 403
    # A note is required.
    response = as_carol.post(f"/api/v1/alerts/{alert.id}/acknowledge/", {"note": "  "}, format="json")
    assert response.status_code == 400 and "note" in response.json()
    response = as_carol.post(
        f"/api/v1/alerts/{alert.id}/acknowledge/", {"note": "Called Pat: stopped ibuprofen yesterday."}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["open"] is False and body["acknowledged_by"] == "carol" and body["note"].startswith("Called Pat")
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="acknowledge-alert").count() == 1
    # Once is enough.
    again = as_carol.post(f"/api/v1/alerts/{alert.id}/acknowledge/", {"note": "again"}, format="json")
    assert again.status_code == 400 and "alert" in again.json()
    assert next(r for r in as_carol.get("/api/v1/roster/").json()["results"] if r["id"] == pat.id)["open_alerts"] == 0
    assert as_carol.get("/api/v1/alerts/").json()["results"] == []
    assert len(as_carol.get("/api/v1/alerts/?state=all").json()["results"]) == 1
    assert as_carol.get("/api/v1/alerts/?state=nope").status_code == 400


def test_acknowledging_on_the_patients_page(pat, pat_checklist, carol, olga, client):
    overdue(pat, "stop-nsaids", 2)
    [alert] = escalation.raise_alerts()
    client.force_login(carol)
    page = client.get(f"/coordinator/patients/{pat.id}/")
    assert page.status_code == 200 and f'data-alert-id="{alert.id}"' in page.content.decode()
    url = f"/coordinator/patients/{pat.id}/alerts/{alert.id}/acknowledge/"
    empty = client.post(url, {"note": ""})
    assert empty.status_code == 400 and "Say what was done" in empty.content.decode()
    done = client.post(url, {"note": "Spoke to Pat's daughter."})
    assert done.status_code == 302 and done["Location"].endswith("#alerts")
    alert.refresh_from_db()
    assert alert.acknowledged_by == carol and alert.note == "Spoke to Pat's daughter."
    client.force_login(olga)
    assert client.post(url, {"note": "mine now"}).status_code == 404
    assert StaffMembership.objects.filter(user=olga, organization=pat.organization).count() == 0


def test_the_morning_email_words_each_kind_of_alert_and_puts_a_warning_sign_first(
    pat, pat_case, pat_checklist, staff_emails, email_to_sink
):
    overdue(pat, "stop-nsaids", 3)
    escalation.raise_alerts()
    base = dict(organization=pat.organization, patient=pat, case=pat_case, raised_at=morning(6))
    Alert.objects.create(kind=Alert.Kind.CHECK_IN_MISSED, check_in_day=4, due_date=pat.local_today(), **base)
    Alert.objects.create(kind=Alert.Kind.CHECK_IN_RED_FLAG, check_in_day=5, due_date=pat.local_today(), **base)
    assert escalation.send_alert_emails(now=morning(8)).sent == 2
    text = email_to_sink.received()[0].get_body(("plain",)).get_content()
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 3
    assert lines[0] == "- URGENT Pat Example: warning sign reported in the check-in of day 5 after surgery"
    assert "Stop taking anti-inflammatory painkillers" in lines[1] and "3 days overdue" in lines[1]
    assert lines[2].startswith("- Pat Example: no check-in on day 4 after surgery")
    assert "0 days overdue" not in text and "has 3 open alerts." in text
