"""The coordinator's day through the API: duplicates at enrolment, archive and discharge, invitations
by email, roster filters and the CSV export.

Carol (Riverside's coordinator) owns the patients, Lee is her teammate, Olga works at another
clinic and is refused everywhere; Pat and Paul are Riverside's patients.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from prepapp.models import AuditEntry, Patient, invitation_code_digest
from prepapp.reminders.models import Reminder
from prepapp.workflows.roster_payload import csv_cell
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .conftest import client_for
from .factories import days_from_today

pytestmark = pytest.mark.django_db

OWN_PAGE = {"HTTP_ORIGIN": "http://testserver"}


@pytest.fixture
def as_lee(lee):
    return client_for(lee)


def enrol(client, **fields):
    return client.post("/api/v1/patients/", {"time_zone": "America/New_York", **fields}, format="json")


# --- Possible duplicates at enrolment ----------------------------------------------------


def test_the_same_name_and_email_is_a_possible_duplicate(as_carol, carol, pat):
    response = enrol(as_carol, full_name="  pat EXAMPLE ", contact_email="PAT@example.org")
    assert response.status_code == 409, response.content
    body = response.json()
    assert "confirm_duplicate" in body["detail"][0]
    assert [(d["id"], d["full_name"], d["same_email"], d["same_date_of_birth"]) for d in body["duplicates"]] == [
        (pat.pk, "Pat Example", True, False)
    ]
    assert body["duplicates"][0]["status"] == "active"
    assert Patient.objects.filter(full_name__iexact="pat example").count() == 1
    # Showing the existing record's details is a read of it.
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="list").exists()


def test_the_same_name_and_date_of_birth_is_a_possible_duplicate(as_carol, as_lee, riverside):
    first = enrol(as_carol, full_name="Lucía Ramos", date_of_birth="1961-04-09")
    assert first.status_code == 201, first.content
    assert first.json()["date_of_birth"] == "1961-04-09"
    # Lee, Carol's teammate, is warned about Carol's patient: it is the same clinic.
    again = enrol(as_lee, full_name="lucía ramos", date_of_birth="1961-04-09", contact_email="lr@example.org")
    assert again.status_code == 409
    assert again.json()["duplicates"][0]["same_date_of_birth"] is True
    assert again.json()["duplicates"][0]["same_email"] is False


def test_the_same_name_alone_is_not_a_duplicate(as_carol, pat):
    other = enrol(as_carol, full_name="Pat Example", contact_email="another.pat@example.org", date_of_birth="1990-01-01")
    assert other.status_code == 201, other.content


def test_enrol_anyway_after_confirming(as_carol, pat):
    response = enrol(as_carol, full_name="Pat Example", contact_email="pat@example.org", confirm_duplicate=True)
    assert response.status_code == 201, response.content
    assert "confirm_duplicate" not in response.json()
    assert Patient.objects.filter(full_name="Pat Example").count() == 2
    assert response.json()["invitation_code"]


def test_olga_is_never_told_about_another_clinics_patient(as_olga, pat):
    response = enrol(as_olga, full_name="Pat Example", contact_email="pat@example.org")
    assert response.status_code == 201, response.content
    assert "Riverside" not in response.content.decode()
    assert Patient.objects.get(pk=response.json()["id"]).organization.slug == "elsewhere"


def test_a_date_of_birth_in_the_future_is_refused(as_carol):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = enrol(as_carol, full_name="Nora Quinn", date_of_birth=tomorrow)
    assert response.status_code == 400
    assert list(response.json()) == ["date_of_birth"]


# --- Archive, discharge, reactivate ----------------------------------------------------


def pending(patient) -> int:
    """The patient's pending step reminders and digests (announcements are news of their moment:
    one cancelled while the record was archived is not sent later)."""
    return (
        Reminder.objects.filter(patient=patient, status=Reminder.Status.PENDING)
        .exclude(kind=Reminder.Kind.ANNOUNCEMENT)
        .count()
    )


def roster_names(client, query=""):
    response = client.get(f"/api/v1/roster/{query}")
    assert response.status_code == 200, response.content
    return {row["full_name"] for row in response.json()["results"]}


def signed_in_patient(code) -> APIClient:
    phone = APIClient()
    response = phone.post("/api/v1/auth/invitation/", {"code": code}, format="json", **OWN_PAGE)
    assert response.status_code == 200, response.content
    return phone


def test_archiving_cancels_reminders_hides_the_patient_signs_them_out_and_keeps_the_record(
    as_carol, carol, pat, pat_checklist, paul
):
    phone = signed_in_patient(pat.invitation_code)
    planned = pending(pat)
    assert planned > 0
    # Every pending row, the booking's news among them.
    everything = Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).count()

    response = as_carol.post(f"/api/v1/patients/{pat.pk}/archive/", {"reason": "entered twice"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["status_reason"]) == ("archived", "entered twice")

    assert pending(pat) == 0
    cancelled = Reminder.objects.filter(patient=pat, status=Reminder.Status.CANCELLED)
    assert cancelled.count() == everything and set(cancelled.values_list("last_error", flat=True)) == {"patient archived"}
    assert roster_names(as_carol) == {"Paul Other"}
    assert roster_names(as_carol, "?status=archived") == {"Pat Example"}
    assert roster_names(as_carol, "?status=all") == {"Pat Example", "Paul Other"}
    # The record is kept, with its surgery and checklist.
    assert as_carol.get(f"/api/v1/patients/{pat.pk}/").status_code == 200
    assert as_carol.get(f"/api/v1/cases/{pat_checklist.case.pk}/checklist/").status_code == 200
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="archive").count() == 1
    # The patient is signed out and cannot sign in again, nor ask for a link.
    assert phone.get("/api/v1/me/").status_code == 401
    pat.refresh_from_db()
    assert pat.user.is_active is False and pat.invitation_code_hash is None

    # Archiving again changes nothing and leaves no second entry.
    assert as_carol.post(f"/api/v1/patients/{pat.pk}/archive/").status_code == 200
    assert AuditEntry.objects.filter(patient=pat, action="archive").count() == 1


def test_an_archived_patient_gets_no_sign_in_link(as_carol, pat, email_to_sink, site_url, django_capture_on_commit_callbacks):
    as_carol.post(f"/api/v1/patients/{pat.pk}/archive/")
    with django_capture_on_commit_callbacks(execute=True):
        asked = APIClient().post("/api/v1/auth/sign-in-link/", {"email": "pat@example.org"}, format="json")
    assert asked.status_code == 202  # the same answer as for anyone
    time.sleep(0.3)
    assert email_to_sink.received() == []
    # Made active again, the link comes.
    as_carol.post(f"/api/v1/patients/{pat.pk}/reactivate/")
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post("/api/v1/auth/sign-in-link/", {"email": "pat@example.org"}, format="json")
    assert len(wait_for_mail(email_to_sink, 1)) == 1


def test_an_archived_patient_gets_no_new_surgery_or_code(as_carol, carol, pat):
    as_carol.post(f"/api/v1/patients/{pat.pk}/archive/")
    booked = as_carol.post(
        "/api/v1/cases/", {"patient": pat.pk, "procedure": "Fusion", "surgery_date": str(days_from_today(30))},
        format="json",
    )
    assert booked.status_code == 400 and list(booked.json()) == ["patient"]
    issued = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/")
    assert issued.status_code == 400 and list(issued.json()) == ["status"]


def test_reactivating_plans_the_reminders_again_and_lets_the_patient_back_in(as_carol, as_lee, lee, pat, pat_checklist):
    planned = pending(pat)
    as_carol.post(f"/api/v1/patients/{pat.pk}/archive/")
    response = as_lee.post(f"/api/v1/patients/{pat.pk}/reactivate/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active" and response.json()["status_reason"] == ""
    assert pending(pat) == planned
    assert roster_names(as_lee) == {"Pat Example"}
    assert AuditEntry.objects.filter(actor=lee, patient=pat, action="reactivate").exists()
    # A fresh code signs the patient in again.
    code = as_lee.post(f"/api/v1/patients/{pat.pk}/invitation/").json()["invitation_code"]
    assert signed_in_patient(code).get("/api/v1/me/").status_code == 200


def test_a_discharged_patient_keeps_reading_their_record_and_gets_no_reminders(as_carol, carol, pat, pat_checklist):
    phone = signed_in_patient(pat.invitation_code)
    response = as_carol.post(f"/api/v1/patients/{pat.pk}/discharge/", {"reason": "care finished"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "discharged"
    assert pending(pat) == 0
    assert phone.get("/api/v1/me/").status_code == 200
    assert phone.get("/api/v1/me/checklist/").status_code == 200
    assert roster_names(as_carol) == set()
    assert roster_names(as_carol, "?status=discharged") == {"Pat Example"}
    # The patient sees it in "who has looked at my record".
    whats = [entry["what"] for entry in phone.get("/api/v1/me/access-log/").json()["results"]]
    assert "Marked your care as finished" in whats
    # Changing preferences plans nothing for a discharged patient.
    assert phone.patch("/api/v1/me/", {"reminder_time": "10:00"}, format="json").status_code == 200
    assert pending(pat) == 0
    # Reactivated, the reminders come back.
    as_carol.post(f"/api/v1/patients/{pat.pk}/reactivate/")
    assert pending(pat) > 0


def test_olga_and_patients_cannot_archive(as_olga, as_pat, pat, pat_checklist):
    planned = pending(pat)
    for verb in ("archive", "discharge", "reactivate"):
        assert as_olga.post(f"/api/v1/patients/{pat.pk}/{verb}/").status_code == 404
        assert as_pat.post(f"/api/v1/patients/{pat.pk}/{verb}/").status_code == 403
    pat.refresh_from_db()
    assert pat.status == "active" and pending(pat) == planned


def test_a_long_reason_and_an_unknown_field_are_named(as_carol, pat):
    long = as_carol.post(f"/api/v1/patients/{pat.pk}/archive/", {"reason": "x" * 201}, format="json")
    assert long.status_code == 400 and list(long.json()) == ["reason"]
    unknown = as_carol.post(f"/api/v1/patients/{pat.pk}/archive/", {"why": "x"}, format="json")
    assert unknown.status_code == 400 and list(unknown.json()) == ["why"]
    pat.refresh_from_db()
    assert pat.status == "active"


# --- Invitations by email ------------------------------------------------------------


def wait_for_mail(sink, count: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while len(sink.received()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.received()


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def code_in(message) -> str:
    import re

    found = re.search(r"/join/#([A-Z2-9]{8})\b", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_carol_emails_pat_a_new_code_that_replaces_the_old_one(as_carol, carol, pat, email_to_sink, site_url):
    old_code = pat.invitation_code
    response = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/email/")
    assert response.status_code == 202, response.content
    assert response.json()["sent_to"] == "pat@example.org"
    assert "invitation_code" not in response.json()  # the code is in the email only

    message = wait_for_mail(email_to_sink, 1)[0]
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "Your invitation to get ready for your surgery"
    code = code_in(message)
    assert code in message.get_content().split("type this code:")[1]
    assert "Riverside Spine Center" in message.get_content()
    pat.refresh_from_db()
    assert pat.invitation_code_hash == invitation_code_digest(code)
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="email-invitation").count() == 1

    old = APIClient().post("/api/v1/auth/invitation/", {"code": old_code}, format="json", **OWN_PAGE)
    assert old.status_code == 400
    assert signed_in_patient(code).get("/api/v1/me/").status_code == 200


def test_the_email_speaks_the_patients_language(as_carol, riverside, email_to_sink, site_url):
    lucia = patient_enrol(organization=riverside, full_name="Lucía Ramos", contact_email="lucia@example.org",
                          language="es")
    assert as_carol.post(f"/api/v1/patients/{lucia.pk}/invitation/email/").status_code == 202
    message = wait_for_mail(email_to_sink, 1)[0]
    assert message["Subject"] == "Su invitación para prepararse para la cirugía"
    assert "Hola, Lucía Ramos:" in message.get_content()


def test_invitations_by_email_are_limited_per_patient_for_the_whole_team(
    as_carol, as_lee, pat, paul, email_to_sink, site_url, settings
):
    settings.INVITATION_EMAILS_PER_HOUR = 2
    assert as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/email/").status_code == 202
    assert as_lee.post(f"/api/v1/patients/{pat.pk}/invitation/email/").status_code == 202
    refused = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/email/")
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert "2 invitations" in refused.json()["detail"][0]
    assert len(wait_for_mail(email_to_sink, 2)) == 2
    # Another patient has a count of their own.
    Patient.objects.filter(pk=paul.pk).update(contact_email="paul@example.org")
    assert as_lee.post(f"/api/v1/patients/{paul.pk}/invitation/email/").status_code == 202


def test_no_address_no_email(as_carol, paul, email_to_sink):
    response = as_carol.post(f"/api/v1/patients/{paul.pk}/invitation/email/")
    assert response.status_code == 400 and list(response.json()) == ["contact_email"]


def test_olga_cannot_email_riversides_patients(as_olga, pat, email_to_sink, site_url):
    before = pat.invitation_code_hash
    assert as_olga.post(f"/api/v1/patients/{pat.pk}/invitation/email/").status_code == 404
    time.sleep(0.2)
    assert email_to_sink.received() == []
    pat.refresh_from_db()
    assert pat.invitation_code_hash == before


def test_a_mail_server_that_is_down_changes_nothing(as_carol, pat, settings, site_url):
    from .support.processes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    old_code = pat.invitation_code
    response = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/email/")
    assert response.status_code == 502
    assert "earlier code still works" in response.json()["detail"][0]
    assert not AuditEntry.objects.filter(patient=pat, action="email-invitation").exists()
    assert signed_in_patient(old_code).get("/api/v1/me/").status_code == 200


# --- Roster filters ---------------------------------------------------------------------


@pytest.fixture
def day(riverside, carol, pat, protocol_version, elsewhere):
    """Riverside's list for the day: surgeons, dates, one patient behind, one discharged; and Elsewhere's."""
    people = {}

    def book(name, surgeon, days, assign=False, **details):
        patient = patient_enrol(organization=riverside, full_name=name, time_zone="UTC", **details)
        case = case_book(patient=patient, procedure="Fusion", surgeon=surgeon,
                         surgery_date=days_from_today(days, patient=patient))
        if assign:
            checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
        people[name] = patient
        return patient

    book("Alma Okafor", "Dr. Imani Okafor", 40)
    book("Bruno Diaz", "Dr. Sam Lee", 12, assign=True)  # ten days out: early steps already overdue and late
    book("Chen Wu", "dr. imani okafor", 80)
    book("Dora Finished", "Dr. Sam Lee", 20)
    from prepapp.workflows import patient_set_status

    patient_set_status(patient=people["Dora Finished"], status="discharged", by=carol)
    outsider = patient_enrol(organization=elsewhere, full_name="Elsa Elsewhere", time_zone="UTC")
    case_book(patient=outsider, procedure="Fusion", surgeon="Dr. Imani Okafor", surgery_date=days_from_today(40))
    return people


def test_filter_by_surgeon_date_range_alerts_and_status(as_carol, day, pat):
    assert roster_names(as_carol, "?surgeon=okafor") == {"Alma Okafor", "Chen Wu"}
    lo, hi = days_from_today(10).isoformat(), days_from_today(45).isoformat()
    assert roster_names(as_carol, f"?surgery_from={lo}&surgery_to={hi}") == {"Alma Okafor", "Bruno Diaz"}
    assert roster_names(as_carol, f"?surgery_from={days_from_today(50).isoformat()}") == {"Chen Wu"}
    assert roster_names(as_carol, "?alerts=1") == {"Bruno Diaz"}
    assert roster_names(as_carol, "?status=discharged&surgeon=lee") == {"Dora Finished"}
    assert roster_names(as_carol, "?status=active&status=discharged&surgeon=lee") == {"Bruno Diaz", "Dora Finished"}
    # Filters and ordering together.
    rows = as_carol.get("/api/v1/roster/?surgeon=okafor&ordering=-days_to_surgery").json()["results"]
    assert [row["full_name"] for row in rows] == ["Chen Wu", "Alma Okafor"]
    assert rows[0]["case"]["surgeon"] == "dr. imani okafor"


def test_a_filter_lists_only_what_it_shows_in_the_audit_trail(as_carol, carol, day):
    before = AuditEntry.objects.filter(action="list").count()
    assert roster_names(as_carol, "?surgeon=okafor") == {"Alma Okafor", "Chen Wu"}
    listed = AuditEntry.objects.filter(action="list").order_by("-id")[: AuditEntry.objects.count() - before]
    assert {entry.patient.full_name for entry in listed} == {"Alma Okafor", "Chen Wu"}


@pytest.mark.parametrize(
    "query, field",
    [
        ("?status=gone", "status"),
        ("?surgery_from=tomorrow", "surgery_from"),
        ("?surgery_from=2030-02-01&surgery_to=2030-01-01", "surgery_to"),
        ("?alerts=maybe", "alerts"),
        ("?surgeon=" + "x" * 201, "surgeon"),
    ],
)
def test_a_bad_filter_is_named(as_carol, day, query, field):
    for url in ("/api/v1/roster/", "/api/v1/roster/csv/"):
        response = as_carol.get(url + query)
        assert response.status_code == 400, (url, response.content)
        assert list(response.json()) == [field]


def test_olga_filters_only_her_own_clinic(as_olga, day):
    assert roster_names(as_olga, "?surgeon=okafor&status=all") == {"Elsa Elsewhere"}


# --- CSV ---------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="roster-')
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_holds_the_filtered_roster(as_carol, carol, day):
    rows = read_csv(as_carol.get("/api/v1/roster/csv/?surgeon=okafor&ordering=name"))
    assert [row["full_name"] for row in rows] == ["Alma Okafor", "Chen Wu"]
    alma = rows[0]
    assert alma["patient_id"] == str(day["Alma Okafor"].pk)
    assert (alma["status"], alma["surgeon"], alma["surgery_status"]) == ("active", "Dr. Imani Okafor", "scheduled")
    assert alma["surgery_date"] == days_from_today(40, patient=day["Alma Okafor"]).isoformat()
    assert alma["days_to_surgery"] == "40"
    assert (alma["steps_done"], alma["steps_total"], alma["overdue"], alma["signed_in"]) == ("0", "0", "0", "no")
    # Read like the roster: each patient in the file is noted.
    assert set(
        AuditEntry.objects.filter(actor=carol, action="list", path__startswith="/api/v1/roster/csv/")
        .values_list("patient__full_name", flat=True)
    ) == {"Alma Okafor", "Chen Wu"}


def test_the_csv_has_every_row_not_one_page(as_carol, riverside, monkeypatch):
    from rest_framework.pagination import PageNumberPagination

    monkeypatch.setattr(PageNumberPagination, "page_size", 5)
    for i in range(12):
        patient_enrol(organization=riverside, full_name=f"Patient {i:02d}", time_zone="UTC")
    assert len(as_carol.get("/api/v1/roster/").json()["results"]) == 5
    assert len(read_csv(as_carol.get("/api/v1/roster/csv/"))) == 12


def test_the_csv_cannot_carry_a_formula(as_carol, carol, riverside):
    names = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-3-4", "@SUM(A1)", "Plain Name"]
    for name in names:
        patient = patient_enrol(organization=riverside, full_name=name, time_zone="UTC")
        case_book(patient=patient, procedure="=cmd|' /C calc'!A0", surgeon="\t@Dr. Evil", surgery_date=days_from_today(9))
    rows = read_csv(as_carol.get("/api/v1/roster/csv/?ordering=name"))
    assert sorted(row["full_name"] for row in rows) == sorted(
        ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+1+2", "'-3-4", "'@SUM(A1)", "Plain Name"]
    )
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t")), row
        assert row["procedure"] == "'=cmd|' /C calc'!A0" and row["surgeon"] == "'\t@Dr. Evil"


def test_csv_cells():
    assert csv_cell(None) == "" and csv_cell(True) == "yes" and csv_cell(-3) == -3
    assert csv_cell(date(2040, 1, 2)) == "2040-01-02"
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("a=b") == "a=b"


def test_the_csv_is_scoped_to_the_callers_clinic(as_olga, as_pat, day):
    assert [row["full_name"] for row in read_csv(as_olga.get("/api/v1/roster/csv/?status=all"))] == ["Elsa Elsewhere"]
    assert as_pat.get("/api/v1/roster/csv/").status_code == 403
    assert APIClient().get("/api/v1/roster/csv/").status_code == 401


# --- The pages, as the server renders them ------------------------------------------------


def test_the_roster_page_filters_and_keeps_its_filters_in_links(client, carol, day):
    client.force_login(carol)
    html = client.get("/coordinator/?surgeon=okafor&ordering=name").content.decode()
    assert "Alma Okafor" in html and "Chen Wu" in html and "Bruno Diaz" not in html
    assert "Elsa Elsewhere" not in html
    assert 'value="okafor"' in html
    assert "2 patients match these filters." in html
    # Sorting and the CSV keep the filters.
    assert 'href="?ordering=-name&amp;surgeon=okafor"' in html
    assert '/api/v1/roster/csv/?ordering=name&amp;surgeon=okafor"' in html
    # The discharged patient is one filter away, marked as such.
    html = client.get("/coordinator/?status=all").content.decode()
    assert "Dora Finished" in html and 'data-status="discharged"' in html


def test_an_unreadable_filter_is_named_on_the_page(client, carol, day):
    client.force_login(carol)
    response = client.get("/coordinator/?surgery_from=soon")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="filter-surgery_from-error"' in html and "YYYY-MM-DD" in html
    assert "Alma Okafor" in html  # the roster itself is still there


def test_the_patient_page_shows_the_status_and_offers_to_reactivate(client, carol, pat, pat_checklist):
    from prepapp.workflows import patient_set_status

    patient_set_status(patient=pat, status="archived", by=carol, reason="entered twice")
    client.force_login(carol)
    html = client.get(f"/coordinator/patients/{pat.pk}/").content.decode()
    assert 'data-status-banner="archived"' in html and "entered twice" in html
    assert "Make active again" in html
    assert 'data-action="reschedule"' not in html and 'data-action="issue-invitation"' not in html
