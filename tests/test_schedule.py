"""The pure schedule computation: dates, tailoring, lateness, grouping, personal targets."""

from dataclasses import dataclass
from datetime import date, datetime, timezone as dt_timezone
from decimal import Decimal

import pytest

from checklists import schedule

SURGERY = date(2027, 3, 15)


def test_due_date_and_window_are_offsets_from_the_surgery_date():
    dates = schedule.task_dates(SURGERY, offset_days=-7, window_start_days=-10, window_end_days=-7)
    assert dates.due_date == date(2027, 3, 8)
    assert dates.window_start == date(2027, 3, 5)
    assert dates.window_end == date(2027, 3, 8)


def test_without_a_window_only_the_due_date_is_set():
    dates = schedule.task_dates(SURGERY, offset_days=-3)
    assert (dates.due_date, dates.window_start, dates.window_end) == (date(2027, 3, 12), None, None)


def test_offsets_cross_month_and_leap_day():
    dates = schedule.task_dates(date(2028, 3, 1), offset_days=-1)
    assert dates.due_date == date(2028, 2, 29)


@pytest.mark.parametrize(
    "conditions, facts, expected",
    [
        ({}, {}, True),
        ({"smoker": True}, {"smoker": True}, True),
        ({"smoker": True}, {"smoker": False}, False),
        # Not known yet (absent or None): kept, leaning to safety.
        ({"smoker": True}, {}, True),
        ({"smoker": True}, {"smoker": None}, True),
        ({"smoker": False}, {"smoker": None}, True),
        ({"smoker": True, "diabetic": True}, {"smoker": None, "diabetic": False}, False),
        ({"diabetic": False}, {"diabetic": False}, True),
        ({"smoker": True, "diabetic": True}, {"smoker": True, "diabetic": False}, False),
    ],
)
def test_applies_requires_every_condition(conditions, facts, expected):
    assert schedule.applies(conditions, facts) is expected


def test_a_step_is_late_only_after_its_last_on_time_day():
    dates = schedule.task_dates(SURGERY, offset_days=-28, window_start_days=-42, window_end_days=-28)
    assert not schedule.is_late(dates, today=date(2027, 2, 15))  # the last day itself
    assert schedule.is_late(dates, today=date(2027, 2, 16))
    assert not schedule.is_late(dates, today=date(2027, 1, 1))


@dataclass
class FakeTask:
    status: str
    due_date: date
    position: int = 0
    completed_at: datetime | None = None


def test_grouping_for_the_phone():
    today = date(2027, 3, 1)
    tasks = [
        FakeTask("open", date(2027, 2, 27)),  # overdue
        FakeTask("open", date(2027, 3, 1)),  # today: this week
        FakeTask("open", date(2027, 3, 7)),  # sixth day ahead: this week
        FakeTask("open", date(2027, 3, 8)),  # a week ahead: coming up
        FakeTask("done", date(2027, 2, 1), completed_at=datetime(2027, 2, 2, tzinfo=dt_timezone.utc)),
        FakeTask("done", date(2027, 3, 20), completed_at=datetime(2027, 2, 20, tzinfo=dt_timezone.utc)),
        FakeTask("done", date(2027, 3, 20)),
    ]
    groups = schedule.group_tasks(tasks, today)
    assert [t.due_date.day for t in groups["overdue"]] == [27]
    assert [t.due_date.day for t in groups["this_week"]] == [1, 7]
    assert [t.due_date.day for t in groups["coming_up"]] == [8]
    # Most recently completed first; one without a completion time last.
    assert [t.completed_at for t in groups["done"]][:2] == [
        datetime(2027, 2, 20, tzinfo=dt_timezone.utc),
        datetime(2027, 2, 2, tzinfo=dt_timezone.utc),
    ]
    assert groups["done"][-1].completed_at is None


def test_coming_up_is_labelled_by_whole_weeks():
    today = date(2027, 3, 1)
    assert schedule.week_label_start(date(2027, 3, 8), today) == 1
    assert schedule.week_label_start(date(2027, 3, 14), today) == 1
    assert schedule.week_label_start(date(2027, 3, 15), today) == 2


PROTEIN = [{"key": "protein", "kind": "per_kg_range", "min": 1.2, "max": 1.6, "unit": "g/day", "label": "Protein"}]


def test_protein_is_shown_in_grams_for_the_patient_weight():
    (target,) = schedule.compute_targets(PROTEIN, Decimal("70"))
    assert target.text == "84–112 g/day"
    assert (target.min, target.max) == (84.0, 112.0)


def test_protein_rounds_to_whole_grams():
    (target,) = schedule.compute_targets(PROTEIN, Decimal("72.5"))
    assert target.text == "87–116 g/day"  # 87.0 and 116.0


