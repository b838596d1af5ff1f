""""Not enough time": a step whose minimum lead time can no longer be met.

Six weeks smoke-free cannot be had with the surgery 30 days away, and seven days off NSAIDs
cannot be had 5 days before it. Such a step is marked when it is assigned (late enrolment)
or when the surgery moves earlier; the patient is asked to call the care team, and the
coordinator sees it on the roster and on the patient's page.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from checklists.models import Task
from prepapp.workflows.roster import roster_rows, roster_summary
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, case_reschedule, checklist_assign, task_complete

from .conftest import client_for
from .support.journey import surgery_was


def assign(patient, carol, protocol_version, days_before):
    case = case_book(
        patient=patient, procedure="Minimally invasive lumbar fusion",
        surgery_date=patient.local_today() + timedelta(days=days_before),
    )
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return case, checklist


def flagged(case) -> set[str]:
    return set(
        Task.objects.filter(checklist__case=case, not_enough_time=True).values_list("definition__key", flat=True)
    )


def my_tasks(client):
    response = client.get("/api/v1/me/checklist/")
    assert response.status_code == 200, response.content
    payload = response.json()
    return payload, {t["key"]: t for group in payload["groups"].values() for t in group}


def roster_row(client, name):
    response = client.get(reverse("roster"))
    assert response.status_code == 200, response.content
    return {row["full_name"]: row for row in response.json()["results"]}[name]


# --- Assigned late, or moved earlier --------------------------------------------------------------


@pytest.mark.parametrize(
    "days_before, short",
    [
        (60, set()),
        (42, set()),  # exactly six weeks: just enough
        (41, {"stop-smoking"}),
        (30, {"stop-smoking"}),
        (7, {"stop-smoking"}),  # a week off NSAIDs is still possible
        (6, {"stop-smoking", "stop-nsaids"}),
    ],
)
def test_assigning_marks_the_steps_whose_lead_time_cannot_be_met(pat, carol, protocol_version, days_before, short):
    # Pat smokes and takes NSAIDs: both steps with a minimum lead time apply to her.
    case, _ = assign(pat, carol, protocol_version, days_before)
    assert flagged(case) == short


def test_only_steps_on_the_list_are_marked(riverside, carol, protocol_version, as_carol):
    nonsmoker = patient_enrol(
        organization=riverside, full_name="Nina Nonsmoker", time_zone="UTC", smoker=False, takes_nsaids=False
    )
    case, _ = assign(nonsmoker, carol, protocol_version, 5)
    assert flagged(case) == set()
    # Not known yet: the steps are on the list "if this applies to you", short of time like any other,
    # so the care team hears of it before the facts are settled.
    unknown = patient_enrol(organization=riverside, full_name="Uma Unknown", time_zone="UTC")
    case, _ = assign(unknown, carol, protocol_version, 5)
    assert flagged(case) == {"stop-smoking", "stop-nsaids"}
    _, tasks = my_tasks(client_for(unknown.user))
    assert tasks["stop-smoking"]["conditional"] is True and tasks["stop-smoking"]["not_enough_time"] is True


def test_moving_the_surgery_earlier_marks_and_later_clears(pat, carol, protocol_version):
    case, _ = assign(pat, carol, protocol_version, 60)
    assert flagged(case) == set()
    today = pat.local_today()
    case_reschedule(case=case, surgery_date=today + timedelta(days=20))
    assert flagged(case) == {"stop-smoking"}
    case_reschedule(case=case, surgery_date=today + timedelta(days=5))
    assert flagged(case) == {"stop-smoking", "stop-nsaids"}
    case_reschedule(case=case, surgery_date=today + timedelta(days=50))
    assert flagged(case) == set()


def test_a_done_step_keeps_its_mark_when_the_surgery_moves(pat, carol, protocol_version):
    case, checklist = assign(pat, carol, protocol_version, 30)
    smoking = checklist.tasks.get(definition__key="stop-smoking")
    task_complete(task=smoking, by=pat.user)
    case_reschedule(case=case, surgery_date=pat.local_today() + timedelta(days=60))
    smoking.refresh_from_db()
    assert smoking.not_enough_time is True  # done tasks keep what they were given, for the record


# --- What the patient sees --------------------------------------------------------------------------


def test_the_patient_is_told_why_and_the_step_is_counted(pat, carol, protocol_version, as_pat):
    assign(pat, carol, protocol_version, 30)
    payload, tasks = my_tasks(as_pat)
    smoking = tasks["stop-smoking"]
    assert smoking["not_enough_time"] is True
    assert smoking["min_lead_days"] == 42
    assert "4 to 6 weeks without any nicotine" in smoking["lead_reason"]
    # Short of time is no reason to keep smoking: nicotine after surgery slows the fusion too.
    assert "Stop now all the same" in smoking["lead_reason"]
    assert smoking["late"] is False  # still in its window, due in two days
    nsaids = tasks["stop-nsaids"]
    assert (nsaids["not_enough_time"], nsaids["min_lead_days"]) == (False, 7)
    assert tasks["prehab"]["lead_reason"] == "" and tasks["prehab"]["min_lead_days"] is None
    assert payload["counts"]["not_enough_time"] == 1
    assert payload["case"]["days_to_surgery"] == 30


def test_the_reason_in_spanish(riverside, carol, protocol_version):
    rosa = patient_enrol(
        organization=riverside, full_name="Rosa Ríos", time_zone="Europe/Madrid", language="es", smoker=True,
        weight_kg=Decimal("70"),
    )
    assign(rosa, carol, protocol_version, 25)
    _, tasks = my_tasks(client_for(rosa.user))
    assert tasks["stop-smoking"]["not_enough_time"] is True
    assert tasks["stop-smoking"]["lead_reason"].startswith("Los equipos de cirugía piden de 4 a 6 semanas")


def test_ticking_the_step_off_or_the_surgery_day_passing_ends_the_alert(pat, carol, protocol_version, as_pat, as_carol):
    case, checklist = assign(pat, carol, protocol_version, 30)
    assert roster_row(as_carol, "Pat Example")["not_enough_time"] == 1
    task_complete(task=checklist.tasks.get(definition__key="stop-smoking"), by=pat.user)
    payload, tasks = my_tasks(as_pat)
    assert tasks["stop-smoking"]["not_enough_time"] is False and payload["counts"]["not_enough_time"] == 0
    assert roster_row(as_carol, "Pat Example")["not_enough_time"] == 0

    other_case, _ = assign(
        patient_enrol(organization=pat.organization, full_name="Sam Smoker", time_zone="UTC", smoker=True),
        carol, protocol_version, 30,
    )
    assert roster_row(as_carol, "Sam Smoker")["not_enough_time"] == 1
    surgery_was(other_case, days_ago=1)
    assert roster_row(as_carol, "Sam Smoker")["not_enough_time"] == 0


# --- What the coordinator sees ----------------------------------------------------------------------


def test_the_roster_counts_the_patients_to_call(riverside, pat, carol, protocol_version, as_carol, olga):
    assign(pat, carol, protocol_version, 5)  # smoking and NSAIDs both short
    late_smoker = patient_enrol(organization=riverside, full_name="Leo Late", time_zone="UTC", smoker=True)
    assign(late_smoker, carol, protocol_version, 20)
    on_time = patient_enrol(organization=riverside, full_name="Olive Ontime", time_zone="UTC", smoker=True)
    assign(on_time, carol, protocol_version, 60)

    assert roster_row(as_carol, "Pat Example")["not_enough_time"] == 2
    assert roster_row(as_carol, "Leo Late")["not_enough_time"] == 1
    assert roster_row(as_carol, "Olive Ontime")["not_enough_time"] == 0
    assert roster_summary(roster_rows(user=carol))["not_enough_time"] == 2
    # Another organization's coordinator sees none of it.
    assert roster_summary(roster_rows(user=olga)) == {
        "total": 0, "overdue": 0, "failed": 0, "not_signed_in": 0, "alerts": 0, "not_enough_time": 0,
    }


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_the_roster_page_and_the_patient_page_show_the_alert(client, carol, pat, protocol_version):
    assign(pat, carol, protocol_version, 20)
    client.force_login(carol)
    roster = client.get(reverse("coordinator:roster")).content.decode()
    cell = re.search(r'<td data-cell="where">(.*?)</td>', roster, re.S).group(1)
    assert text_of(cell) == "20 days to surgery 1 step short of time"
    assert "data-not-enough-time" in cell
    assert "1 patient with steps short of time" in text_of(roster)
    page = client.get(reverse("coordinator:patient", args=[pat.pk])).content.decode()
    alert = re.search(r"<div [^>]*data-not-enough-time>(.*?)</div>", page, re.S).group(1)
    assert "Stop smoking and all nicotine: needs at least 42 days before surgery; 20 left." in text_of(alert)
    assert "Mark the surgery as done" not in page  # not before its day
