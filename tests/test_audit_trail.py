"""The audit trail: staff reads and changes in the admin are noted, entries are never changed or
deleted (by the ORM nor, on PostgreSQL, by SQL), survive their patient under a pseudonym, and the
patient sees them at /api/v1/me/access-log/ (without the address they came from).
"""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from prepapp import admin_audit
from prepapp.audit import audit_record
from prepapp.lib.client_address import client_ip
from prepapp.models import AuditEntry, AuditTrailIsAppendOnly, Patient
from prepapp.services import patient_enrol

from .factories import UserFactory
from .support.second_factor import give_second_factor

pytestmark = pytest.mark.django_db

PATIENTS = reverse("admin:prepapp_patient_changelist")


def patient_page(patient):
    return reverse("admin:prepapp_patient_change", args=[patient.pk])


def change_form_data(page) -> dict:
    """What the browser would post back from an admin change page, unchanged."""
    data = {}

    def add(form):
        for name in form.fields:
            value = form[name].value()
            if value is False:
                continue  # an unticked box is not posted
            data[form.add_prefix(name)] = "on" if value is True else ("" if value is None else value)

    add(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


@pytest.fixture
def eve(elsewhere):
    return patient_enrol(organization=elsewhere, full_name="Eve Elsewhere")


def test_admin_lists_reads_and_changes_are_audited(client, lead_admin, riverside, pat, paul, eve):
    client.force_login(lead_admin)

    assert client.get(PATIENTS, REMOTE_ADDR="203.0.113.7").status_code == 200
    listed = AuditEntry.objects.filter(action="admin-list")
    assert sorted(e.patient_id for e in listed) == sorted([pat.pk, paul.pk])  # the page's patients, not Eve
    entry = listed.get(patient=pat)
    assert (entry.actor, entry.organization, entry.patient_ref) == (lead_admin, riverside, f"patient-{pat.pk}")
    assert (entry.ip_address, entry.path) == ("203.0.113.7", PATIENTS)

    page = client.get(patient_page(pat))
    assert page.status_code == 200
    assert AuditEntry.objects.filter(action="admin-read", patient=pat, actor=lead_admin).count() == 1

    data = change_form_data(page)
    data["full_name"] = "Pat Changed"
    assert client.post(patient_page(pat), data).status_code == 302
    pat.refresh_from_db()
    assert pat.full_name == "Pat Changed"
    assert AuditEntry.objects.filter(action="admin-change", patient=pat).count() == 1
    assert not AuditEntry.objects.filter(patient=eve).exists()


def test_records_reached_through_a_case_or_checklist_name_their_patient(client, lead_admin, pat_checklist):
    client.force_login(lead_admin)
    patient = pat_checklist.case.patient
    assert client.get(reverse("admin:checklists_task_changelist")).status_code == 200
    # Every task on the page is the same patient's: one entry.
    assert list(AuditEntry.objects.filter(action="admin-list").values_list("patient", flat=True)) == [patient.pk]
    task = pat_checklist.tasks.first()
    assert client.get(reverse("admin:checklists_task_change", args=[task.pk])).status_code == 200
    assert AuditEntry.objects.filter(action="admin-read", patient=patient).exists()


def test_reading_protocols_is_not_a_read_of_anyones_record(client, lead_admin, protocol_version):
    client.force_login(lead_admin)
    client.get(reverse("admin:checklists_protocolversion_changelist"))
    client.get(reverse("admin:checklists_protocolversion_change", args=[protocol_version.pk]))
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_admin_read_or_change_and_its_entry_share_one_transaction(client, lead_admin, pat, monkeypatch):
    written = []
    record = admin_audit.audit_record

    def noting_the_transaction(**kwargs):
        written.append((kwargs["action"], connection.in_atomic_block))
        return record(**kwargs)

    monkeypatch.setattr(admin_audit, "audit_record", noting_the_transaction)
    client.force_login(lead_admin)
    client.get(PATIENTS)
    page = client.get(patient_page(pat))
    assert written == [("admin-list", True), ("admin-read", True)]

    # When the entry cannot be written, the change is not made either.
    def failing(**kwargs):
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(admin_audit, "audit_record", failing)
    data = change_form_data(page)
    data["full_name"] = "Pat Changed"
    with pytest.raises(RuntimeError):
        client.post(patient_page(pat), data)
    pat.refresh_from_db()
    assert pat.full_name == "Pat Example"


def test_an_entry_cannot_be_changed_or_deleted_through_the_orm(carol, pat):
    audit_record(actor=carol, patients=[pat], action="read")
    entry = AuditEntry.objects.get()
    entry.action = "nothing to see"
    attempts = [
        entry.save,
        entry.delete,
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="nothing to see"),
        lambda: AuditEntry.objects.bulk_update([entry], ["action"]),
        lambda: AuditEntry.objects.all().delete(),
        lambda: AuditEntry(pk=entry.pk, actor=carol, patient=pat, action="forged").save(),
    ]
    for attempt in attempts:
        with pytest.raises(AuditTrailIsAppendOnly), transaction.atomic():
            attempt()
    assert AuditEntry.objects.get().action == "read"


