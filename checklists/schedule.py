"""The schedule computation: pure functions from a surgery date and offsets to calendar dates.

Nothing here touches the database or the clock; callers pass "today" as the calendar
date in the patient's own time zone, so the same inputs always give the same dates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping, Sequence

# The patient facts a step's `applies_if` may read (prepapp.models.FACTS names the same).


@dataclass(frozen=True)
class TaskDates:
    due_date: date
    window_start: date | None
    window_end: date | None

    @property
    def last_day(self) -> date:
        """The last day on which doing the step is still on time."""
        return max(self.due_date, self.window_end) if self.window_end else self.due_date


def unknown_facts(conditions: Mapping[str, bool], facts: Mapping[str, bool | None]) -> list[str]:
    """The facts a step's conditions read that are not yet known for the patient (None or absent), in order."""
    return [name for name in conditions if facts.get(name) is None]


def applies(conditions: Mapping[str, bool], facts: Mapping[str, bool | None]) -> bool:
    """Whether a step belongs on the patient's checklist (no conditions: it applies to everyone).

    Facts are tri-state: yes, no, or not yet known (None). A known fact that contradicts a
    condition leaves the step out. A fact not yet known leans to safety: the step is kept,
    and `unknown_facts` tells which facts it waits on ("if this applies to you").
    """
    return all(facts.get(name) is None or facts[name] == bool(wanted) for name, wanted in conditions.items())


def task_dates(
    surgery_date: date,
    *,
    offset_days: int,
    window_start_days: int | None = None,
    window_end_days: int | None = None,
) -> TaskDates:
    """Calendar dates of a step from its offsets in days relative to the surgery date."""
    window_start = window_end = None
    if window_start_days is not None and window_end_days is not None:
        window_start = surgery_date + timedelta(days=window_start_days)
        window_end = surgery_date + timedelta(days=window_end_days)
    return TaskDates(surgery_date + timedelta(days=offset_days), window_start, window_end)


def is_late(dates: TaskDates, today: date) -> bool:
    """A step is late when its last on-time day is already behind the patient."""
    return dates.last_day < today


# A step whose planned day has passed when it is assigned (or when the surgery moves), but
# whose window is still open, is not late: the patient is asked to start it now, within a few days.
START_NOW_GRACE_DAYS = 3


@dataclass(frozen=True)
class Placement:
    """A step's dates as given to the patient, and how they came to be."""

    dates: TaskDates
    late: bool
    start_now: bool
    # The step needs more days before surgery than are left (see `lacks_lead_time`).
    not_enough_time: bool = False


def lacks_lead_time(*, surgery_date: date, today: date, min_lead_days: int | None) -> bool:
    """True when a step needs `min_lead_days` before surgery to work and fewer days are left.

    Six weeks smoke-free cannot be had when the surgery is 20 days away, whatever the
    patient does now: the care team has to hear of it. Seen from the patient's today, on
    the day the step is assigned or the surgery moved; a step with no minimum never lacks time.
    """
    if min_lead_days is None:
        return False
    return days_between(today, surgery_date) < min_lead_days


def place(
    dates: TaskDates, today: date, *, surgery_date: date, offset_days: int, min_lead_days: int | None = None,
    stop: bool = False,
) -> Placement:
    """Where a step lands when it is assigned or moved, seen from the patient's today.

    - due today or later: as planned;
    - due day passed, window still open: "start now", due today + START_NOW_GRACE_DAYS, never
      after the window's end nor, for a step before surgery, after the surgery day;
    - due day passed and window closed (or no window): late, dates as planned.

    Whatever its dates, a step whose minimum lead time can no longer be met is marked
    `not_enough_time` (see `lacks_lead_time`).

    A stop (`stop`: a step before surgery that stops a medicine or a habit) cannot wait: once
    its due day has passed, or its minimum lead time can no longer be met, it is due today,
    window open or closed, up to the surgery day. Neither a few days' grace nor an overdue
    day in the past: each day still taking the medicine, or smoking, is a day lost, and the
    patient is told to stop today (`says_stop_today`).
    """
    short = lacks_lead_time(surgery_date=surgery_date, today=today, min_lead_days=min_lead_days)
    if stop and offset_days <= 0 and today <= surgery_date and (dates.due_date < today or short):
        # Moved to today: "start now" when the planned day was behind (is_start_now sees a due
        # day later than planned), and simply due today when it was ahead but time is short.
        return Placement(
            replace(dates, due_date=today), late=False, start_now=dates.due_date < today, not_enough_time=short
        )
    if dates.due_date >= today:
        return Placement(dates, late=False, start_now=False, not_enough_time=short)
    if dates.window_end is None or dates.window_end < today:
        return Placement(dates, late=True, start_now=False, not_enough_time=short)
    latest = dates.window_end
    if offset_days <= 0:
        latest = min(latest, surgery_date)
    due = min(today + timedelta(days=START_NOW_GRACE_DAYS), latest)
    if due < today:  # a pre-operative step after the surgery day: nothing to start any more
        return Placement(dates, late=True, start_now=False, not_enough_time=short)
    return Placement(replace(dates, due_date=due), late=False, start_now=True, not_enough_time=short)


def is_start_now(
    *, status: str, due_date: date, window_start: date | None, offset_days: int,
    window_start_days: int | None, today: date,
) -> bool:
    """True for an open step that was given "start now" dates (see `place`) whose new due day has not passed.

    Not stored: the planned due day follows from the window's start and the step's offsets,
    so a due day later than that one was moved forward by `place`.
    """
    if status != "open" or window_start is None or window_start_days is None or due_date < today:
        return False
    planned = window_start + timedelta(days=offset_days - window_start_days)
    return due_date > planned


