"""The whole flow through the API on PostgreSQL: enrol, book, assign, read, complete, move, cancel."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.reminders.models import Reminder

from .factories import days_from_today

pytestmark = pytest.mark.django_db


def test_enrol_book_assign_read_complete_move(as_carol, protocol_version):
    # The coordinator enrols a patient ...
    response = as_carol.post(
        "/api/v1/patients/",
        {
            "full_name": "Hana Ito", "contact_email": "hana@example.org", "time_zone": "Asia/Tokyo",
            "weight_kg": "60", "smoker": True, "takes_nsaids": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    patient = response.json()
    assert patient["organization"] == "riverside" and len(patient["invitation_code"]) == 8

    # ... books the surgery five weeks out and assigns the protocol.
    surgery = days_from_today(35)
    response = as_carol.post(
        "/api/v1/cases/",
        {"patient": patient["id"], "procedure": "MIS lumbar fusion", "surgeon": "Dr. Okafor", "surgery_date": str(surgery)},
        format="json",
    )
    assert response.status_code == 201, response.content
    case_id = response.json()["id"]
    response = as_carol.post(f"/api/v1/cases/{case_id}/assign/", {"protocol": "mis-lumbar-fusion"}, format="json")
    assert response.status_code == 201, response.content
    assert Reminder.objects.filter(patient_id=patient["id"], status="pending").exists()

    # The patient signs in with the invitation code and reads the checklist.
    hana = APIClient()
    response = hana.post(
        "/api/v1/auth/invitation/", {"code": patient["invitation_code"].lower()}, format="json",
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 200
    checklist = hana.get("/api/v1/me/checklist/").json()
    assert checklist["case"]["days_to_surgery"] in (34, 35, 36)  # the date in Tokyo may differ from the server's
    tasks = {t["key"]: t for group in checklist["groups"].values() for t in group}
    nsaids = tasks["stop-nsaids"]
    assert nsaids["due_date"] == str(surgery - timedelta(days=10))  # the guide's 7 to 10 days: due at 10
    assert tasks["protein-target"]["targets"][0]["text"] == "72–96 g/day"

    # Ticking a step off cancels its pending reminders; undo plans them again.
    response = hana.post(f"/api/v1/me/tasks/{nsaids['id']}/complete/")
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert not Reminder.objects.filter(task_id=nsaids["id"], status="pending").exists()
    assert hana.get("/api/v1/me/checklist/").json()["counts"]["done"] == 1
    response = hana.post(f"/api/v1/me/tasks/{nsaids['id']}/reopen/")
    assert response.json()["status"] == "open"
    assert Reminder.objects.filter(task_id=nsaids["id"], status="pending").exists()

    # The questions for the surgeon take answers, merged by question.
    questions = tasks["surgeon-questions"]
    first, second = questions["sub_items"][0]["key"], questions["sub_items"][1]["key"]
    hana.patch(f"/api/v1/me/tasks/{questions['id']}/", {"answers": {first: "About 80 a year"}}, format="json")
    response = hana.patch(f"/api/v1/me/tasks/{questions['id']}/", {"answers": {second: "Yes"}, "note": "Bring a pen"}, format="json")
    answers = {i["key"]: i["answer"] for i in response.json()["sub_items"]}
    assert answers[first] == "About 80 a year" and answers[second] == "Yes"
    assert response.json()["note"] == "Bring a pen"

    # The surgery moves two weeks later: every open date moves with it, reminders follow.
    # The critical NSAID step keeps reminders of its own; the other steps are in daily digests.
    def planned(task_id):
        rows = Reminder.objects.filter(task_id=task_id, status="pending", channel="inapp")
        return dict(rows.values_list("rule", "send_at"))

    def digest_days(status="pending"):
        rows = Reminder.objects.filter(patient_id=patient["id"], rule="digest", status=status, channel="inapp")
        return set(rows.values_list("anchor_date", flat=True))

    old_send, old_days = planned(nsaids["id"]), digest_days()
    assert surgery - timedelta(days=7) in old_days  # grab-bars is due that day
    response = as_carol.post(f"/api/v1/cases/{case_id}/reschedule/", {"surgery_date": str(surgery + timedelta(days=14))}, format="json")
    assert response.status_code == 200, response.content
    moved = {t["key"]: t for group in hana.get("/api/v1/me/checklist/").json()["groups"].values() for t in group}
    assert moved["stop-nsaids"]["due_date"] == str(surgery + timedelta(days=14 - 10))
    assert moved["grab-bars"]["due_date"] == str(surgery + timedelta(days=7))
    new_send = planned(nsaids["id"])
    assert set(new_send) == set(old_send) == {"day-before", "due-day"}
    assert all(new_send[rule] - old_send[rule] == timedelta(days=14) for rule in new_send)
    # The rows planned for the old dates are cancelled, not left to fire.
    assert Reminder.objects.filter(task_id=nsaids["id"], status="cancelled", channel="inapp").count() == 2
    # The digest days moved with the steps (grab-bars is now due a week after the old date);
    # the days left behind are cancelled.
    new_days = digest_days()
    assert surgery + timedelta(days=7) in new_days and new_days != old_days
    assert old_days - new_days and old_days - new_days <= digest_days("cancelled")

    # Cancelling the surgery cancels every reminder not yet sent; only the news of it waits to go.
    assert as_carol.post(f"/api/v1/cases/{case_id}/cancel/").json()["status"] == "cancelled"
    pending = Reminder.objects.filter(patient_id=patient["id"], status="pending")
    assert set(pending.values_list("kind", "announcement__event")) == {("announcement", "cancelled")}
    response = as_carol.post(f"/api/v1/cases/{case_id}/reschedule/", {"surgery_date": str(surgery)}, format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_done_tasks_keep_their_dates_when_the_surgery_moves(pat_checklist, as_carol, as_pat):
    task = pat_checklist.tasks.select_related("definition").get(definition__key="grab-bars")
    as_pat.post(f"/api/v1/me/tasks/{task.pk}/complete/")
    case = pat_checklist.case
    as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(case.surgery_date + timedelta(days=7))}, format="json")
    done = Task.objects.get(pk=task.pk)
    assert done.due_date == task.due_date and done.status == "done"


def test_moving_the_surgery_earlier_marks_passed_steps_late(pat_checklist, as_carol):
    case = pat_checklist.case
    response = as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(days_from_today(5))}, format="json")
    assert response.status_code == 200
    # A step whose time has gone is kept and marked late...
    review = Task.objects.get(checklist=pat_checklist, definition__key="review-medicines")
    assert review.late is True and review.status == "open"
    # ...but a stop cannot wait: stopping smoking is due today, short of its six weeks.
    smoking = Task.objects.get(checklist=pat_checklist, definition__key="stop-smoking")
    assert smoking.late is False and smoking.status == "open"
    assert smoking.due_date == days_from_today(0) and smoking.not_enough_time is True
    # Its pending reminders for dates now in the past are gone; nothing is planned before today.
    assert not Reminder.objects.filter(task=smoking, status="pending", anchor_date__lt=days_from_today(-1)).exists()


def test_the_countdown_endpoint(as_pat, pat_checklist):
    response = as_pat.get("/api/v1/me/case/")
    assert response.status_code == 200
    body = response.json()
    assert body["time_zone"] == "America/New_York"
    assert body["days_to_surgery"] == (pat_checklist.case.surgery_date - pat_checklist.case.patient.local_today()).days


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "vendor": "postgresql"}


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ["/api/v1/cases/{id}/reschedule/", "/api/v1/me/checklist/", "/api/v1/me/tasks/{id}/complete/"]:
        assert path in text
    assert client.get("/api/docs/").status_code == 200
