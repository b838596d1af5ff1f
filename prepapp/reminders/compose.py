"""A reminder's words: title, body and link, in the patient's language, from where the patient stands today.

A step's reminder speaks of that step; a daily digest lists the day's steps (see digest.py
for what it lists). Every message carries its own receipt token: its links mark it read.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from checklists import schedule
from checklists.models import TaskDefinition
from prepapp.reminders import digest as digests
from prepapp.reminders import family_words, receipts, safety_words
from prepapp.reminders.message import HOME_PATH, DigestLine, Message, day_text, reminder_tag, task_path
from prepapp.reminders.models import PATIENT_RULES, Announcement, Reminder

__all__ = ["HOME_PATH", "DigestLine", "Message", "compose", "day_text", "reminder_tag", "task_path"]

# What a step's words depend on: the step, its rule's anchor, the language, the days left,
# the due date and whether a fact it depends on is still unknown. A batch of reminders shares
# most of these (every rule of a step, every patient due the same day), so `compose` words
# each once per batch when given a dict to keep them in.


def compose(reminder: Reminder, now: datetime | None = None, *, memo: dict | None = None,
            with_receipt: bool = True) -> Message:
    """The reminder's title and body in the patient's language, worded from where the patient stands today.

    `memo`, a dict shared by the calls of one batch, keeps the words of each step and day
    (see above). `with_receipt=False` leaves out the signed receipt token, for a
    channel whose messages carry no link (the app's inbox).
    """
    if reminder.for_family:
        # To a caregiver, about the patient: their language, no receipt (family_words.py).
        return family_words.compose_family(reminder)
    if reminder.announcement_id is not None:
        return compose_announcement(reminder, with_receipt=with_receipt)
    if reminder.is_digest:
        return compose_digest(reminder, with_receipt=with_receipt)
    if reminder.task_id is None and reminder.rule in PATIENT_RULES:
        return safety_words.compose_safety(reminder, with_receipt=with_receipt)
    task = reminder.task
    words = _words_of_step(reminder, task, now, memo)
    title, body = words
    # One tag per reminder: if this reminder is ever delivered again (a lost worker's attempt
    # went out too), the repeat replaces the notification instead of adding a second one.
    return Message(
        title=title, body=body, url=task_path(task.id), tag=reminder_tag(reminder.id), reminder=reminder.id,
        receipt=receipts.token_for(reminder) if reminder.id and with_receipt else "",
    )


def _words_of_step(reminder: Reminder, task, now: datetime | None, memo: dict | None) -> tuple[str, str]:
    """A step reminder's words, kept in `memo` by what they depend on (see above).

    What comes from the step and its patient (today where they live, the language, whether a
    fact is unknown) is the same for the step's every rule and channel: within a batch (one
    `now`) it is worked out once per step.
    """
    step_key = ("step", task.id, now)
    step = memo.get(step_key) if memo is not None and now is not None else None
    if step is None:
        patient = reminder.patient
        today = patient.local_today(now)
        definition = task.definition
        unknown = bool(schedule.unknown_facts(definition.applies_if, patient.facts))
        step = (definition, patient.language, today, unknown)
        if memo is not None and now is not None:
            memo[step_key] = step
    definition, language, today, unknown = step
    rule = next((r for r in definition.reminder_rules if r["key"] == reminder.rule), {})
    key = (definition.id, rule.get("anchor"), language, (task.due_date - today).days, task.due_date, unknown)
    words = memo.get(key) if memo is not None else None
    if words is None:
        words = _step_words(definition, rule, language, task.due_date, today, unknown)
        if memo is not None:
            memo[key] = words
    return words


def _step_words(definition: TaskDefinition, rule: dict, language: str, due_date: date, today: date,
                unknown: bool) -> tuple[str, str]:
    """A step reminder's title and body (see `compose`)."""
    with translation.override(language):
        name = definition.localized(language)["title"]
        days = (due_date - today).days
        if rule.get("anchor") == "window_start" and days > 0:
            title = _("You can start now: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": day_text(due_date)}
        elif days == 0:
            title = _("Due today: %(task)s") % {"task": name}
            body = _("Open the app to see what to do, and tick it off when it is done.")
        elif days == 1:
            title = _("Due tomorrow: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": day_text(due_date)}
        elif days > 1:
            title = _("Coming up: %(task)s") % {"task": name}
            body = ngettext(
                "Due on %(date)s, in %(days)d day.", "Due on %(date)s, in %(days)d days.", days
            ) % {"date": day_text(due_date), "days": days}
        else:
            title = _("Not done yet: %(task)s") % {"task": name}
            body = _("This step was due on %(date)s. Tick it off in the app when it is done.") % {
                "date": day_text(due_date)
            }
        if unknown:
            # On the list in case it applies (a fact it depends on is not known yet): say so.
            body = _("If this applies to you: %(text)s") % {"text": body}
    return title[:200], body


