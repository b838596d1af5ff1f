"""The coordinator's roster: figures, organization scope, ordering, and a query count that does not grow."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checklists.models import Task
from prepapp.models import AuditEntry
from prepapp.reminders.models import InboxMessage, Reminder
from prepapp.workflows.roster import roster_rows
from prepapp.workflows.roster_payload import row_payload
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_cancel, checklist_assign, task_complete

from .factories import days_from_today

URL = reverse("roster")


def rows_by_name(response):
    assert response.status_code == 200, response.content
    return {row["full_name"]: row for row in response.json()["results"]}


@pytest.fixture
def pat_behind(pat, carol, protocol_version):
    """Pat, ten days before surgery: the early steps are overdue, two are done, two messages unread, one failed."""
    case = case_book(patient=pat, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(10))
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    tasks = list(checklist.tasks.order_by("due_date", "position"))
    for task in tasks[:2]:
        task_complete(task=task, by=pat.user)
    reminder = Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).first()
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.FAILED, last_error="mailbox full")
    InboxMessage.objects.create(patient=pat, title="Due today", body="…")
    InboxMessage.objects.create(patient=pat, title="Due soon", body="…")
    InboxMessage.objects.create(patient=pat, title="Read", body="…", read_at=datetime.now(dt_timezone.utc))
    return case


def test_carol_sees_her_patients_with_their_figures(as_carol, pat, pat_behind, paul):
    rows = rows_by_name(as_carol.get(URL))
    assert set(rows) == {"Pat Example", "Paul Other"}

    today = pat.local_today()
    tasks = list(Task.objects.filter(checklist__case=pat_behind))
    overdue = [t for t in tasks if t.status == Task.Status.OPEN and t.due_date < today]
    assert overdue, "the fixture must make some steps overdue"
    row = rows["Pat Example"]
    assert row["id"] == pat.pk
    assert row["case"] == {
        "id": pat_behind.pk,
        "surgery_date": pat_behind.surgery_date.isoformat(),
        "status": "scheduled",
        "procedure": "Minimally invasive lumbar fusion",
        "surgeon": "",
    }
    assert row["status"] == "active"
    assert row["late"] == len([t for t in tasks if t.status == Task.Status.OPEN and t.late])
    assert row["days_to_surgery"] == (pat_behind.surgery_date - today).days
    assert row["today"] == today.isoformat()
    assert row["tasks_total"] == len(tasks)
    assert row["tasks_done"] == 2
    assert row["share_done"] == pytest.approx(2 / len(tasks), abs=1e-4)
    assert row["overdue"] == len(overdue)
    assert row["unread"] == 2
    assert row["failed_deliveries"] == 1
    assert row["invitation_accepted"] is False
    assert row["organization"] == "riverside"

    # Paul has no surgery yet: the figures are there, empty, not missing.
    assert rows["Paul Other"] | {"id": None, "today": None} == {
        "id": None, "full_name": "Paul Other", "status": "active", "organization": "riverside",
        "time_zone": "Europe/Madrid", "today": None, "case": None, "days_to_surgery": None, "tasks_total": 0,
        "tasks_done": 0, "share_done": None, "overdue": 0, "late": 0, "unread": 0, "failed_deliveries": 0,
        "open_alerts": 0,
        "invitation_accepted": False, "invitation_accepted_at": None,
        "not_enough_time": 0, "phase": None, "days_after_surgery": None, "recovery_week": None,
        "recovery_stage": None,
    }


def test_a_cancelled_surgery_has_no_countdown_and_nothing_overdue(as_carol, pat, pat_behind):
    case_cancel(case=pat_behind)
    row = rows_by_name(as_carol.get(URL))["Pat Example"]
    assert row["case"]["status"] == "cancelled"
    assert row["days_to_surgery"] is None
    assert row["overdue"] == 0
    assert row["tasks_done"] == 2


def test_the_current_surgery_is_the_scheduled_one(as_carol, pat, pat_behind):
    case_cancel(case=pat_behind)
    later = case_book(patient=pat, procedure="Second attempt", surgery_date=days_from_today(60))
    row = rows_by_name(as_carol.get(URL))["Pat Example"]
    assert row["case"]["id"] == later.pk
    assert row["tasks_total"] == 0  # the new surgery has no checklist yet


def test_days_and_overdue_use_each_patients_own_today(riverside, carol, protocol_version):
    # 20:00 UTC is already tomorrow in Kiritimati (UTC+14) and still this morning in Pago Pago (UTC-11).
    now = datetime(2040, 1, 1, 20, 0, tzinfo=dt_timezone.utc)
    east = patient_enrol(organization=riverside, full_name="East", time_zone="Pacific/Kiritimati")
    west = patient_enrol(organization=riverside, full_name="West", time_zone="Pacific/Pago_Pago")
    for patient in (east, west):
        case = case_book(patient=patient, procedure="Fusion", surgery_date=datetime(2040, 1, 10).date(), now=now)
        checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
        # One open step due on January 1st: overdue in Kiritimati (Jan 2nd), due today in Pago Pago.
        Task.objects.filter(checklist=checklist).update(due_date=datetime(2040, 1, 5).date())
        Task.objects.filter(pk=checklist.tasks.first().pk).update(due_date=datetime(2040, 1, 1).date())

    rows = {row.full_name: row_payload(row) for row in roster_rows(user=carol, now=now)}
    assert rows["East"]["today"].isoformat() == "2040-01-02"
    assert rows["West"]["today"].isoformat() == "2040-01-01"
    assert (rows["East"]["days_to_surgery"], rows["West"]["days_to_surgery"]) == (8, 9)
    assert (rows["East"]["overdue"], rows["West"]["overdue"]) == (1, 0)


def test_olga_the_outsider_sees_none_of_them(as_olga, pat, pat_behind, paul):
    response = as_olga.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


def test_a_patient_is_refused(as_pat, pat_behind):
    assert as_pat.get(URL).status_code == 403


def test_anonymous_is_refused(client, pat_behind):
    assert client.get(URL).status_code in (401, 403)


def test_the_roster_audits_every_patient_it_shows(as_carol, carol, pat, pat_behind, paul):
    """A list shows each patient's figures: a read of each record, so each gets a "list" entry."""
    before = AuditEntry.objects.count()
    assert as_carol.get(URL).status_code == 200
    listed = AuditEntry.objects.filter(actor=carol, action="list")
    assert AuditEntry.objects.count() == before + 2
    assert set(listed.values_list("patient", flat=True)) == {pat.pk, paul.pk}


