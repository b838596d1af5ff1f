"""The patient's dates as an iCalendar file: the surgery and each open step's due day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from checklists.models import Checklist


def checklist_calendar(checklist: Checklist, *, language: str, now: datetime | None = None) -> bytes:
    """An .ics file a phone's calendar can import.

    Steps are all-day events on their due day (calendar dates where the patient lives, so
    no time zone can shift them); a surgery with a known time is an event at that wall-clock
    time in the patient's zone. UIDs are stable, so importing again updates rather than
    duplicates.
    """
    now = now or timezone.now()
    case = checklist.case
    patient = case.patient
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    calendar = Calendar()
    calendar.add("prodid", "-//Surgery preparation//Preparation checklist//EN")
    calendar.add("version", "2.0")
    with translation.override(language):
        calendar.add("x-wr-calname", _("My surgery preparation"))
        surgery = Event()
        surgery.add("uid", f"surgery-{case.pk}@{host}")
        surgery.add("dtstamp", now)
        procedure = checklist.protocol_version.procedure_for(case.procedure, language)
        surgery.add("summary", _("Surgery: %(procedure)s") % {"procedure": procedure})
        if case.surgery_time:
            start = datetime.combine(case.surgery_date, case.surgery_time, tzinfo=patient.zone)
            surgery.add("dtstart", start)
            if case.surgery_date < date.max:
                surgery.add("dtend", start + timedelta(hours=4))
        else:
            _add_all_day(surgery, case.surgery_date)
        lines = []
        if case.arrival_time:
            lines.append(_("Arrive at %(time)s") % {"time": case.arrival_time.strftime("%H:%M")})
        if case.surgeon:
            lines.append(_("With %(surgeon)s") % {"surgeon": case.surgeon})
        if lines:
            surgery.add("description", "\n".join(lines))
        calendar.add_component(surgery)

        for task in checklist.tasks.select_related("definition").filter(status="open").order_by("due_date", "position"):
            texts = task.definition.localized(language)
            event = Event()
            event.add("uid", f"task-{task.pk}@{host}")
            event.add("dtstamp", now)
            event.add("summary", texts["title"])
            _add_all_day(event, task.due_date)
            event.add("description", f"{texts['instructions']}\n\n{settings.SITE_URL}/tasks/{task.pk}/")
            event.add("transp", "TRANSPARENT")  # a reminder, not a busy block in the day
            calendar.add_component(event)
        if case.surgery_time:
            calendar.add_missing_timezones()
    return calendar.to_ical()


def _add_all_day(event: Event, day: date) -> None:
    """An all-day event on `day`. DTEND is the next day (exclusive); the last day a date can hold has none."""
    event.add("dtstart", day)
    if day < date.max:
        event.add("dtend", day + timedelta(days=1))
