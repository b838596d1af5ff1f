"""A reminder's words: title, body and link, in the patient's language, from where the patient stands today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from .models import Reminder


@dataclass
class Message:
    title: str
    body: str
    url: str  # a path inside the patient app
    tag: str
    reminder: int | None = None


def task_path(task_id: int) -> str:
    """The step's screen in the patient app (the app also still opens the older "/#/tasks/12" form)."""
    return f"/tasks/{task_id}/"


def day_text(value: date) -> str:
    # Written out with the weekday ("Tuesday 1 December"), which reads more easily than "Dec. 1, 2026".
    return formats.date_format(value, pgettext("date in a reminder (PHP date format)", "l j F"))


def compose(reminder: Reminder, now: datetime | None = None) -> Message:
    """The reminder's title and body in the patient's language, worded from where the patient stands today."""
    task = reminder.task
    patient = reminder.patient
    today = patient.local_today(now)
    with translation.override(patient.language):
        name = task.definition.localized(patient.language)["title"]
        days = (task.due_date - today).days
        rule = next((r for r in task.definition.reminder_rules if r["key"] == reminder.rule), {})
        if rule.get("anchor") == "window_start" and days > 0:
            title = _("You can start now: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": day_text(task.due_date)}
        elif days == 0:
            title = _("Due today: %(task)s") % {"task": name}
            body = _("Open the app to see what to do, and tick it off when it is done.")
        elif days == 1:
            title = _("Due tomorrow: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": day_text(task.due_date)}
        elif days > 1:
            title = _("Coming up: %(task)s") % {"task": name}
            body = ngettext(
                "Due on %(date)s, in %(days)d day.", "Due on %(date)s, in %(days)d days.", days
            ) % {"date": day_text(task.due_date), "days": days}
        else:
            title = _("Not done yet: %(task)s") % {"task": name}
            body = _("This step was due on %(date)s. Tick it off in the app when it is done.") % {
                "date": day_text(task.due_date)
            }
    # One tag per reminder: if this reminder is ever delivered again (a lost worker's attempt
    # went out too), the repeat replaces the notification instead of adding a second one.
    return Message(
        title=title[:200], body=body, url=task_path(task.id), tag=reminder_tag(reminder.id), reminder=reminder.id
    )


def reminder_tag(reminder_id: int) -> str:
    """The stable identity of one reminder's notification (also its Web Push Topic)."""
    return f"reminder-{reminder_id}"
