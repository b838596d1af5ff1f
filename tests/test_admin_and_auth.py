"""The admin works for every model; session writes need CSRF; token auth works for API clients."""

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from checklists.models import Protocol
from prepapp.models import Organization

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_model_has_a_working_admin(client, lead_admin, pat_checklist):
    client.force_login(lead_admin)
    for model in admin.site._registry:
        if model._meta.app_label not in {"prepapp", "checklists"}:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        obj = model.objects.first()
        if obj is not None:
            change = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            assert client.get(change).status_code == 200, change


def test_a_version_in_use_cannot_be_edited_in_the_admin(client, lead_admin, pat_checklist):
    client.force_login(lead_admin)
    version = pat_checklist.protocol_version
    url = reverse("admin:checklists_protocolversion_change", args=[version.pk])
    response = client.post(url, {"number": 99})
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.number == 1


def test_session_writes_need_the_csrf_token(pat_checklist):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(pat_checklist.case.patient.user)
    task = pat_checklist.tasks.first()
    assert client.post(f"/api/v1/me/tasks/{task.pk}/complete/").status_code == 403
    task.refresh_from_db()
    assert task.status == "open"


def test_invitation_sign_in_then_csrf_protected_write(pat_checklist, pat):
    client = APIClient(enforce_csrf_checks=True)
    patient = pat  # as enrolled: the code is on this instance only
    response = client.post(
        "/api/v1/auth/invitation/", {"code": patient.invitation_code}, format="json", HTTP_ORIGIN="http://testserver"
    )
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    task = pat_checklist.tasks.first()
    response = client.post(f"/api/v1/me/tasks/{task.pk}/complete/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["status"] == "done"
    patient.refresh_from_db()
    assert patient.invitation_accepted_at is not None


def test_token_auth_for_api_clients(carol, pat):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "carol", "password": "correct horse battery"}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/patients/").json()["count"] == 1
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/patients/").status_code in (401, 403)


def test_another_clinics_own_protocol_is_invisible(as_carol, elsewhere, protocol_version):
    Protocol.objects.create(key="elsewhere-knee", name="Knee prep", procedure="Knee", organization=elsewhere)
    keys = [p["key"] for p in as_carol.get("/api/v1/protocols/").json()["results"]]
    assert keys == ["mis-lumbar-fusion"]
    assert as_carol.get("/api/v1/protocols/elsewhere-knee/").status_code == 404
    assert as_carol.get("/api/v1/protocols/mis-lumbar-fusion/versions/1/").status_code == 200


def test_staff_without_an_organization_are_refused(db):
    stranger = UserFactory(username="stranger")
    client = APIClient()
    client.force_authenticate(stranger)
    assert client.get("/api/v1/patients/").status_code == 403
    assert Organization.objects.count() == 0
