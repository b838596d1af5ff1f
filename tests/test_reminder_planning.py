"""Planning reminder instants: the patient's wall-clock time across daylight-saving changes,
quiet hours, and several time zones (pure functions; no database)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from checklists.models import Task, TaskDefinition
from prepapp.models import Patient
from prepapp.reminders import planning
from prepapp.reminders.timing import is_quiet, quiet_hours_end_after

UTC = ZoneInfo("UTC")
RULES = [
    {"key": "window-opens", "anchor": "window_start", "offset_days": 0},
    {"key": "day-before", "anchor": "due", "offset_days": -1},
    {"key": "due-day", "anchor": "due", "offset_days": 0},
]


def patient(zone, **prefs):
    defaults = dict(reminder_time=time(9), quiet_hours_start=time(21), quiet_hours_end=time(8),
                    inapp_enabled=True, push_enabled=False, email_enabled=False)
    return Patient(full_name="Test", time_zone=zone, **{**defaults, **prefs})


def task(due, window_start=None, rules=RULES):
    return Task(definition=TaskDefinition(reminder_rules=rules), due_date=due, window_start=window_start,
                window_end=due if window_start else None, status="open")


def planned(p, t, now):
    return {row.rule: row.send_at for row in planning.planned_rows(t, p, now)}


@pytest.mark.parametrize(
    "zone, before, after, offsets",
    [
        # The day before and the day of each zone's change; UTC offsets at 09:00 local on each.
        ("America/New_York", date(2026, 10, 31), date(2026, 11, 1), (-4, -5)),  # EDT -> EST
        ("Europe/Madrid", date(2026, 10, 24), date(2026, 10, 25), (2, 1)),  # CEST -> CET
        ("Australia/Sydney", date(2026, 4, 4), date(2026, 4, 5), (11, 10)),  # AEDT -> AEST
        ("America/New_York", date(2026, 3, 7), date(2026, 3, 8), (-5, -4)),  # EST -> EDT (spring forward)
        ("Europe/Madrid", date(2026, 3, 28), date(2026, 3, 29), (1, 2)),
    ],
)
def test_nine_oclock_stays_nine_oclock_across_a_dst_change(zone, before, after, offsets):
    p = patient(zone)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sends = planned(p, task(due=after), now)
    for rule, day, offset in [("day-before", before, offsets[0]), ("due-day", after, offsets[1])]:
        instant = sends[rule]
        assert instant.tzinfo is not None and instant.utcoffset() == timedelta(0)
        local = instant.astimezone(ZoneInfo(zone))
        assert (local.date(), local.time()) == (day, time(9)), (zone, rule, local)
        assert local.utcoffset() == timedelta(hours=offset)
    # So the two instants are 24 h apart plus or minus the hour the clocks moved.
    assert sends["due-day"] - sends["day-before"] == timedelta(hours=24 + offsets[0] - offsets[1])


def test_a_time_that_does_not_exist_on_spring_forward_goes_to_the_hour_after():
    p = patient("America/New_York", reminder_time=time(2, 30), quiet_hours_start=time(23), quiet_hours_end=time(1))
    sends = planned(p, task(due=date(2026, 3, 8)), datetime(2026, 1, 1, tzinfo=UTC))
    local = sends["due-day"].astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.time()) == (date(2026, 3, 8), time(3, 30))


def test_an_ambiguous_time_on_fall_back_is_sent_once_at_the_first_occurrence():
    p = patient("America/New_York", reminder_time=time(1, 30), quiet_hours_start=time(23), quiet_hours_end=time(1))
    rows = planning.planned_rows(task(due=date(2026, 11, 1)), p, datetime(2026, 1, 1, tzinfo=UTC))
    due_day = [r for r in rows if r.rule == "due-day"]
    assert len(due_day) == 1
    assert due_day[0].send_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first 01:30


def test_a_reminder_time_inside_quiet_hours_moves_to_their_end():
    p = patient("Europe/Madrid", reminder_time=time(22, 30))
    sends = planned(p, task(due=date(2026, 10, 25)), datetime(2026, 1, 1, tzinfo=UTC))
    for rule in ("day-before", "due-day"):
        assert sends[rule].astimezone(ZoneInfo("Europe/Madrid")).time() == time(8)
    # Quiet hours that do not span midnight work the same way.
    p = patient("Asia/Kolkata", reminder_time=time(13, 30), quiet_hours_start=time(13), quiet_hours_end=time(14, 15))
    sends = planned(p, task(due=date(2026, 5, 10)), datetime(2026, 1, 1, tzinfo=UTC))
    assert sends["due-day"].astimezone(ZoneInfo("Asia/Kolkata")).time() == time(14, 15)


def test_each_patient_gets_their_own_local_nine_oclock():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    due = date(2026, 6, 15)
    expected = {
        "America/Los_Angeles": datetime(2026, 6, 15, 16, 0, tzinfo=UTC),
        "America/New_York": datetime(2026, 6, 15, 13, 0, tzinfo=UTC),
        "Europe/Madrid": datetime(2026, 6, 15, 7, 0, tzinfo=UTC),
        "Asia/Kolkata": datetime(2026, 6, 15, 3, 30, tzinfo=UTC),
        "Australia/Sydney": datetime(2026, 6, 14, 23, 0, tzinfo=UTC),
    }
    for zone, instant in expected.items():
        assert planned(patient(zone), task(due=due), now)["due-day"] == instant, zone


def test_assigned_after_todays_time_sends_now_unless_quiet():
    p = patient("America/New_York")
    t = task(due=date(2026, 6, 15))
    afternoon = datetime(2026, 6, 15, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    assert planned(p, t, afternoon)["due-day"] == afternoon
    late_evening = datetime(2026, 6, 15, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    assert "due-day" not in planned(p, t, late_evening)  # not at 22:00, and tomorrow it is no longer due-day


def test_past_days_are_not_planned_and_window_rules_need_a_window():
    p = patient("UTC")
    now = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
    sends = planned(p, task(due=date(2026, 6, 15)), now)
    assert set(sends) == {"due-day"}  # the day before has passed; no window, no window-opens
    sends = planned(p, task(due=date(2026, 6, 30), window_start=date(2026, 6, 20)), now)
    assert set(sends) == {"window-opens", "day-before", "due-day"}


def test_quiet_hours_end_after_follows_the_local_clock_over_dst():
    p = patient("Europe/Madrid")
    night = datetime(2026, 10, 24, 23, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    assert is_quiet(p, night)
    end = quiet_hours_end_after(p, night)
    assert end.astimezone(ZoneInfo("Europe/Madrid")) == datetime(2026, 10, 25, 8, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    assert end - night == timedelta(hours=9, minutes=30)  # 8.5 h of clock plus the hour given back
    assert not is_quiet(p, end)
