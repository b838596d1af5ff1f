"""The push import's other paths: the invitation email, batch bundles, fulfilled and re-booked surgeries, new keys."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.practitioner import Practitioner

from checklists.models import Checklist
from prepapp.fhir.models import AppointmentLink, IntegrationClient
from prepapp.models import AuditEntry, Patient, SurgeryCase
from prepapp.reminders.models import Announcement
from prepapp.services import patient_accept_invitation

from . import fhir_bundles as fb
from .test_fhir_import import as_client, mapping, post, riverside_ehr  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def in_days(n: int):
    return timezone.now().date() + timedelta(days=n)


def test_an_imported_patient_with_an_email_is_emailed_an_invitation_that_signs_them_in(
    riverside_ehr, email_to_sink, django_capture_on_commit_callbacks
):
    bundle = fb.schedule([(1, fb.patient(1, email="peter.chalmers@example.org"), fb.appointment(1, on=in_days(30))),
                          (2, fb.patient(2, family="Nomail"), fb.appointment(2, on=in_days(31)))])
    with django_capture_on_commit_callbacks(execute=True):
        assert post(as_client(riverside_ehr), bundle).status_code == 200

    [message] = email_to_sink.received()  # the patient without an address gets none
    assert message["To"] == "peter.chalmers@example.org"
    code = re.search(r"/join/#([A-Z0-9]+)", message.get_content())[1]
    invited = Patient.objects.get(contact_email="peter.chalmers@example.org")
    assert patient_accept_invitation(code=code) == invited
    # Sent in the integration client's name, as a coordinator's "email the code" is in theirs.
    assert AuditEntry.objects.filter(patient=invited, actor=riverside_ehr.user, action="email-invitation").exists()


def test_a_batch_bundle_is_answered_entry_by_entry(riverside_ehr, riverside):
    first = post(as_client(riverside_ehr), fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))]))
    assert first.status_code == 200
    known = Patient.objects.get(organization=riverside)
    bundle = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30))),
                          (2, fb.patient(2, family="Newcomer"), fb.appointment(2, on=in_days(32)))], kind="batch")
    bundle["entry"].append(fb.entry(Practitioner(
        id="example", identifier=[{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        name=[{"family": "Careful", "given": ["Adam"]}])).model_dump(mode="json"))

    answer = post(as_client(riverside_ehr), bundle)

    assert answer.status_code == 200, answer.json()
    response = Bundle.model_validate(answer.json())
    assert response.type == "batch-response"
    assert len(response.entry) == len(bundle["entry"]) == 5
    new = Patient.objects.get(full_name="Peter James2 Newcomer")
    new_case = AppointmentLink.objects.get(value="OR-00002").case
    known_case = AppointmentLink.objects.get(value="OR-00001").case
    assert [(e.response.status, e.response.location) for e in response.entry[:4]] == [
        ("200 OK", f"Patient/{known.pk}"), ("200 OK", f"Appointment/{known_case.pk}"),
        ("201 Created", f"Patient/{new.pk}"), ("201 Created", f"Appointment/{new_case.pk}"),
    ]
    ignored = response.entry[4].response
    assert ignored.status == "200 OK" and "ignored" in ignored.outcome.issue[0].diagnostics


def test_a_fulfilled_appointment_marks_the_surgery_done(riverside_ehr):
    today = timezone.localdate()
    booked = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=today, at=time(20, 0)))])
    assert post(as_client(riverside_ehr), booked).status_code == 200
    fulfilled = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=today, at=time(20, 0), status="fulfilled"))])

    answer = post(as_client(riverside_ehr), fulfilled)

    assert answer.status_code == 200, answer.json()
    link = AppointmentLink.objects.get(value="OR-00001")
    assert link.case.status == SurgeryCase.Status.DONE and link.ehr_status == "fulfilled"
    assert AuditEntry.objects.filter(actor=riverside_ehr.user, action="complete").count() == 1
    # Fulfilled again: nothing more.
    assert post(as_client(riverside_ehr), fulfilled).status_code == 200
    assert AuditEntry.objects.filter(actor=riverside_ehr.user, action="complete").count() == 1


def test_a_cancelled_appointment_booked_again_books_a_new_surgery(riverside_ehr):
    api = as_client(riverside_ehr)
    assert post(api, fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))])).status_code == 200
    assert post(api, fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30), status="cancelled"))])) \
        .status_code == 200
    cancelled = AppointmentLink.objects.get(value="OR-00001").case
    assert cancelled.status == SurgeryCase.Status.CANCELLED

    again = post(api, fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(45)))]))

    assert again.status_code == 200, again.json()
    assert Bundle.model_validate(again.json()).entry[1].response.status == "201 Created"
    link = AppointmentLink.objects.get(value="OR-00001")
    assert link.case_id != cancelled.pk and link.ehr_status == "booked"
    assert (link.case.status, link.case.surgery_date) == (SurgeryCase.Status.SCHEDULED, in_days(45))
    assert Checklist.objects.filter(case=link.case).exists()
    assert SurgeryCase.objects.get(pk=cancelled.pk).status == SurgeryCase.Status.CANCELLED
    assert Announcement.objects.filter(patient=link.case.patient, event=Announcement.Event.BOOKED).count() == 2
    # Posted once more, as booked: the new surgery stands, nothing else is booked.
    post(api, fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(45)))]))
    assert SurgeryCase.objects.count() == 2


def admin_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_admin_issues_a_key_once_and_a_new_key_stops_the_old_one(client, lead_admin, riverside, mapping):
    client.force_login(lead_admin)
    added = client.post(reverse("admin:fhir_integrationclient_add"),
                        {"organization": riverside.pk, "name": "Riverside interface engine"}, follow=True)
    assert added.status_code == 200
    [shown] = [m for m in admin_messages(added) if "copy it into the interface engine" in m]
    old_key = re.search(r" is (\S+) — copy", shown)[1]
    engine = IntegrationClient.objects.get(name="Riverside interface engine")
    # Only its first characters are kept (and shown again); the key itself is nowhere on the page.
    page = client.get(reverse("admin:fhir_integrationclient_change", args=[engine.pk])).content.decode()
    assert engine.key_prefix == old_key[:8] and engine.key_prefix in page and old_key not in page
    old = as_client(type("Issued", (), {"key": old_key}))
    assert old.get("/fhir/R4/Patient").status_code == 200

    rotated = client.post(reverse("admin:fhir_integrationclient_changelist"),
                          {"action": "rotate_keys", "_selected_action": [engine.pk]}, follow=True)

    [shown] = [m for m in admin_messages(rotated) if "copy it into the interface engine" in m]
    new_key = re.search(r" is (\S+) — copy", shown)[1]
    assert new_key != old_key
    assert old.get("/fhir/R4/Patient").status_code == 401
    assert as_client(type("Issued", (), {"key": new_key})).get("/fhir/R4/Patient").status_code == 200
    assert old_key not in client.get(reverse("admin:fhir_integrationclient_changelist")).content.decode()