def test_without_a_weight_protein_stays_per_kilogram():
    (target,) = schedule.compute_targets(PROTEIN, None)
    assert target.text == "1.2–1.6 g/kg/day"


def test_fixed_targets_and_translated_labels():
    spec = [{"key": "calcium", "kind": "fixed", "value": 1200, "unit": "mg/day", "label": "Calcium"}]
    (target,) = schedule.compute_targets(spec, None, {"calcium": "Calcio"})
    assert (target.label, target.text) == ("Calcio", "1200 mg/day")


def test_whole_numbers_group_only_from_five_digits():
    spec = [{"key": k, "kind": "fixed", "value": v, "unit": "mg/day", "label": k} for k, v in (("a", 2000), ("b", 12500))]
    assert [t.text for t in schedule.compute_targets(spec, None)] == ["2000 mg/day", "12,500 mg/day"]


# --- "Start now": a passed due day inside an open window ---------------------------------

def _place(today, *, offset, start=None, end=None, surgery=SURGERY):
    dates = schedule.task_dates(surgery, offset_days=offset, window_start_days=start, window_end_days=end)
    return schedule.place(dates, today, surgery_date=surgery, offset_days=offset)


def test_a_step_not_yet_due_keeps_its_dates():
    placed = _place(date(2027, 2, 1), offset=-28, start=-42, end=-28)
    assert (placed.late, placed.start_now, placed.dates.due_date) == (False, False, date(2027, 2, 15))


def test_a_step_due_today_is_neither_late_nor_moved():
    placed = _place(date(2027, 2, 15), offset=-28, start=-42, end=-28)
    assert (placed.late, placed.start_now, placed.dates.due_date) == (False, False, date(2027, 2, 15))


def test_a_passed_due_day_in_an_open_window_becomes_start_now_with_a_grace():
    today = date(2027, 2, 13)  # 30 days before surgery; prehab was due 42 days before, open until the day before
    placed = _place(today, offset=-42, start=-56, end=-1)
    assert placed.late is False and placed.start_now is True
    assert placed.dates.due_date == date(2027, 2, 13 + schedule.START_NOW_GRACE_DAYS)
    assert (placed.dates.window_start, placed.dates.window_end) == (date(2027, 1, 18), date(2027, 3, 14))


def test_start_now_never_goes_past_the_windows_end():
    placed = _place(date(2027, 3, 13), offset=-42, start=-56, end=-1)  # window ends tomorrow
    assert placed.start_now is True and placed.dates.due_date == date(2027, 3, 14)


def test_start_now_on_the_windows_last_day_is_due_today():
    placed = _place(date(2027, 3, 14), offset=-42, start=-56, end=-1)
    assert placed.start_now is True and placed.dates.due_date == date(2027, 3, 14)


def test_start_now_of_a_step_before_surgery_never_goes_past_the_surgery_day():
    # A (hand-made) window that runs past the surgery day: the step is still due by the surgery.
    placed = _place(date(2027, 3, 14), offset=-5, start=-10, end=5)
    assert placed.start_now is True and placed.dates.due_date == SURGERY
    after = _place(date(2027, 3, 17), offset=-5, start=-10, end=5)
    assert after.late is True and after.start_now is False


def test_a_recovery_step_may_start_now_after_the_surgery():
    placed = _place(date(2027, 4, 5), offset=14, start=1, end=30)
    assert placed.start_now is True and placed.dates.due_date == date(2027, 4, 8)


def test_a_closed_window_stays_late_with_its_dates():
    placed = _place(date(2027, 2, 23), offset=-28, start=-42, end=-28)
    assert (placed.late, placed.start_now, placed.dates.due_date) == (True, False, date(2027, 2, 15))


def test_a_passed_step_without_a_window_is_late():
    placed = _place(date(2027, 3, 14), offset=-3)
    assert (placed.late, placed.start_now, placed.dates.due_date) == (True, False, date(2027, 3, 12))


def test_is_start_now_reads_the_moved_due_day_back():
    today = date(2027, 2, 13)
    placed = _place(today, offset=-42, start=-56, end=-1)
    kwargs = dict(window_start=placed.dates.window_start, offset_days=-42, window_start_days=-56)
    assert schedule.is_start_now(status="open", due_date=placed.dates.due_date, today=today, **kwargs)
    assert not schedule.is_start_now(status="done", due_date=placed.dates.due_date, today=today, **kwargs)
    # Once the grace has passed it is simply overdue.
    later = date(2027, 2, 20)
    assert not schedule.is_start_now(status="open", due_date=placed.dates.due_date, today=later, **kwargs)
    # A step on its planned dates is not.
    planned = _place(date(2027, 1, 1), offset=-42, start=-56, end=-1)
    assert not schedule.is_start_now(status="open", due_date=planned.dates.due_date, today=date(2027, 1, 1), **kwargs)
    assert not schedule.is_start_now(
        status="open", due_date=date(2027, 3, 12), window_start=None, offset_days=-3, window_start_days=None, today=today
    )