def test_the_database_refuses_to_change_or_delete_an_entry(carol, pat):
    # The suite runs on PostgreSQL, whose trigger this is: anything else is a broken setup, not a skip.
    assert connection.vendor == "postgresql", "the audit trail's trigger needs PostgreSQL (set DATABASE_URL)"
    audit_record(actor=carol, patients=[pat], action="read", ip="192.0.2.1")
    for statement in [
        "UPDATE prepapp_auditentry SET action = 'nothing to see'",
        "UPDATE prepapp_auditentry SET ip_address = NULL",
        "UPDATE prepapp_auditentry SET patient_id = NULL, patient_ref = ''",
        "DELETE FROM prepapp_auditentry",
    ]:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    # What erasing a patient does, and nothing more, goes through.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE prepapp_auditentry SET patient_id = NULL")
    entry = AuditEntry.objects.get()
    assert (entry.patient_id, entry.patient_ref, entry.action, entry.ip_address) == (
        None, f"patient-{pat.pk}", "read", "192.0.2.1"
    )


def test_the_database_refuses_to_empty_the_trail(carol, pat):
    assert connection.vendor == "postgresql", "the audit trail's trigger needs PostgreSQL (set DATABASE_URL)"
    audit_record(actor=carol, patients=[pat], action="read")
    with pytest.raises(IntegrityError, match="TRUNCATE refused"), transaction.atomic(), connection.cursor() as cursor:
        # The test suite's sessions may empty the tables between tests; this one says it may not.
        cursor.execute("SET LOCAL prepapp.audit_truncate = 'refused'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the entry's foreign keys checked now, not at commit
        cursor.execute("TRUNCATE prepapp_auditentry")
    assert AuditEntry.objects.count() == 1


def test_deleting_a_patient_keeps_their_entries_under_a_pseudonym(client, carol, riverside, pat_checklist, paul):
    pat = pat_checklist.case.patient
    pat_id = pat.pk
    audit_record(actor=carol, patients=[pat, paul], action="read")
    pat.delete()
    entry = AuditEntry.objects.get(patient_ref=f"patient-{pat_id}")
    assert (entry.patient, entry.action, entry.actor, entry.organization) == (None, "read", carol, riverside)

    # Deleted in the admin (by the operator): the deletion itself is in the trail, and stays.
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    give_second_factor(operator)
    client.force_login(operator)
    paul_id = paul.pk
    response = client.post(reverse("admin:prepapp_patient_delete", args=[paul_id]), {"post": "yes"})
    assert response.status_code == 302 and not Patient.objects.filter(pk=paul_id).exists()
    assert sorted(AuditEntry.objects.filter(patient_ref=f"patient-{paul_id}").values_list("action", flat=True)) == [
        "admin-delete", "read"
    ]


def test_the_client_address_comes_from_the_trusted_proxies_only(rf, settings, carol, pat):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    for proxies, address in [(0, "10.0.0.2"), (1, "203.0.113.9"), (2, "198.51.100.1"), (3, "10.0.0.2")]:
        settings.TRUSTED_PROXY_COUNT = proxies
        assert client_ip(request) == address

    settings.TRUSTED_PROXY_COUNT = 1
    audit_record(actor=carol, patients=[pat], action="read", request=request)
    forged = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not an address")
    audit_record(actor=carol, patients=[pat], action="read", request=forged)
    assert sorted(AuditEntry.objects.values_list("ip_address", flat=True), key=str) == ["203.0.113.9", None]


# --- The patient's view: /api/v1/me/access-log/ ----------------------------------------------


def test_a_patient_sees_who_looked_at_her_record_and_no_one_elses(as_carol, as_pat, as_paul, carol, lee, pat, paul):
    carol.first_name, carol.last_name = "Carol", "Nguyen"
    carol.save()
    assert as_carol.get(f"/api/v1/patients/{pat.pk}/", REMOTE_ADDR="198.51.100.23").status_code == 200
    audit_record(actor=lee, patients=[paul], action="admin-read", ip="198.51.100.24")
    audit_record(actor=lee, patients=[pat], action="admin-change", ip="198.51.100.25")

    response = as_pat.get("/api/v1/me/access-log/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["action"], newest["what"]) == ("admin-change", "Changed your record")
    assert newest["who"] == {"name": "lee", "role": "Clinical lead", "organization": "Riverside Spine Center"}
    assert (oldest["action"], oldest["what"]) == ("read", "Opened your record")
    assert oldest["who"] == {
        "name": "Carol Nguyen", "role": "Care coordinator", "organization": "Riverside Spine Center"
    }
    text = response.content.decode()
    assert "198.51.100" not in text and "127.0.0.1" not in text and "/api/v1/patients/" not in text
    assert set(newest) == {"id", "at", "action", "what", "who"}

    # Paul sees only his, in his language (Spanish).
    paul_log = as_paul.get("/api/v1/me/access-log/").json()
    assert [(e["action"], e["what"], e["who"]["role"]) for e in paul_log["results"]] == [
        ("admin-read", "Abrió su expediente", "Responsable clínico(a)")
    ]


def test_the_access_log_is_for_patients_only(as_carol, client):
    assert as_carol.get("/api/v1/me/access-log/").status_code == 403
    assert client.get("/api/v1/me/access-log/").status_code in (401, 403)


def test_the_access_log_is_paginated(as_pat, carol, pat):
    for _ in range(55):
        audit_record(actor=carol, patients=[pat], action="read")
    first = as_pat.get("/api/v1/me/access-log/").json()
    assert first["count"] == 55 and len(first["results"]) == 50 and first["next"]
    assert len(as_pat.get("/api/v1/me/access-log/", {"page": 2}).json()["results"]) == 5


def test_the_access_log_is_described_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/me/access-log/"]["get"]
    assert operation["operationId"] == "me_access_log_list" and operation["tags"] == ["me"]
    listed = schema["components"]["schemas"]["PaginatedAccessLogEntryList"]["properties"]["results"]
    assert listed["items"] == {"$ref": "#/components/schemas/AccessLogEntry"}
    assert "ip_address" not in schema["components"]["schemas"]["AccessLogEntry"]["properties"]


def test_lists_and_enrolment_are_audited_for_every_patient_shown(as_carol, carol, pat, paul, pat_checklist):
    as_carol.get("/api/v1/patients/")
    assert set(AuditEntry.objects.filter(actor=carol, action="list").values_list("patient", flat=True)) == {
        pat.pk, paul.pk
    }
    before = AuditEntry.objects.filter(action="list").count()
    as_carol.get("/api/v1/cases/")
    assert AuditEntry.objects.filter(action="list").count() == before + 1  # pat's one case
    created = as_carol.post("/api/v1/patients/", {"full_name": "Nina New"}, format="json")
    assert AuditEntry.objects.filter(actor=carol, action="enrol", patient_id=created.json()["id"]).exists()
    entry = AuditEntry.objects.filter(action="enrol").get()
    assert entry.ip_address and entry.path == "/api/v1/patients/"