@pytest.fixture
def four_patients(riverside, carol, protocol_version):
    """Four patients who differ in every sortable figure."""
    def enrol(name, days=None, done=0, overdue=0, failed=0):
        patient = patient_enrol(organization=riverside, full_name=name, time_zone="UTC")
        if days is None:
            return patient
        case = case_book(patient=patient, procedure="Fusion", surgery_date=days_from_today(days))
        checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
        tasks = list(checklist.tasks.order_by("position"))
        Task.objects.filter(checklist=checklist).update(due_date=days_from_today(days - 1))
        Task.objects.filter(pk__in=[t.pk for t in tasks[:overdue]]).update(due_date=days_from_today(-1))
        for task in tasks[len(tasks) - done:] if done else []:
            task_complete(task=task, by=patient.user)
        ids = Reminder.objects.filter(patient=patient).values_list("pk", flat=True)[:failed]
        Reminder.objects.filter(pk__in=list(ids)).update(status=Reminder.Status.FAILED)
        return patient

    return [
        enrol("Alma", days=40, done=1, overdue=0, failed=2),
        enrol("Bruno", days=20, done=3, overdue=2, failed=0),
        enrol("Celia", days=30, done=0, overdue=1, failed=1),
        enrol("Dario"),  # no surgery booked: sorts last by any figure
    ]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (None, ["Bruno", "Celia", "Alma", "Dario"]),
        ("days_to_surgery", ["Bruno", "Celia", "Alma", "Dario"]),
        ("-days_to_surgery", ["Alma", "Celia", "Bruno", "Dario"]),
        ("overdue", ["Alma", "Dario", "Celia", "Bruno"]),
        ("-overdue", ["Bruno", "Celia", "Alma", "Dario"]),
        ("share_done", ["Celia", "Alma", "Bruno", "Dario"]),
        ("-share_done", ["Bruno", "Alma", "Celia", "Dario"]),
        ("name", ["Alma", "Bruno", "Celia", "Dario"]),
        ("-name", ["Dario", "Celia", "Bruno", "Alma"]),
        ("failed", ["Bruno", "Dario", "Celia", "Alma"]),
        ("-failed", ["Alma", "Celia", "Bruno", "Dario"]),
    ],
)
def test_ordering(as_carol, four_patients, ordering, expected):
    response = as_carol.get(URL, {"ordering": ordering} if ordering else {})
    assert response.status_code == 200, response.content
    assert [row["full_name"] for row in response.json()["results"]] == expected


