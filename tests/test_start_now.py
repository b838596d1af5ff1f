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
    assert payload["stop-nsaids"]["start_now"] is False
    assert payload["stop-nsaids"]["due_date"] == str(case.surgery_date - timedelta(days=10))
    # Smoking is a stop that cannot wait: 30 days are short of its 6 weeks, so it is due
    # today rather than on its planned day two days ahead, and the patient reads "stop today".
    assert payload["stop-smoking"]["due_date"] == str(today) and payload["stop-smoking"]["start_now"] is False
    assert tasks["stop-smoking"].says_stop_today(today) is True
    assert tasks["stop-nsaids"].says_stop_today(today) is False  # its day is 20 days ahead


def test_assigned_twenty_days_before_the_closed_smoking_window_is_a_stop_due_today(
    pat, carol, protocol_version, as_carol, as_pat
):
    today, case, tasks = _assign(pat, carol, protocol_version, 20)
    smoking = tasks["stop-smoking"]  # window 42..28 days before surgery: closed
    # A stop is never left overdue in the past: it is due today, and the care team is told
    # there is not enough time (not_enough_time), as before.
    assert smoking.late is False and smoking.due_date == today
    assert smoking.not_enough_time is True and smoking.says_stop_today(today) is True
    # The open-window steps are start-now: protein (window to the surgery day), prehab.
    for key in ("protein-target", "calcium-vitamin-d", "prehab"):
        assert tasks[key].late is False and tasks[key].due_date == today + GRACE, key
    closed = [t for t in tasks.values() if t.due_date < today]
    assert {t.definition.key for t in closed} == {t.definition.key for t in tasks.values() if t.late}
    assert _roster_row(as_carol, "Pat Example")["overdue"] == len(closed)

    payload = _my_tasks(as_pat)
    assert payload["stop-smoking"]["late"] is False and payload["stop-smoking"]["start_now"] is True
    assert payload["stop-smoking"]["group"] == "this_week" and payload["stop-smoking"]["days_until_due"] == 0
    assert payload["protein-target"]["start_now"] is True


def test_moving_the_surgery_earlier_makes_open_window_steps_start_now(pat, carol, protocol_version, as_pat):
    today, case, tasks = _assign(pat, carol, protocol_version, 60)
    assert not any(t.late for t in tasks.values())
    case_reschedule(case=case, surgery_date=today + timedelta(days=30))
    prehab = Task.objects.get(pk=tasks["prehab"].pk)
    assert prehab.late is False and prehab.due_date == today + GRACE
    assert _my_tasks(as_pat)["prehab"]["start_now"] is True


# --- Stops that cannot wait (TaskDefinition.stop) ------------------------------------------------


def test_an_nsaid_user_enrolled_five_days_before_surgery_stops_today(pat, carol, protocol_version, as_pat):
    today, case, tasks = _assign(pat, carol, protocol_version, 5)
    nsaids = tasks["stop-nsaids"]  # planned 10 days before, last safe day 7 days before: both gone
    assert nsaids.definition.stop is True
    assert nsaids.due_date == today and nsaids.late is False
    assert nsaids.not_enough_time is True  # the care team hears that 7 days off them cannot be had
    assert nsaids.says_stop_today(today) is True
    payload = _my_tasks(as_pat)["stop-nsaids"]
    assert (payload["due_date"], payload["days_until_due"], payload["group"]) == (str(today), 0, "this_week")
    assert payload["start_now"] is True and payload["late"] is False
    texts = nsaids.definition.localized("en")
    assert texts["stop_today"].startswith("Stop ibuprofen, naproxen and aspirin for pain or swelling today")
    assert nsaids.definition.localized("es")["stop_today"].startswith("Deje hoy el ibuprofeno")


def test_a_stop_in_its_window_is_due_today_not_in_a_few_days(pat, carol, protocol_version):
    # Eight days before: the NSAID window (10 to 7 days before) is open, and "start now" would
    # give the usual few days' grace. A stop gets none: it is due today, with time still enough.
    today, case, tasks = _assign(pat, carol, protocol_version, 8)
    nsaids = tasks["stop-nsaids"]
    assert nsaids.due_date == today and nsaids.not_enough_time is False
    assert nsaids.due_date < case.surgery_date - timedelta(days=7)  # before its last safe day
    # A step that stops nothing keeps its grace.
    assert tasks["prehab"].due_date == today + GRACE


