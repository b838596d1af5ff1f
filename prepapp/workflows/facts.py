"""What is known about a patient (yes, no, not known) and the checklist tailored to it at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from checklists import schedule
from checklists import services as checklist_services
from checklists.selectors import checklist_current
from prepapp.audit import audit_record
from prepapp.facts import FACT_TOPICS, FACTS
from prepapp.models import Patient
from prepapp.reminders import planning
from prepapp.reminders.models import InboxMessage

# --- Facts and tailoring ---------------------------------------------------------------------

FACT_ANSWERS = {True: "yes", False: "no", None: "not_sure"}


@dataclass
class FactsUpdate:
    """What changing a patient's facts did: the facts that changed, the steps added or removed, the message."""

    patient: Patient
    changed: dict = field(default_factory=dict)  # {fact: (before, after)}
    retailoring: checklist_services.Retailoring = field(default_factory=checklist_services.Retailoring)
    message: InboxMessage | None = None


def _clean_facts(facts: dict) -> dict:
    errors = {}
    for name, value in facts.items():
        if name not in FACTS:
            errors[name] = f"Unknown fact; the known facts are {', '.join(FACTS)}."
        elif value is not None and not isinstance(value, bool):
            errors[name] = "Must be true (yes), false (no) or null (not known yet)."
    if errors:
        raise ValidationError(errors)
    return dict(facts)


@transaction.atomic
def patient_update_facts(
    *, patient: Patient, facts: dict, by=None, path: str = "", ip: str = "", now: datetime | None = None
) -> FactsUpdate:
    """Change what is known about a patient (yes, no or not known) and re-tailor their checklist at once.

    In one transaction: the facts are saved; on the checklist of the scheduled surgery the
    steps that now apply are added (their reminders planned) and open steps that no longer
    apply are removed (their reminders with them), done steps untouched; the change is
    audited (by the care team, or by the patient answering the health check); and the
    patient finds a message in the app's inbox saying what changed and why. Facts given
    with the value they already have change nothing and send no message.
    """
    now = now or timezone.now()
    facts = _clean_facts(facts)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    result = FactsUpdate(patient=patient)
    for name, value in facts.items():
        if getattr(patient, name) != value:
            result.changed[name] = (getattr(patient, name), value)
            setattr(patient, name, value)
    if not result.changed:
        return result
    patient.save(update_fields=list(result.changed))
    checklist = checklist_current(patient)
    if checklist is not None:
        result.retailoring = checklist_services.checklist_retailor(checklist=checklist, facts=patient.facts, now=now)
        planning.plan_for_tasks(tasks=result.retailoring.added, patient=patient, now=now)
    by_patient = by is not None and by.pk == patient.user_id
    if by is not None:
        audit_record(actor=by, patients=[patient], action="health-check" if by_patient else "change-facts",
                     path=path, ip=ip)
    title, body = facts_change_texts(result, by_patient=by_patient)
    result.message = InboxMessage.objects.create(patient=patient, title=title, body=body, created_at=now)
    return result


def _answer_text(value) -> str:
    return {True: _("yes"), False: _("no"), None: _("not known")}[value]




def facts_change_texts(result: FactsUpdate, *, by_patient: bool) -> tuple[str, str]:
    """The inbox message about a change of facts, in the patient's language: what changed, and why."""
    patient, tailoring = result.patient, result.retailoring
    language = patient.language
    facts = patient.facts

    def step_title(definition) -> str:
        title = definition.localized(language)["title"]
        if schedule.unknown_facts(definition.applies_if, facts):
            return _("%(step)s (if this applies to you)") % {"step": title}
        return title

    with translation.override(language):
        title = _("Your steps have changed") if tailoring.changed else _("Your health details were updated")
        lines = [_("You answered the health check:") if by_patient else _("Your care team updated your health details:")]
        for name, (before, after) in result.changed.items():
            lines.append("• " + _("%(topic)s: %(after)s (before: %(before)s)") % {
                "topic": FACT_TOPICS[name], "after": _answer_text(after), "before": _answer_text(before),
            })
        if tailoring.added:
            lines.append(_("New on your list, because they now apply to you or may do:"))
            lines.extend("• " + step_title(task.definition) for task in tailoring.added)
        if tailoring.removed:
            lines.append(_("Taken off your list, because they no longer apply to you:"))
            lines.extend("• " + definition.localized(language)["title"] for definition in tailoring.removed)
        if tailoring.kept:
            lines.append(_("Still on your list because you wrote notes in them; ask your care team if you still need them:"))
            lines.extend("• " + task.definition.localized(language)["title"] for task in tailoring.kept)
        if not (tailoring.changed or tailoring.kept):
            lines.append(_("Your list of steps stays the same."))
    return title, "\n".join(lines)
