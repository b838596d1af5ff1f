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
        ({"smoker": True}, {}, False),
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
    assert (target.label, target.text) == ("Calcio", "1,200 mg/day")