# --- Not enough time: a minimum lead time that can no longer be met ---------------------------


def test_a_step_lacks_time_when_fewer_days_are_left_than_its_minimum():
    today = date(2027, 2, 13)  # 30 days before SURGERY
    assert schedule.lacks_lead_time(surgery_date=SURGERY, today=today, min_lead_days=42)
    assert schedule.lacks_lead_time(surgery_date=SURGERY, today=today, min_lead_days=31)
    assert not schedule.lacks_lead_time(surgery_date=SURGERY, today=today, min_lead_days=30)  # exactly enough
    assert not schedule.lacks_lead_time(surgery_date=SURGERY, today=today, min_lead_days=None)


def test_placing_marks_not_enough_time_whatever_the_dates():
    def placed(days_before, **kwargs):
        today = date.fromordinal(SURGERY.toordinal() - days_before)
        dates = schedule.task_dates(SURGERY, **kwargs)
        return schedule.place(dates, today, surgery_date=SURGERY, offset_days=kwargs["offset_days"], min_lead_days=42)

    smoking = dict(offset_days=-28, window_start_days=-42, window_end_days=-28)
    # 43 days ahead: on time, enough time.
    assert (placed(43, **smoking).late, placed(43, **smoking).not_enough_time) == (False, False)
    # 30 days ahead: still in its window (due in 2 days) but six weeks can no longer be had.
    early = placed(30, **smoking)
    assert (early.late, early.start_now, early.not_enough_time) == (False, False, True)
    # 20 days ahead: the window has closed too.
    assert (placed(20, **smoking).late, placed(20, **smoking).not_enough_time) == (True, True)
    # Stopping NSAIDs (due 10 days ahead, window until 7 days ahead, at least 7 days needed):
    # 9 days ahead it is "start now" with enough time; 6 days ahead it is late and short of time.
    nsaids = dict(offset_days=-10, window_start_days=-10, window_end_days=-7)
    today = date.fromordinal(SURGERY.toordinal() - 9)
    ok = schedule.place(schedule.task_dates(SURGERY, **nsaids), today, surgery_date=SURGERY, offset_days=-10, min_lead_days=7)
    assert (ok.start_now, ok.not_enough_time) == (True, False)
    today = date.fromordinal(SURGERY.toordinal() - 6)
    short = schedule.place(schedule.task_dates(SURGERY, **nsaids), today, surgery_date=SURGERY, offset_days=-10, min_lead_days=7)
    assert (short.late, short.not_enough_time) == (True, True)


def test_without_a_minimum_a_step_never_lacks_time():
    assert _place(date(2027, 3, 14), offset=-42, start=-56, end=-1).not_enough_time is False


# --- After the surgery: the recovery ----------------------------------------------------------

STAGES = [
    {"key": "first-days", "start_day": 1, "end_day": 2, "label": "First days"},
    {"key": "weeks-1-2", "start_day": 3, "end_day": 14, "label": "Weeks 1–2"},
    {"key": "weeks-3-6", "start_day": 15, "end_day": 42, "label": "Weeks 3–6"},
]


@pytest.mark.parametrize(
    "status, today, phase",
    [
        ("scheduled", date(2027, 3, 14), "preparation"),
        ("scheduled", SURGERY, "preparation"),  # the surgery day itself, until it is marked done
        ("done", SURGERY, "recovery"),
        ("scheduled", date(2027, 3, 16), "recovery"),  # the day after, marked or not
        ("done", date(2027, 3, 16), "recovery"),
        ("cancelled", date(2027, 3, 1), None),
        ("cancelled", date(2027, 3, 16), None),
    ],
)
def test_the_phase_of_a_surgery(status, today, phase):
    assert schedule.case_phase(status=status, surgery_date=SURGERY, today=today) == phase


@pytest.mark.parametrize("day, week", [(0, 1), (1, 1), (7, 1), (8, 2), (14, 2), (15, 3), (42, 6), (43, 7), (90, 13)])
def test_recovery_weeks_count_seven_days_from_the_day_after(day, week):
    assert schedule.recovery_week(day) == week


@pytest.mark.parametrize(
    "day, stage",
    [(0, "first-days"), (1, "first-days"), (2, "first-days"), (3, "weeks-1-2"), (14, "weeks-1-2"),
     (15, "weeks-3-6"), (42, "weeks-3-6"), (43, None)],
)
def test_the_current_stage_is_the_one_whose_days_hold_today(day, stage):
    found = schedule.current_stage(STAGES, day)
    assert (found["key"] if found else None) == stage


def test_no_stages_no_current_stage():
    assert schedule.current_stage([], 5) is None
