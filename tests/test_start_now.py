""""Start now" instead of blame: a step whose planned day passed before it was assigned, but
whose window is still open, is due in a few days, is not late and is not overdue on the roster."""

from datetime import timedelta

from django.urls import reverse

from checklists import schedule
from checklists.models import Task
from prepapp.workflows import case_book, case_reschedule, checklist_assign

GRACE = timedelta(days=schedule.START_NOW_GRACE_DAYS)


def _assign(pat, carol, protocol_version, days_before):
    today = pat.local_today()
    case = case_book(patient=pat, procedure="Minimally invasive lumbar fusion", surgery_date=today + timedelta(days=days_before))
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    return today, case, {t.definition.key: t for t in checklist.tasks.select_related("definition")}


def _roster_row(as_carol, name):
    response = as_carol.get(reverse("roster"))
    assert response.status_code == 200, response.content
    return {row["full_name"]: row for row in response.json()["results"]}[name]


def _my_tasks(as_pat):
    response = as_pat.get("/api/v1/me/checklist/")
    assert response.status_code == 200, response.content
    return {t["key"]: t for group in response.json()["groups"].values() for t in group}


def test_assigned_thirty_days_before_surgery_prehab_is_start_now_and_nothing_is_overdue(
    pat, carol, protocol_version, as_carol, as_pat
):
    today, case, tasks = _assign(pat, carol, protocol_version, 30)
    prehab = tasks["prehab"]  # planned 42 days before surgery, open until the day before
    assert prehab.late is False
    assert prehab.due_date == today + GRACE
    assert prehab.window_end == case.surgery_date - timedelta(days=1)
    assert not [t for t in tasks.values() if t.due_date < today], "nothing is overdue on day one"
    assert not [t for t in tasks.values() if t.late]

    assert _roster_row(as_carol, "Pat Example")["overdue"] == 0

    payload = _my_tasks(as_pat)
    assert payload["prehab"]["start_now"] is True and payload["prehab"]["late"] is False
    assert payload["prehab"]["group"] == "this_week"
    assert payload["prehab"]["days_until_due"] == schedule.START_NOW_GRACE_DAYS
    # Steps on their planned dates are not "start now".
    assert payload["stop-smoking"]["start_now"] is False
    assert payload["stop-smoking"]["due_date"] == str(case.surgery_date - timedelta(days=28))


def test_assigned_twenty_days_before_the_closed_smoking_window_stays_late(
    pat, carol, protocol_version, as_carol, as_pat
):
    today, case, tasks = _assign(pat, carol, protocol_version, 20)
    smoking = tasks["stop-smoking"]  # window 42..28 days before surgery: closed
    assert smoking.late is True and smoking.due_date == case.surgery_date - timedelta(days=28)
    # The open-window steps are start-now: protein (window to the surgery day), prehab.
    for key in ("protein-target", "calcium-vitamin-d", "prehab"):
        assert tasks[key].late is False and tasks[key].due_date == today + GRACE, key
    closed = [t for t in tasks.values() if t.due_date < today]
    assert {t.definition.key for t in closed} == {t.definition.key for t in tasks.values() if t.late}
    assert _roster_row(as_carol, "Pat Example")["overdue"] == len(closed)

    payload = _my_tasks(as_pat)
    assert payload["stop-smoking"]["late"] is True and payload["stop-smoking"]["start_now"] is False
    assert payload["stop-smoking"]["group"] == "overdue"
    assert payload["protein-target"]["start_now"] is True


def test_moving_the_surgery_earlier_makes_open_window_steps_start_now(pat, carol, protocol_version, as_pat):
    today, case, tasks = _assign(pat, carol, protocol_version, 60)
    assert not any(t.late for t in tasks.values())
    case_reschedule(case=case, surgery_date=today + timedelta(days=30))
    prehab = Task.objects.get(pk=tasks["prehab"].pk)
    assert prehab.late is False and prehab.due_date == today + GRACE
    assert _my_tasks(as_pat)["prehab"]["start_now"] is True
