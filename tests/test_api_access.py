"""Object-level authorization of every endpoint, with named people.

carol (Riverside coordinator) owns pat's records; olga (another clinic) must get 404 for
every one of them; paul (another Riverside patient) must never reach pat's tasks; patients
are refused the staff endpoints and staff the patient ones.
"""

import pytest
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.models import AuditEntry

from .factories import days_from_today

pytestmark = pytest.mark.django_db


def staff_urls(case, patient):
    return [
        ("get", f"/api/v1/patients/{patient.pk}/", None),
        ("patch", f"/api/v1/patients/{patient.pk}/", {"weight_kg": "81.0"}),
        ("get", f"/api/v1/cases/{case.pk}/", None),
        ("get", f"/api/v1/cases/{case.pk}/checklist/", None),
        ("post", f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(days_from_today(40))}),
        ("post", f"/api/v1/cases/{case.pk}/assign/", {"protocol": "mis-lumbar-fusion"}),
        ("post", f"/api/v1/cases/{case.pk}/cancel/", None),
    ]


def test_the_outsider_gets_404_for_every_record_and_changes_nothing(as_olga, pat_checklist):
    case = pat_checklist.case
    for method, url, body in staff_urls(case, case.patient):
        response = getattr(as_olga, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    case.refresh_from_db()
    assert case.status == "scheduled" and case.surgery_date == days_from_today(35)
    assert as_olga.get("/api/v1/patients/").json()["count"] == 0
    assert as_olga.get("/api/v1/cases/").json()["count"] == 0


def test_the_owner_reaches_every_record(as_carol, pat_checklist):
    case = pat_checklist.case
    expected = [200, 200, 200, 200, 200, 400, 200]  # assigning again after work began is refused, see below
    Task.objects.filter(pk=pat_checklist.tasks.first().pk).update(status="done")
    for (method, url, body), status in zip(staff_urls(case, case.patient), expected):
        response = getattr(as_carol, method)(url, body, format="json")
        assert response.status_code == status, (method, url, response.content)


def test_the_teammate_sees_the_same_patients(lee, pat_checklist):
    client = APIClient()
    client.force_authenticate(lee)
    assert client.get(f"/api/v1/patients/{pat_checklist.case.patient_id}/").status_code == 200


def test_patients_are_refused_the_staff_endpoints(as_pat, pat_checklist):
    case = pat_checklist.case
    for method, url, body in staff_urls(case, case.patient) + [("get", "/api/v1/patients/", None),
                                                               ("get", "/api/v1/protocols/", None)]:
        assert getattr(as_pat, method)(url, body, format="json").status_code == 403, url


def test_staff_are_refused_the_patient_endpoints(as_carol, pat_checklist):
    task = pat_checklist.tasks.first()
    for url in ["/api/v1/me/case/", "/api/v1/me/checklist/", f"/api/v1/me/tasks/{task.pk}/"]:
        assert as_carol.get(url).status_code == 403, url


def test_anonymous_callers_get_nothing(pat_checklist):
    client = APIClient()
    task = pat_checklist.tasks.first()
    for url in ["/api/v1/patients/", "/api/v1/cases/", "/api/v1/me/", "/api/v1/me/checklist/", f"/api/v1/me/tasks/{task.pk}/"]:
        assert client.get(url).status_code in (401, 403), url


def test_another_patient_cannot_read_or_tick_pats_tasks(as_paul, pat_checklist):
    task = pat_checklist.tasks.first()
    assert as_paul.get(f"/api/v1/me/tasks/{task.pk}/").status_code == 404
    assert as_paul.post(f"/api/v1/me/tasks/{task.pk}/complete/").status_code == 404
    assert as_paul.patch(f"/api/v1/me/tasks/{task.pk}/", {"note": "mine now"}, format="json").status_code == 404
    task.refresh_from_db()
    assert task.status == "open" and task.note == ""
    assert as_paul.get("/api/v1/me/checklist/").status_code == 404  # paul has none of his own


def test_booking_for_another_clinics_patient_is_refused(as_olga, pat):
    response = as_olga.post(
        "/api/v1/cases/", {"patient": pat.pk, "procedure": "x", "surgery_date": str(days_from_today(30))}, format="json"
    )
    assert response.status_code == 400
    assert "patient" in response.json()
    assert not pat.cases.exists()


def test_staff_reads_of_a_patient_leave_an_audit_entry(as_carol, carol, pat_checklist):
    case = pat_checklist.case
    as_carol.get(f"/api/v1/patients/{case.patient_id}/")
    as_carol.get(f"/api/v1/cases/{case.pk}/checklist/")
    entries = list(AuditEntry.objects.filter(patient=case.patient).order_by("at", "id"))
    assert [(e.actor, e.action) for e in entries][-2:] == [(carol, "read"), (carol, "read")]
    assert entries[-1].path == f"/api/v1/cases/{case.pk}/checklist/"


def test_a_patient_reading_their_own_record_is_not_audited(as_pat, pat_checklist):
    as_pat.get("/api/v1/me/checklist/")
    assert not AuditEntry.objects.exists()