def says_stop_today(*, stop: bool, status: str, due_date: date, surgery_date: date, today: date) -> bool:
    """True while an open stop (see `place`) is due or overdue and the surgery is still ahead or today.

    What tells the patient's screen to say "Stop today" (the step's stop_today text) instead of
    a due date: from the stop's due day (its planned day, or today when `place` moved it) to
    the surgery day. Not before its day (the step waits as any other), nor once it is done.
    """
    return stop and status == "open" and due_date <= today <= surgery_date


def days_between(today: date, surgery_date: date) -> int:
    return (surgery_date - today).days


# --- Before and after the surgery ----------------------------------------------------------

PREPARATION, RECOVERY = "preparation", "recovery"

# "Day N after surgery" for the first two weeks, then "week N of recovery".
RECOVERY_DAYS_SHOWN = 14


def case_phase(*, status: str, surgery_date: date, today: date) -> str | None:
    """Where the patient is: "preparation" until the surgery day, "recovery" after it.

    Recovery starts when the care team marks the surgery done, or else on the day after the
    surgery date. A cancelled surgery is in neither phase (None).
    """
    if status == "cancelled":
        return None
    if status == "done" or today > surgery_date:
        return RECOVERY
    return PREPARATION


def recovery_week(day: int) -> int:
    """The week of recovery a day after surgery falls in: days 1–7 are week 1, 8–14 week 2."""
    return max(1, (day + 6) // 7)


def current_stage(stages: Sequence[Mapping], day: int) -> Mapping | None:
    """The recovery stage whose day range holds `day` (days after surgery), or None past the last.

    The surgery day itself (day 0, once marked done) belongs to the first stage.
    """
    if not stages:
        return None
    day = max(day, stages[0]["start_day"])
    return next((s for s in stages if s["start_day"] <= day <= s["end_day"]), None)


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    text: str
    unit: str
    min: float | None = None
    max: float | None = None
    value: float | None = None


def _fmt(number: Decimal | float) -> str:
    """A whole number the way the protocol's English texts write it: "1200", and "12,000" from five digits.

    Four-digit figures have no separator, so that "1200 mg" reads the same to a reader used
    to a decimal comma (for whom "1,200" is one point two); the app writes the figures in the
    patient's own language (Intl.NumberFormat with grouping from five digits).
    """
    rounded = int(Decimal(str(number)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return f"{rounded:,}" if abs(rounded) >= 10000 else str(rounded)


def compute_targets(
    targets: Sequence[Mapping], weight_kg: Decimal | float | None, labels: Mapping[str, str] | None = None
) -> list[Target]:
    """Turn a definition's targets into figures for one patient.

    A per-kilogram range becomes grams per day when the weight is known (1.2–1.6 g/kg
    for 70 kg is 84–112 g); without a weight it stays per kilogram.
    """
    labels = labels or {}
    result = []
    for spec in targets:
        label = labels.get(spec["key"]) or spec.get("label", spec["key"])
        if spec["kind"] == "per_kg_range":
            per_unit = spec["unit"].split("/")  # "g/day" -> grams per day
            unit_mass, period = per_unit[0], per_unit[1] if len(per_unit) > 1 else "day"
            if weight_kg:
                w = Decimal(str(weight_kg))
                low = Decimal(str(spec["min"])) * w
                high = Decimal(str(spec["max"])) * w
                result.append(
                    Target(
                        key=spec["key"],
                        label=label,
                        unit=f"{unit_mass}/{period}",
                        min=float(low),
                        max=float(high),
                        text=f"{_fmt(low)}–{_fmt(high)} {unit_mass}/{period}",
                    )
                )
            else:
                result.append(
                    Target(
                        key=spec["key"],
                        label=label,
                        unit=f"{unit_mass}/kg/{period}",
                        min=spec["min"],
                        max=spec["max"],
                        text=f"{spec['min']}–{spec['max']} {unit_mass}/kg/{period}",
                    )
                )
        elif spec["kind"] == "fixed":
            result.append(
                Target(
                    key=spec["key"], label=label, unit=spec["unit"], value=spec["value"],
                    text=f"{_fmt(spec['value'])} {spec['unit']}",
                )
            )
        else:  # the loader refuses unknown kinds; this guards hand-made rows
            raise ValueError(f"unknown target kind {spec['kind']!r}")
    return result


# --- Grouping for the phone ---------------------------------------------------------------

GROUPS = ("overdue", "this_week", "coming_up", "done")


def group_key(*, status: str, due_date: date, today: date) -> str:
    """Which section of the patient's home screen a task belongs in."""
    if status == "done":
        return "done"
    if due_date < today:
        return "overdue"
    if due_date <= today + timedelta(days=6):
        return "this_week"
    return "coming_up"


def week_label_start(due_date: date, today: date) -> int:
    """Whole weeks from today to the due date (0 is this week): "coming up" is shown by week."""
    return max(0, (due_date - today).days // 7)


def _done_order(task):
    completed_at = getattr(task, "completed_at", None)
    return (completed_at is not None, completed_at.timestamp() if completed_at else 0.0, task.due_date)


def group_tasks(tasks: Iterable, today: date) -> dict[str, list]:
    """Split task-like objects (with .status and .due_date) into the phone's sections, in order."""
    groups: dict[str, list] = {name: [] for name in GROUPS}
    for task in tasks:
        groups[group_key(status=task.status, due_date=task.due_date, today=today)].append(task)
    for name in ("overdue", "this_week", "coming_up"):
        groups[name].sort(key=lambda t: (t.due_date, getattr(t, "position", 0)))
    # Most recently finished first; tasks without a completion time (imported) last.
    groups["done"].sort(key=_done_order, reverse=True)
    return groups
