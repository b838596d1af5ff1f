"""Planning reminders: turning tasks and their rules into outbox rows.

The tick's narrow replan (replan_after_tick) sits beside the full replan whose rules it must
repeat exactly for one step; the same rules for many patients at once are in bulk_planning.py.

The local wall-clock rules (the patient's reminder time, quiet hours, time zone) are
resolved here, once, into a UTC instant per row. Callers run these inside their own
transaction (assign, reschedule, cancel, complete), so the outbox always agrees with
the checklist it was planned from.

What is planned follows the patient's choices:

- Reminder style. "digest" (the default): one message per channel on each day something
  is due, starting or worth a nudge, listing it all (a row without a task, see digest.py);
  critical steps are reminded on their own as well. "per_step": one message per step and
  rule, as the protocol's rules say.
- Channel policy. "push_then_email" (the default): with push on, email is not planned
  next to it; it is planned only when a push message does not reach the patient (see
  fallback.py). "both": push and email side by side.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from checklists.models import Task
from checklists.selectors import tasks_open_for_patient
from prepapp.models import Patient
from prepapp.reminders.models import DIGEST_RULE, Alert, Reminder
from prepapp.reminders.timing import in_quiet_hours, local_send_time, to_utc

OPEN_STATES = (Reminder.Status.PENDING,)


def email_reachable(patient: Patient) -> bool:
    return bool(patient.email_enabled and patient.contact_email)


def channels_for(patient: Patient) -> list[str]:
    """The channels planned side by side for the patient (email waits behind push under the default policy)."""
    if not patient.is_followed:
        return []  # discharged or archived: nothing is planned or sent
    channels = []
    if patient.inapp_enabled:
        channels.append(Reminder.Channel.INAPP)
    if patient.push_enabled:
        channels.append(Reminder.Channel.PUSH)
    if email_reachable(patient):
        if not (patient.push_enabled and patient.channel_policy == Patient.ChannelPolicy.PUSH_THEN_EMAIL):
            channels.append(Reminder.Channel.EMAIL)
    return channels


def channel_wanted(reminder: Reminder, patient: Patient) -> bool:
    """Whether the patient still has this row's channel on (checked again just before sending).

    Email only needs to be on with an address: whether it waits behind push is decided when
    planning (a policy change replans), so a fallback email, or one planned before the
    change, still goes.
    """
    if reminder.channel == Reminder.Channel.EMAIL:
        return email_reachable(patient)
    return reminder.channel in channels_for(patient)


def per_step_wanted(task, patient: Patient) -> bool:
    """Whether a step gets reminders of its own: every step for "per_step", critical ones always."""
    return patient.reminder_style == Patient.ReminderStyle.PER_STEP or bool(task.definition.critical)


def anchor_date_for(task, rule: dict) -> date | None:
    if rule["anchor"] == "window_start":
        if task.window_start is None or task.window_start == task.due_date:
            return None  # no separate opening day: the due-day rules cover it
        return task.window_start + timedelta(days=rule["offset_days"])
    return task.due_date + timedelta(days=rule["offset_days"])


def planned_rows(task, patient: Patient, now: datetime) -> list[Reminder]:
    """The reminder rows one open task should have, from now on."""
    zone = patient.zone
    today = now.astimezone(zone).date()
    wall = local_send_time(patient)
    rows = []
    for rule in task.definition.reminder_rules:
        day = anchor_date_for(task, rule)
        if day is None or day < today:
            continue
        send_at = to_utc(day, wall, zone)
        if send_at < now:
            # Today's reminder time has passed (the step was just assigned or moved):
            # send now, unless now is inside quiet hours.
            if in_quiet_hours(now.astimezone(zone).time(), patient.quiet_hours_start, patient.quiet_hours_end):
                continue
            send_at = now
        for channel in channels_for(patient):
            rows.append(
                Reminder(
                    task=task, patient=patient, rule=rule["key"], channel=channel, anchor_date=day, send_at=send_at
                )
            )
    return rows


def per_step_rows(tasks, patient: Patient, now: datetime) -> list[Reminder]:
    return [
        row
        for task in tasks
        if task.status == Task.Status.OPEN and per_step_wanted(task, patient)
        for row in planned_rows(task, patient, now)
    ]


def plan_for_tasks(*, tasks, patient: Patient, now: datetime | None = None) -> int:
    """Create the pending reminders of open tasks, and the patient's digests; rows that already exist are left alone."""
    now = now or timezone.now()
    rows = per_step_rows(tasks, patient, now)
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows) + replan_digests(patient=patient, now=now)


# --- Digests -------------------------------------------------------------------------------


def next_send_day(patient: Patient, now: datetime) -> date:
    """The first day whose reminder time is still ahead: today, or else tomorrow."""
    zone = patient.zone
    today = now.astimezone(zone).date()
    return today if to_utc(today, local_send_time(patient), zone) > now else today + timedelta(days=1)