def digest_line(item: digests.DigestItem, day: date, language: str) -> DigestLine:
    """One step of a digest in the patient's language (call inside translation.override)."""
    name = item.definition.localized(language)["title"]
    date = day_text(item.due_date)
    if item.kind == digests.OVERDUE:
        text = _("Not done yet: %(task)s (due %(date)s)") % {"task": name, "date": date}
        when = _("Was due %(date)s") % {"date": date}
    elif item.kind == digests.STARTING:
        text = _("You can start now: %(task)s (by %(date)s)") % {"task": name, "date": date}
        when = _("To do by %(date)s") % {"date": date}
    elif item.due_date == day:
        text = _("Due today: %(task)s") % {"task": name}
        when = _("Due today")
    elif (item.due_date - day).days == 1:
        text = _("Due tomorrow: %(task)s") % {"task": name}
        when = _("Due tomorrow")
    else:
        text = _("Due on %(date)s: %(task)s") % {"task": name, "date": date}
        when = _("Due %(date)s") % {"date": date}
    return DigestLine(
        item.task_id, item.kind, name, text, task_path(item.task_id), item.critical, item.alerted, when=when
    )


def compose_digest(reminder: Reminder, *, with_receipt: bool = True) -> Message:
    """A digest's title, lines and links in the patient's language, from the steps as they are now."""
    patient = reminder.patient
    content = digests.content_of(reminder)
    with translation.override(patient.language):
        groups = {
            kind: [digest_line(item, content.day, patient.language) for item in getattr(content, kind)]
            for kind in (digests.OVERDUE, digests.DUE, digests.STARTING)
        }
        lines = [*groups[digests.OVERDUE], *groups[digests.DUE], *groups[digests.STARTING]]
        missing = [line for line in lines if line.alerted]
        count = len(lines) + content.overdue_not_listed
        if missing:
            title = _("Still not done: %(task)s") % {"task": missing[0].title}
            intro = _("This step matters for your surgery. Your care team knows and may contact you.")
        else:
            title = ngettext(
                "Your preparation: %(count)d step", "Your preparation: %(count)d steps", count
            ) % {"count": count}
            intro = ""
        more = ""
        if content.overdue_not_listed:
            more = ngettext(
                "…and %(count)d more step not done yet.", "…and %(count)d more steps not done yet.",
                content.overdue_not_listed,
            ) % {"count": content.overdue_not_listed}
        body = "\n".join(part for part in [intro, *(line.text for line in lines), more] if part)
    return Message(
        title=title[:200], body=body, url=HOME_PATH, tag=reminder_tag(reminder.id), reminder=reminder.id,
        receipt=receipts.token_for(reminder) if reminder.id and with_receipt else "", digest=groups, intro=intro,
        more=more,
        lines=lines,
    )


# --- Announcements: the surgery was booked, moved or cancelled ------------------------------


def _when_text(day: date, at: time | None) -> str:
    if at is None:
        return day_text(day)
    # The 24-hour clock without a leading zero ("7:30", "14:30"), as the app shows the surgery time.
    return _("%(date)s at %(time)s") % {"date": day_text(day), "time": formats.time_format(at, "G:i")}


def _step_titles(announcement: Announcement, language: str) -> dict[int, str]:
    ids = {step["definition"] for step in announcement.steps}
    definitions = TaskDefinition.objects.in_bulk(ids) if ids else {}
    return {pk: d.localized(language)["title"] for pk, d in definitions.items()}


def announcement_texts(announcement: Announcement, language: str) -> tuple[str, str]:
    """An announcement's title and body in a language: the old and the new date, and the steps that moved."""
    a = announcement
    with translation.override(language):
        if a.event == Announcement.Event.BOOKED:
            when = _when_text(a.new_date, a.new_time)
            title = _("Your surgery is booked for %(date)s") % {"date": day_text(a.new_date)}
            lines = [_("Your care team has booked your surgery for %(when)s.") % {"when": when},
                     _("Your preparation steps and their dates are in the app.")]
        elif a.event == Announcement.Event.CANCELLED:
            title = _("Your surgery on %(date)s has been cancelled") % {"date": day_text(a.old_date)}
            lines = [_("Your care team has cancelled your surgery planned for %(when)s.")
                     % {"when": _when_text(a.old_date, a.old_time)},
                     _("Reminders about your preparation steps have stopped. "
                       "Your care team will contact you about what happens next.")]
        else:
            old, new = _when_text(a.old_date, a.old_time), _when_text(a.new_date, a.new_time)
            if a.old_date == a.new_date:
                title = _("The time of your surgery has changed")
            else:
                title = _("Your surgery has moved to %(date)s") % {"date": day_text(a.new_date)}
            lines = [_("It was planned for %(old)s. It is now on %(new)s.") % {"old": old, "new": new}]
            titles = _step_titles(a, language)
            steps = [s for s in a.steps if s["definition"] in titles]
            if steps:
                lines.append(ngettext(
                    "%(count)d step has a new date:", "%(count)d steps have new dates:", len(steps)
                ) % {"count": len(steps)})
                for step in steps:
                    lines.append("• " + _("%(step)s: now %(new)s (was %(old)s)") % {
                        "step": titles[step["definition"]],
                        "new": day_text(date.fromisoformat(step["new_due"])),
                        "old": day_text(date.fromisoformat(step["old_due"])),
                    })
            else:
                lines.append(_("None of your open steps has a new date."))
    return title[:200], "\n".join(lines)


def compose_announcement(reminder: Reminder, *, with_receipt: bool = True) -> Message:
    """An announcement's message, in the patient's language; it leads to the app's home screen."""
    title, body = announcement_texts(reminder.announcement, reminder.patient.language)
    return Message(
        title=title, body=body, url="/", tag=reminder_tag(reminder.id), reminder=reminder.id,
        receipt=receipts.token_for(reminder) if reminder.id and with_receipt else "",
    )
