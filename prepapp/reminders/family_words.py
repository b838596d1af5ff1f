"""The words of the family's messages (see family.py), in the caregiver's language, about the patient by name.

Never "your surgery": the caregiver reads "Walt's surgery is tomorrow". The facts are the
ones the patient's own messages give (safety_words.py): the same arrival time, cut-offs and
rules, worded for someone who helps.
"""

from __future__ import annotations

from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from checklists import safety
from checklists.payloads import definition_texts
from prepapp.models import Organization, Patient, SurgeryCase
from prepapp.reminders import safety_reminders
from prepapp.reminders.family import settings_of
from prepapp.reminders.message import HOME_PATH, Message, day_text, reminder_tag, task_path
from prepapp.reminders.models import DAY_BEFORE_RULE, DAY_OF_RULE, OVERDUE_ALERT_RULE, Reminder
from prepapp.reminders.safety_words import clock, rules_change


def _cut_off_text(moment, surgery_date) -> str:
    if moment.date() < surgery_date:
        return _("%(time)s the evening before") % {"time": clock(moment)}
    return _("%(time)s on the day of surgery") % {"time": clock(moment)}


def _call_line(organization: Organization, name: str) -> str:
    if organization.care_team_phone:
        return _("If something about %(name)s worries you, call the care team at %(phone)s, or emergency services "
                 "in an emergency.") % {"name": name, "phone": organization.care_team_phone}
    return _("If something about %(name)s worries you, call the care team, or emergency services in an "
             "emergency.") % {"name": name}


def day_before_texts(case: SurgeryCase, patient: Patient, organization: Organization) -> tuple[str, list[str]]:
    name = patient.given_name
    title = _("%(name)s's surgery is tomorrow, %(date)s") % {"name": name, "date": day_text(case.surgery_date)}
    lines = []
    if case.surgery_time:
        lines.append(_("It is planned for %(time)s.") % {"time": clock(case.surgery_time)})
    if case.arrival_time:
        lines.append(_("%(name)s should arrive at %(time)s.") % {"name": name, "time": clock(case.arrival_time)})
    food, fluids = safety.fasting_cutoffs(
        case.surgery_date, case.arrival_time or case.surgery_time, food_hours=organization.food_cutoff_hours,
        fluids_hours=organization.clear_fluids_cutoff_hours, zone=patient.zone,
    )
    if food is not None:
        lines.append(_("%(name)s may eat nothing after %(food)s, and only have clear drinks (water, clear juice "
                       "without pulp) until %(fluids)s; after that, nothing at all.") % {
            "name": name, "food": _cut_off_text(food, case.surgery_date),
            "fluids": _cut_off_text(fluids, case.surgery_date)})
    else:
        lines.append(_("%(name)s may eat nothing from %(food)d hours before arriving, and drink nothing from "
                       "%(fluids)d hours before.") % {"name": name, "food": organization.food_cutoff_hours,
                                                      "fluids": organization.clear_fluids_cutoff_hours})
    lines.append(_("If the anaesthesia team gave other times, theirs are the ones to follow."))
    lines.append(_("%(name)s may not drive home after the operation: someone must drive, and an adult must stay "
                   "with %(name)s for the first 24 hours at home.") % {"name": name})
    lines.append(_call_line(organization, name))
    return title, lines


def day_of_texts(case: SurgeryCase, patient: Patient, organization: Organization) -> tuple[str, list[str]]:
    name = patient.given_name
    title = _("Today is %(name)s's surgery") % {"name": name}
    lines = [
        _("%(name)s may not drive home after the operation. Check that someone takes %(name)s home, and that an "
          "adult stays with %(name)s for the first 24 hours at home, even if %(name)s leaves the hospital the "
          "same day.") % {"name": name},
        _call_line(organization, name),
    ]
    return title, lines


def rules_texts(case: SurgeryCase, patient: Patient, day, language: str) -> tuple[str, list[str]]:
    name = patient.given_name
    stage, ended, in_force = rules_change(case, patient, day, language)
    if stage:
        title = _("A new stage of %(name)s's recovery: %(stage)s") % {"name": name, "stage": stage}
    else:
        title = _("%(name)s's rules for now have changed") % {"name": name}
    lines = []
    if ended:
        lines.append(_("No longer needed from today:"))
        lines += ["• " + rule["title"] for rule in ended]
    if in_force:
        lines.append(_("%(name)s keeps to these rules for now:") % {"name": name})
        lines += ["• " + rule["title"] for rule in in_force]
    else:
        lines.append(_("%(name)s has no rules to keep for now.") % {"name": name})
    lines.append(_("Open the app for what each rule means."))
    return title, lines


def overdue_texts(reminder: Reminder, patient: Patient, organization: Organization, language: str):
    task = reminder.task
    name = patient.given_name
    title = _("%(patient)s: an important step is overdue") % {"patient": name}
    step = definition_texts(task.definition, language)["title"]
    days = max(0, (patient.local_today() - reminder.anchor_date).days)
    due = ngettext("due %(due_date)s, %(days)s day ago", "due %(due_date)s, %(days)s days ago", days) % {
        "due_date": formats.date_format(reminder.anchor_date, "DATE_FORMAT"), "days": days}
    lines = [
        _("An important step in %(patient)s's preparation for surgery is not ticked off yet:") % {"patient": name},
        f"{step} ({due})",
        _("Please check with %(patient)s whether it is done. If it cannot be done on time, call the care team: "
          "they know, and they will say what to do.") % {"patient": name},
    ]
    if organization.care_team_phone:
        lines.append(_("Care team: %(phone)s") % {"phone": organization.care_team_phone})
    return title, lines


def compose_family(reminder: Reminder) -> Message:
    """A family row's title, body and link, in the caregiver's language. No receipt: the patient's are theirs."""
    patient = reminder.patient
    organization = Organization.objects.get(pk=patient.organization_id)
    language = settings_of(reminder.caregiver).language
    url = HOME_PATH
    with translation.override(language):
        case = None if reminder.rule == OVERDUE_ALERT_RULE else safety_reminders.case_of(reminder)
        if reminder.rule == OVERDUE_ALERT_RULE:
            title, lines = overdue_texts(reminder, patient, organization, language)
            url = task_path(reminder.task_id)
        elif case is None:  # only outside delivery (a preview of a row whose surgery went away)
            title, lines = _("%(name)s's surgery") % {"name": patient.given_name}, [
                _("Open the app to see where things stand.")]
        elif reminder.rule == DAY_BEFORE_RULE:
            title, lines = day_before_texts(case, patient, organization)
        elif reminder.rule == DAY_OF_RULE:
            title, lines = day_of_texts(case, patient, organization)
        else:
            title, lines = rules_texts(case, patient, reminder.anchor_date, language)
        lines.append(_("You get this because %(name)s asked that you be told. %(name)s can change this in the app "
                       "at any moment.") % {"name": patient.given_name})
    return Message(title=title[:200], body="\n".join(lines), url=url, tag=reminder_tag(reminder.id),
                   reminder=reminder.id)