def digest_days(*, tasks, patient: Patient, now: datetime, open_alert: bool | None = None) -> set[date]:
    """The days a digest goes out: each day a rule of an open step falls on, from today on.

    Steps reminded on their own (critical ones) do not add days: their own reminder covers
    them, and a digest that day lists them anyway. While an alert about a missed critical
    step is open, the next reminder time is a digest day too, so the next message names it.
    """
    today = now.astimezone(patient.zone).date()
    days: set[date] = set()
    if patient.reminder_style == Patient.ReminderStyle.DIGEST:
        for task in tasks:
            if task.status != Task.Status.OPEN or per_step_wanted(task, patient):
                continue
            for rule in task.definition.reminder_rules:
                day = anchor_date_for(task, rule)
                if day is not None and day >= today:
                    days.add(day)
    if open_alert is None:  # not already known (the bulk planners ask once for many patients)
        open_alert = Alert.objects.filter(
            patient=patient, acknowledged_at__isnull=True, task__status=Task.Status.OPEN
        ).exists()
    if open_alert:
        days.add(next_send_day(patient, now))
    return days


def planned_digest_rows(*, tasks, patient: Patient, now: datetime, open_alert: bool | None = None) -> list[Reminder]:
    """One row per channel and digest day, at the patient's reminder time (outside quiet hours)."""
    zone = patient.zone
    wall = local_send_time(patient)
    quiet_now = in_quiet_hours(now.astimezone(zone).time(), patient.quiet_hours_start, patient.quiet_hours_end)
    rows = []
    for day in sorted(digest_days(tasks=tasks, patient=patient, now=now, open_alert=open_alert)):
        send_at = to_utc(day, wall, zone)
        if send_at < now:
            if quiet_now:
                continue
            send_at = now  # today's time has passed (just assigned or moved): now, as for steps
        for channel in channels_for(patient):
            rows.append(
                Reminder(task=None, patient=patient, rule=DIGEST_RULE, channel=channel, anchor_date=day, send_at=send_at)
            )
    return rows


def replan_digests(
    *, patient: Patient, now: datetime | None = None, days: set[date] | None = None, tasks=None
) -> int:
    """Bring the patient's pending digests in line with their open steps and preferences.

    Reads every open step of the scheduled surgery (a digest is about the whole day), locks
    the patient's digest rows, cancels the days no longer wanted, moves the rest, and adds
    the new ones. The unique key on (patient, channel, day) makes a concurrent planning's
    rows and ours the same rows.

    `days` limits the work to those days (a tick changes only the days its step gives, see
    replan_after_tick); `tasks`, the open steps to plan from, when the caller knows that these
    alone decide those days.
    """
    now = now or timezone.now()
    if days is not None and not days:
        return 0
    if tasks is None:
        # Only what the days are worked out from: a step's definition also carries its texts in
        # every language, which planning never reads.
        tasks = list(tasks_open_for_patient(patient).only(*DIGEST_COLUMNS))
    open_alert = None
    if days is not None and next_send_day(patient, now) not in days:
        open_alert = False  # an open alert only adds the next reminder day, which is not in question here
    wanted = {
        (row.channel, row.anchor_date): row
        for row in planned_digest_rows(tasks=tasks, patient=patient, now=now, open_alert=open_alert)
        if days is None or row.anchor_date in days
    }
    existing = Reminder.objects.select_for_update().filter(
        patient=patient, task__isnull=True, rule=DIGEST_RULE, fallback=False,
        status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED],
    )
    if days is not None:
        existing = existing.filter(anchor_date__in=sorted(days))
    today = now.astimezone(patient.zone).date()
    to_cancel, to_update = [], []
    for row in existing.only("id", "channel", "anchor_date", "send_at", "status"):
        key = (row.channel, row.anchor_date)
        if key in wanted:
            new = wanted.pop(key)
            if row.send_at != new.send_at or row.status != Reminder.Status.PENDING:
                row.send_at, row.status, row.last_error = new.send_at, Reminder.Status.PENDING, ""
                to_update.append(row)
        elif row.status == Reminder.Status.PENDING and row.anchor_date >= today:
            to_cancel.append(row.id)
    if to_cancel:
        Reminder.objects.filter(id__in=to_cancel, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.CANCELLED, last_error="plan changed", updated_at=now
        )
    _revive(to_update, now)
    if wanted:
        Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=500)
    return len(wanted) + len(to_update)


def _revive(rows: list[Reminder], now: datetime) -> None:
    """Make rows pending again at their new send time: one UPDATE per send time.

    The rows a replan moves mostly share one time (a day's digest on every channel, a step's
    rule on every channel), and a plain UPDATE costs Django far less to build than
    bulk_update's CASE over every row.
    """
    by_time: dict[datetime, list[int]] = {}
    for row in rows:
        by_time.setdefault(row.send_at, []).append(row.id)
    for send_at, ids in by_time.items():
        Reminder.objects.filter(id__in=ids).update(
            send_at=send_at, status=Reminder.Status.PENDING, last_error="", updated_at=now
        )


