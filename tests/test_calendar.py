"""The patient's dates as an .ics file for the phone's calendar."""

from datetime import time, timedelta

import pytest
from icalendar import Calendar

from checklists.models import Task

pytestmark = pytest.mark.django_db


def events(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return [c for c in Calendar.from_ical(response.content).walk("VEVENT")]


def test_the_surgery_and_every_open_step_on_its_due_day(as_pat, pat_checklist):
    done = pat_checklist.tasks.select_related("definition").get(definition__key="grab-bars")
    as_pat.post(f"/api/v1/me/tasks/{done.pk}/complete/")
    found = events(as_pat.get("/api/v1/me/calendar.ics"))
    by_uid = {str(e["uid"]).split("@")[0]: e for e in found}
    case = pat_checklist.case
    assert by_uid[f"surgery-{case.pk}"].decoded("dtstart") == case.surgery_date
    open_tasks = Task.objects.filter(checklist=pat_checklist, status="open").select_related("definition")
    assert len(found) == open_tasks.count() + 1
    assert f"task-{done.pk}" not in by_uid  # done steps leave the calendar
    for task in open_tasks:
        event = by_uid[f"task-{task.pk}"]
        assert event.decoded("dtstart") == task.due_date
        assert event.decoded("dtend") == task.due_date + timedelta(days=1)
        assert str(event["summary"]) == task.definition.title


def test_a_timed_surgery_keeps_the_wall_clock_time_where_the_patient_lives(as_pat, pat_checklist):
    case = pat_checklist.case
    case.surgery_time = time(7, 30)
    case.save()
    surgery = next(e for e in events(as_pat.get("/api/v1/me/calendar.ics")) if str(e["uid"]).startswith("surgery-"))
    start = surgery.decoded("dtstart")
    assert (start.hour, start.minute) == (7, 30)
    assert str(start.tzinfo) == "America/New_York"


def test_in_spanish(as_paul, paul, protocol_version, carol):
    from prepapp.workflows import checklist_assign
    from prepapp.workflows import case_book

    from .factories import days_from_today

    case = case_book(patient=paul, procedure="Fusión lumbar", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    found = events(as_paul.get("/api/v1/me/calendar.ics"))
    titles = {str(e["summary"]) for e in found}
    assert "Cirugía: Fusión lumbar" in titles
    assert "Install grab bars in the bathroom" not in titles


def test_only_the_patient_gets_their_calendar(as_carol, as_paul, as_pat, pat_checklist):
    assert as_carol.get("/api/v1/me/calendar.ics").status_code == 403
    assert as_paul.get("/api/v1/me/calendar.ics").status_code == 404  # paul has no checklist, and never pat's