def test_a_stop_with_time_enough_keeps_its_planned_day_and_says_stop_on_it(pat, carol, protocol_version):
    today, case, tasks = _assign(pat, carol, protocol_version, 12)
    nsaids = tasks["stop-nsaids"]
    stop_day = case.surgery_date - timedelta(days=10)
    assert nsaids.due_date == stop_day
    assert nsaids.says_stop_today(today) is False
    assert nsaids.says_stop_today(stop_day) is True
    assert nsaids.says_stop_today(case.surgery_date) is True  # still open on the day: still "stop"
    assert nsaids.says_stop_today(case.surgery_date + timedelta(days=1)) is False


def test_moving_the_surgery_earlier_brings_a_stop_to_today(pat, carol, protocol_version):
    today, case, tasks = _assign(pat, carol, protocol_version, 60)
    assert tasks["stop-nsaids"].due_date == case.surgery_date - timedelta(days=10)
    case_reschedule(case=case, surgery_date=today + timedelta(days=4))
    nsaids = Task.objects.select_related("definition", "checklist__case").get(pk=tasks["stop-nsaids"].pk)
    assert nsaids.due_date == today and nsaids.late is False and nsaids.not_enough_time is True
    assert nsaids.says_stop_today(today) is True


def test_a_done_stop_no_longer_says_stop_today(pat, carol, protocol_version):
    today, case, tasks = _assign(pat, carol, protocol_version, 5)
    nsaids = tasks["stop-nsaids"]
    nsaids.status = Task.Status.DONE
    assert nsaids.says_stop_today(today) is False


def test_the_stop_rule_in_the_schedule_itself():
    from datetime import date

    surgery = date(2027, 3, 15)

    def placed(days_before, **kwargs):
        today = surgery - timedelta(days=days_before)
        dates = schedule.task_dates(surgery, offset_days=-10, window_start_days=-10, window_end_days=-7)
        return today, schedule.place(dates, today, surgery_date=surgery, offset_days=-10, min_lead_days=7, **kwargs)

    # Window open (8 days before): a step gets the grace, up to its window's last day, a stop gets today.
    today, step = placed(8)
    assert step.dates.due_date == surgery - timedelta(days=7) > today and step.start_now
    today, stop = placed(8, stop=True)
    assert (stop.dates.due_date, stop.start_now, stop.late, stop.not_enough_time) == (today, True, False, False)
    # Window closed (5 days before): a step is late, dated in the past; a stop is due today.
    today, step = placed(5)
    assert step.late and step.dates.due_date < today
    today, stop = placed(5, stop=True)
    assert (stop.dates.due_date, stop.late, stop.not_enough_time) == (today, False, True)
    assert stop.dates.window_end == surgery - timedelta(days=7)  # the last safe day is kept, for the record
    # On the surgery day, still today; after it, a step before surgery has nothing left to start.
    today, stop = placed(0, stop=True)
    assert stop.dates.due_date == today
    today, stop = placed(-1, stop=True)
    assert stop.late and stop.dates.due_date == surgery - timedelta(days=10)
    # In good time: the planned day.
    today, stop = placed(20, stop=True)
    assert stop.dates.due_date == surgery - timedelta(days=10) and not stop.start_now


def test_says_stop_today_from_the_due_day_to_the_surgery_day():
    from datetime import date

    surgery, due = date(2027, 3, 15), date(2027, 3, 5)
    said = [
        schedule.says_stop_today(stop=True, status="open", due_date=due, surgery_date=surgery, today=due + timedelta(days=d))
        for d in (-1, 0, 5, 10, 11)
    ]
    assert said == [False, True, True, True, False]
    assert not schedule.says_stop_today(stop=False, status="open", due_date=due, surgery_date=surgery, today=due)
    assert not schedule.says_stop_today(stop=True, status="done", due_date=due, surgery_date=surgery, today=due)