# What digest_days reads of a step (see replan_digests).
DIGEST_COLUMNS = ("status", "due_date", "window_start", "definition__reminder_rules", "definition__critical")


def digest_days_of_step(task, patient: Patient, now: datetime) -> set[date]:
    """The digest days one step gives (none when it is reminded on its own), from today on."""
    if patient.reminder_style != Patient.ReminderStyle.DIGEST or per_step_wanted(task, patient):
        return set()
    today = now.astimezone(patient.zone).date()
    return {
        day for rule in task.definition.reminder_rules
        if (day := anchor_date_for(task, rule)) is not None and day >= today
    }


def _tick_days(task, patient: Patient, now: datetime) -> set[date]:
    """The digest days a tick of this step can change: the days it gives, and the next reminder
    day while it has an open alert (ticking it off ends the alert, undoing it brings it back)."""
    days = digest_days_of_step(task, patient, now)
    definition = task.definition
    if definition.critical and definition.escalate_after_days is not None:
        # Only critical steps with an escalation delay are ever alerted on (escalation.raise_alerts).
        if Alert.objects.filter(task=task, acknowledged_at__isnull=True).exists():
            days.add(next_send_day(patient, now))
    return days


def replan_after_tick(*, task, patient: Patient, done: bool, now: datetime | None = None) -> int:
    """What ticking one step off (done) or undoing it changes in the outbox, and nothing more.

    Ticked off: its pending rows are cancelled, and each digest day it gave is kept only if
    another open step still gives it. Undone: its own rows are planned again (replan_for_tasks'
    rules for one step), and the digest days it gives are planned again; the step being open,
    it alone is enough to want them, so the other steps are not read.
    """
    now = now or timezone.now()
    days = _tick_days(task, patient, now)
    if done:
        cancelled = Reminder.objects.filter(status=Reminder.Status.PENDING, task=task).update(
            status=Reminder.Status.CANCELLED, last_error="task done", updated_at=now
        )
        return cancelled + replan_digests(patient=patient, now=now, days=days)
    return _replan_steps([task], patient, now) + replan_digests(patient=patient, now=now, days=days, tasks=[task])


def cancel_pending(*, tasks=None, patient: Patient | None = None, reason: str = "") -> int:
    """Cancel reminders not yet handed to a channel, for some tasks or for a whole patient."""
    qs = Reminder.objects.filter(status=Reminder.Status.PENDING)
    if tasks is not None:
        qs = qs.filter(task__in=tasks)
    if patient is not None:
        qs = qs.filter(patient=patient)
    cancelled = qs.update(status=Reminder.Status.CANCELLED, last_error=reason, updated_at=timezone.now())
    if tasks is not None and patient is None:
        # A step done or a surgery cancelled may leave a digest day with nothing to say.
        for owner in Patient.objects.filter(cases__checklist__tasks__in=tasks).distinct():
            replan_digests(patient=owner)
    return cancelled


def replan_for_tasks(*, tasks, patient: Patient, now: datetime | None = None) -> int:
    """Bring pending reminders in line with the tasks' current dates and the patient's preferences.

    Pending rows that the new plan no longer contains are cancelled; the rest keep their
    identity and take the new send time. Rows already sent or in flight are not touched.
    """
    now = now or timezone.now()
    return _replan_steps(list(tasks), patient, now) + replan_digests(patient=patient, now=now)


def _replan_steps(tasks: list, patient: Patient, now: datetime) -> int:
    """The per-step half of replan_for_tasks: the tasks' own rows."""
    # Under the digest style only critical steps keep rows of their own: replanning an
    # older per-step plan cancels the other steps' pending rows, and the digests take over.
    wanted = {
        (row.task_id, row.rule, row.channel, row.anchor_date): row for row in per_step_rows(tasks, patient, now)
    }
    # Cancelled rows are looked at too: a task reopened, or a date moved back, revives
    # its row instead of colliding with it on the unique key. Fallback emails are left alone.
    existing = Reminder.objects.select_for_update().filter(
        task__in=tasks, status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED], fallback=False
    )
    to_cancel, to_update = [], []
    for row in existing.only("id", "task_id", "rule", "channel", "anchor_date", "send_at", "status"):
        key = (row.task_id, row.rule, row.channel, row.anchor_date)
        if key in wanted:
            new = wanted.pop(key)
            if row.send_at != new.send_at or row.status != Reminder.Status.PENDING:
                row.send_at = new.send_at
                row.status = Reminder.Status.PENDING
                row.last_error = ""
                to_update.append(row)
        elif row.status == Reminder.Status.PENDING:
            to_cancel.append(row.id)
    if to_cancel:
        Reminder.objects.filter(id__in=to_cancel, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.CANCELLED, last_error="plan changed", updated_at=now
        )
    _revive(to_update, now)
    if wanted:
        Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=500)
    return len(wanted) + len(to_update)
