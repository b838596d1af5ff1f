"""The words of the safety net's reminders (see safety_reminders.py), in the patient's language.

The evening before surgery: when to arrive, when to stop eating and drinking, the morning
medicines, what to bring and who takes them home. A check-in day: a short nudge to the
check-in, and never a reason to wait with a warning sign. The rules said again: the rules in
force that day with what has just ended.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, translation
from django.utils.translation import gettext as _

from checklists import safety
from prepapp.models import Organization, Patient, SurgeryCase
from prepapp.reminders import receipts, safety_reminders
from prepapp.reminders.message import HOME_PATH, Message, day_text, reminder_tag
from prepapp.reminders.models import CHECK_IN_RULE, DAY_BEFORE_RULE, Reminder

CHECK_IN_PATH = "/check-in/"


def clock(moment) -> str:
    # The 24-hour clock without a leading zero ("7:30"), as the app and the other messages write times.
    return formats.time_format(moment, "G:i")


def _phone_line(organization: Organization, text_with_phone: str, text_without: str) -> str:
    if organization.care_team_phone:
        return text_with_phone % {"phone": organization.care_team_phone}
    return text_without


def day_before_texts(case: SurgeryCase, patient: Patient, organization: Organization) -> tuple[str, list[str]]:
    title = _("Your surgery is tomorrow, %(date)s") % {"date": day_text(case.surgery_date)}
    lines = []
    if case.surgery_time:
        lines.append(_("Your surgery is planned for %(time)s.") % {"time": clock(case.surgery_time)})
    if case.arrival_time:
        lines.append(_("Please arrive at %(time)s.") % {"time": clock(case.arrival_time)})
    food, fluids = safety.fasting_cutoffs(
        case.surgery_date, case.arrival_time or case.surgery_time, food_hours=organization.food_cutoff_hours,
        fluids_hours=organization.clear_fluids_cutoff_hours, zone=patient.zone,
    )
    if food is not None:
        lines.append(_("Eat nothing after %(food)s. Clear drinks (water, clear juice without pulp) only until "
                       "%(fluids)s, then nothing at all.") % {"food": _moment_text(food, case.surgery_date),
                                                               "fluids": _moment_text(fluids, case.surgery_date)})
    else:
        lines.append(_("Eat nothing from %(food)d hours before you arrive, and drink nothing from %(fluids)d hours "
                       "before.") % {"food": organization.food_cutoff_hours,
                                     "fluids": organization.clear_fluids_cutoff_hours})
    lines.append(_("If your anaesthesia team gave you other times, follow theirs."))
    lines.append(_("Take or skip each morning medicine exactly as your care team told you. If you are not sure, "
                   "ask them today, above all about diabetes medicines and blood thinners."))
    lines.append(_("Shower as you were told, pack what to bring, and make sure an adult drives you home and stays "
                   "with you for the first 24 hours."))
    lines.append(_phone_line(
        organization,
        _("A fever, a cold or a new infection? Call your care team at %(phone)s before you come in."),
        _("A fever, a cold or a new infection? Call your care team before you come in."),
    ))
    return title, lines


def _moment_text(moment: datetime, surgery_date: date) -> str:
    """A cut-off as the patient reads it: "22:30 tonight" or "5:00 on the day of surgery"."""
    if moment.date() < surgery_date:
        return _("%(time)s tonight") % {"time": clock(moment)}
    return _("%(time)s on the day of surgery") % {"time": clock(moment)}


def check_in_texts(case: SurgeryCase, day: date, organization: Organization) -> tuple[str, list[str]]:
    number = (day - case.surgery_date).days
    title = _("How are you today? Your check-in for day %(day)d") % {"day": number}
    lines = [
        _("A few short questions about your pain, your walking, the wound and how you feel. It takes a minute."),
        _phone_line(
            organization,
            _("If something worries you now, do not wait for the check-in: call your care team at %(phone)s, "
              "or emergency services in an emergency."),
            _("If something worries you now, do not wait for the check-in: call your care team, or emergency "
              "services in an emergency."),
        ),
    ]
    return title, lines


def rules_change(case: SurgeryCase, patient: Patient, day: date, language: str):
    """(the recovery stage starting that day or "", the rules ended, the rules in force), in `language`."""
    version = case.checklist.protocol_version
    lifted = {lift.rule_key for lift in case.rule_lifts.all()}
    in_force = safety.rules_in_force(
        version, surgery_date=case.surgery_date, today=day, facts=patient.facts, lifted_keys=lifted,
        language=language,
    )
    ended = safety.rules_ended_before(version, surgery_date=case.surgery_date, day=day, facts=patient.facts,
                                      language=language)
    zone = patient.zone
    ended += [
        {"key": lift.rule_key, "title": version.localized_rule(rule, language)["title"]}
        for lift in case.rule_lifts.all()
        if lift.lifted_at.astimezone(zone).date() == day
        for rule in version.rules or [] if rule["key"] == lift.rule_key
    ]
    stage = safety.stage_starting(version, surgery_date=case.surgery_date, day=day, language=language)
    return stage, ended, in_force


def rules_texts(case: SurgeryCase, patient: Patient, day: date, language: str) -> tuple[str, list[str]]:
    stage, ended, in_force = rules_change(case, patient, day, language)
    title = (_("A new stage of your recovery: %(stage)s") % {"stage": stage}) if stage else _(
        "Your rules for now have changed"
    )
    lines = []
    if ended:
        lines.append(_("No longer needed from today:"))
        lines += ["• " + rule["title"] for rule in ended]
    if in_force:
        lines.append(_("Keep to these rules for now:"))
        lines += ["• " + rule["title"] for rule in in_force]
    else:
        lines.append(_("You have no rules to keep for now."))
    lines.append(_("Open the app for what each rule means."))
    return title, lines


def compose_safety(reminder: Reminder, *, with_receipt: bool = True) -> Message:
    """A safety reminder's title, body and link, in the patient's language, from the case as checked."""
    patient = reminder.patient
    case = safety_reminders.case_of(reminder)
    organization = Organization.objects.get(pk=patient.organization_id)
    language = patient.language
    with translation.override(language):
        if case is None:  # only outside delivery (a preview of a row whose surgery went away)
            title, lines, url = _("Your surgery"), [_("Open the app to see where you stand.")], HOME_PATH
        elif reminder.rule == DAY_BEFORE_RULE:
            title, lines = day_before_texts(case, patient, organization)
            url = HOME_PATH
        elif reminder.rule == CHECK_IN_RULE:
            title, lines = check_in_texts(case, reminder.anchor_date, organization)
            url = CHECK_IN_PATH
        else:
            title, lines = rules_texts(case, patient, reminder.anchor_date, language)
            url = HOME_PATH
    return Message(
        title=title[:200], body="\n".join(lines), url=url, tag=reminder_tag(reminder.id), reminder=reminder.id,
        receipt=receipts.token_for(reminder) if reminder.id and with_receipt else "",
    )