@pytest.mark.parametrize("ordering", ["surgeon", "--name", "name,overdue", "' OR 1=1"])
def test_an_unknown_ordering_is_a_400_naming_the_parameter(as_carol, pat_behind, ordering):
    response = as_carol.get(URL, {"ordering": ordering})
    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]
    assert "days_to_surgery" in response.json()["ordering"][0]


def test_the_number_of_queries_does_not_grow_with_the_patients(carol, riverside, protocol_version, as_carol):
    zones = ["UTC", "America/New_York", "Europe/Madrid", "Asia/Tokyo"]
    added = []

    def add(count):
        for i in range(count):
            number = len(added)
            patient = patient_enrol(organization=riverside, full_name=f"Patient {number}", time_zone=zones[number % 4])
            added.append(patient)
            case = case_book(patient=patient, procedure="Fusion", surgery_date=days_from_today(10 + number))
            checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
            InboxMessage.objects.create(patient=patient, title="t", body="b")

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = as_carol.get(URL, {"ordering": "-overdue"})
        assert response.status_code == 200
        return len(response.json()["results"]), len(queries)

    add(3)
    rows_small, queries_small = measure()
    add(9)
    rows_large, queries_large = measure()
    assert (rows_small, rows_large) == (3, 12)
    assert queries_small == queries_large
    # Membership check, the zones in use, the page's count and the page itself; then the audit
    # entries of the patients shown, one INSERT inside the read's savepoint (and its release).
    assert queries_large <= 7


def test_query_count_is_pinned(as_carol, pat_behind, paul, django_assert_max_num_queries):
    # Four to read (see above), three to audit the patients shown.
    with django_assert_max_num_queries(7):
        assert as_carol.get(URL).status_code == 200


def test_staff_of_two_organizations_see_both(carol, elsewhere, pat_behind, olga):
    from prepapp.models import StaffMembership

    StaffMembership.objects.create(user=carol, organization=elsewhere)
    outsider = patient_enrol(organization=elsewhere, full_name="Elsa Elsewhere", time_zone="UTC")
    rows = {row.full_name: row_payload(row) for row in roster_rows(user=carol)}
    assert rows["Elsa Elsewhere"]["organization"] == "elsewhere"
    assert rows["Pat Example"]["organization"] == "riverside"
    assert outsider.pk in {r["id"] for r in rows.values()}


def test_the_summary_counts_who_is_behind_over_the_whole_roster(carol, pat, pat_behind, paul):
    from prepapp.workflows.roster import roster_summary

    Patient = type(pat)
    Patient.objects.filter(pk=paul.pk).update(invitation_accepted_at=datetime.now(dt_timezone.utc))
    # Pat's one step short of time (stopping smoking 10 days ahead) is a stop that cannot wait:
    # due today rather than on its passed day, it is not among the two earliest she ticked off,
    # and is still open and short of time.
    assert roster_summary(roster_rows(user=carol)) == {
        "total": 2, "overdue": 1, "failed": 1, "not_signed_in": 1, "alerts": 0, "not_enough_time": 1,
    }
