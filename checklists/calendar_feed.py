"""The patient's dates as a calendar feed a phone subscribes to (RFC 5545, made with icalendar).

Unlike the one-time download (checklists.calendar), the phone fetches this again and again,
so every event keeps its UID from one fetch to the next: a moved surgery moves the events, and
a cancelled one marks them STATUS:CANCELLED. SEQUENCE is the patient's plan revision, which
the database moves on every change to the plan (prepapp.Patient.plan_revision), so a calendar
always takes the newer copy of an event. What the events say is the patient's choice:
the steps' titles, or only "Surgery preparation step" on every event.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from checklists import schedule
from checklists.models import Checklist, Task
from checklists.safety import rule_dates

TITLES, PRIVATE = "titles", "private"
# A timed surgery is shown as a block of this length (the real length is not known here).
SURGERY_HOURS = 4
ARRIVAL_MINUTES = 30
# Phones that read it refresh the feed about this often (many choose their own interval).
REFRESH_INTERVAL = "PT6H"


def _all_day(event: Event, first: date, last: date) -> None:
    """An all-day span from `first` to `last`, both included (DTEND is exclusive)."""
    event.add("dtstart", first)
    if last < date.max:
        event.add("dtend", last + timedelta(days=1))


def feed_calendar(
    *, case, checklist: Checklist | None, detail: str, language: str, sequence: int, host: str, site_url: str,
    lifted_keys=(), now: datetime | None = None,
) -> bytes:
    """The feed's body: the surgery, the arrival, every dated step as its window, and the end of each rule.

    `case` is the patient's current surgery (None: an empty calendar). Every event of a
    cancelled surgery comes with STATUS:CANCELLED, so a calendar that had them greys them
    out or removes them rather than keeping the old dates. UIDs name the record, never a date.
    """
    now = now or timezone.now()
    calendar = Calendar()
    calendar.add("prodid", "-//Surgery preparation//Calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH_INTERVAL)
    with translation.override(language):
        calendar.add("x-wr-calname", _("My surgery preparation"))
        if case is None:
            return calendar.to_ical()
        patient = case.patient
        private = detail == PRIVATE
        hidden = _("Surgery preparation step")
        cancelled = case.status == "cancelled"
        app_link = f"{site_url}/"

        def event(uid: str, summary: str, description: str = "") -> Event:
            item = Event()
            item.add("uid", f"{uid}@{host}")
            item.add("dtstamp", now)
            item.add("sequence", sequence)
            item.add("summary", hidden if private else summary)
            item.add("description", app_link if private or not description else f"{description}\n\n{app_link}")
            item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
            calendar.add_component(item)
            return item

        surgery = event(f"surgery-{case.pk}", _("Surgery"))
        if case.surgery_time:
            start = datetime.combine(case.surgery_date, case.surgery_time, tzinfo=patient.zone)
            surgery.add("dtstart", start)
            surgery.add("dtend", start + timedelta(hours=SURGERY_HOURS))
        else:
            _all_day(surgery, case.surgery_date, case.surgery_date)
        if case.arrival_time:
            arrival = event(f"arrival-{case.pk}", _("Arrive at the hospital"),
                            _("Arrive at %(time)s") % {"time": case.arrival_time.strftime("%H:%M")})
            start = datetime.combine(case.surgery_date, case.arrival_time, tzinfo=patient.zone)
            arrival.add("dtstart", start)
            arrival.add("dtend", start + timedelta(minutes=ARRIVAL_MINUTES))

        if checklist is not None:
            tasks = Task.objects.filter(checklist=checklist).select_related("definition").order_by("due_date", "position")
            for task in tasks:
                title = task.definition.localized(language)["title"]
                if task.status == Task.Status.DONE:
                    title = f"✓ {title}"
                item = event(f"task-{task.pk}", title, f"{site_url}/tasks/{task.pk}/")
                # The window as one all-day span; the due day is always inside it.
                first = min(task.window_start or task.due_date, task.due_date)
                last = max(task.window_end or task.due_date, task.due_date)
                _all_day(item, first, last)
                item.add("transp", "TRANSPARENT")  # a reminder, not a busy block in the day

            lifted = set(lifted_keys)
            version = checklist.protocol_version
            for rule in version.rules or []:
                if rule["key"] in lifted or not schedule.applies(rule.get("applies_if") or {}, patient.facts):
                    continue
                _start, end = rule_dates(rule, case.surgery_date)
                if end is None:
                    continue  # kept until the care team lifts it: no end to show
                title = version.localized_rule(rule, language)["title"]
                item = event(f"rule-end-{case.pk}-{rule['key']}", _("Last day: %(rule)s") % {"rule": title})
                _all_day(item, end, end)
                item.add("transp", "TRANSPARENT")
        if case.surgery_time or case.arrival_time:
            calendar.add_missing_timezones()
    return calendar.to_ical()
