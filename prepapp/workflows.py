"""Workflows: the verbs that span the care records, the checklists and the reminder engine.

Booking, moving, cancelling a surgery and marking it done, assigning its checklist, ticking steps off and
changing reminder preferences each move more than one layer at once: the case, the
checklist's dates and the outbox must agree when the transaction commits. They live here,
above all three layers, so that the layers below never import upward. Each verb runs in one
transaction; views, admin actions and management commands call these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from checklists import schedule
from checklists import services as checklist_services
from checklists.models import Checklist, ProtocolVersion, Task
from checklists.selectors import checklist_current, tasks_open_for_patient

from .audit import audit_record
from .bulk import bulk_update_rows, refresh_statistics
from .models import FACTS, Patient, SurgeryCase
from .reminders import planning
from .reminders.announcements import announce, announce_bulk
from .reminders.models import Announcement, InboxMessage, Reminder
from .services import PATIENT_FIELDS, PREFERENCE_FIELDS, full_clean, user_sign_out_everywhere

User = get_user_model()

# A surgery is booked at most this far ahead: a date years away is a typing mistake, and every
# step's date (and the calendar) is computed from it.
MAX_DAYS_AHEAD = 2 * 365

# Changing any of these moves or changes the channels of the patient's future reminders.
REPLANNING_FIELDS = {
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "time_zone",
    "push_enabled", "email_enabled", "inapp_enabled", "contact_email", "reminder_style", "channel_policy",
}


@transaction.atomic
def patient_update(*, patient: Patient, by=None, path: str = "", ip: str = "", **changes) -> Patient:
    """Change a patient's details or preferences; future reminders follow the new preferences.

    Facts among the changes go through patient_update_facts, which re-tailors the checklist.
    """
    allowed = set(PATIENT_FIELDS) | set(PREFERENCE_FIELDS)
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    facts = {name: changes.pop(name) for name in FACTS if name in changes}
    if facts:
        patient = patient_update_facts(patient=patient, facts=facts, by=by, path=path, ip=ip).patient
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    for name, value in changes.items():
        setattr(patient, name, value)
    full_clean(patient, exclude=["user", "invitation_code"])
    patient.save()
    if set(changes) & REPLANNING_FIELDS:
        planning.replan_for_tasks(tasks=tasks_open_for_patient(patient), patient=patient)
    if "contact_email" in changes and patient.user_id:
        User.objects.filter(pk=patient.user_id).update(email=patient.contact_email)
    return patient


def _refuse_unless_followed(patient: Patient) -> None:
    # Surgeries and checklists are planned only for patients the care team follows.
    if not patient.is_followed:
        raise ValidationError(
            {"patient": f"This patient is {patient.status}; make the record active again first."}
        )


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


# The facts as the patient reads them in a message.
FACT_TOPICS = {
    "smoker": gettext_lazy("Smoking or nicotine"),
    "takes_nsaids": gettext_lazy("Anti-inflammatory painkillers"),
    "on_blood_thinners": gettext_lazy("Blood thinners"),
    "diabetic": gettext_lazy("Diabetes"),
    "bone_density_concern": gettext_lazy("Bone density concern"),
    "heart_or_lung_condition": gettext_lazy("Heart or lung condition"),
}


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


# --- Surgeries --------------------------------------------------------------------------------


def _check_surgery_date(patient: Patient, surgery_date: date, now: datetime | None):
    today = patient.local_today(now)
    if surgery_date < today:
        raise ValidationError({"surgery_date": "The surgery date cannot be in the past."})
    if surgery_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(
            {"surgery_date": f"The surgery date must be within {MAX_DAYS_AHEAD // 365} years from today."}
        )


@transaction.atomic
def case_book(
    *,
    patient: Patient,
    procedure: str,
    surgery_date: date,
    surgeon: str = "",
    surgery_time: time | None = None,
    now: datetime | None = None,
) -> SurgeryCase:
    """Book a surgery for a patient, who is told. A patient has at most one scheduled surgery at a time."""
    _refuse_unless_followed(patient)
    _check_surgery_date(patient, surgery_date, now)
    if SurgeryCase.objects.filter(patient=patient, status=SurgeryCase.Status.SCHEDULED).exists():
        raise ValidationError({"patient": "This patient already has a scheduled surgery; move or cancel that one."})
    case = SurgeryCase(
        patient=patient, procedure=procedure, surgeon=surgeon, surgery_date=surgery_date, surgery_time=surgery_time
    )
    full_clean(case, exclude=["patient"])
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError as exc:  # a concurrent booking won the race for the unique constraint
        raise ValidationError({"patient": "This patient already has a scheduled surgery."}) from exc
    announce(patient=patient, event=Announcement.Event.BOOKED, case=case, new_date=case.surgery_date,
             new_time=case.surgery_time, now=now)
    return case


@transaction.atomic
def case_reschedule(
    *, case: SurgeryCase, surgery_date: date, surgery_time: time | None = None, now: datetime | None = None
) -> SurgeryCase:
    """Move a surgery: every open task's dates follow, and every pending reminder is re-planned.

    The patient is told (in the app, and by push or email as they chose): the old and the
    new date, and each open step whose due day moved (unless neither the date nor the time changed).
    """
    now = now or timezone.now()
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be moved."})
    _refuse_unless_followed(case.patient)
    _check_surgery_date(case.patient, surgery_date, now)
    old_date, old_time = case.surgery_date, case.surgery_time
    case.surgery_date, case.surgery_time = surgery_date, surgery_time
    case.save(update_fields=["surgery_date", "surgery_time", "updated_at"])
    checklist = Checklist.objects.filter(case=case).select_related("case__patient").first()
    steps = []
    if checklist:
        due_before = dict(checklist.tasks.filter(status=Task.Status.OPEN).values_list("id", "due_date"))
        tasks = checklist_services.checklist_recompute_dates(checklist=checklist, now=now)
        planning.replan_for_tasks(tasks=tasks, patient=case.patient, now=now)
        steps = [
            {"definition": t.definition_id, "old_due": due_before[t.id].isoformat(), "new_due": t.due_date.isoformat()}
            for t in sorted(tasks, key=lambda t: (t.due_date, t.position))
            if t.id in due_before and due_before[t.id] != t.due_date
        ]
    if (old_date, old_time) != (surgery_date, surgery_time):
        announce(patient=case.patient, event=Announcement.Event.MOVED, case=case, old_date=old_date,
                 old_time=old_time, new_date=surgery_date, new_time=surgery_time, steps=steps, now=now)
    return case


@transaction.atomic
def case_cancel(*, case: SurgeryCase, now: datetime | None = None) -> SurgeryCase:
    """Cancel a surgery and every reminder not yet sent for it; the patient is told."""
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status == SurgeryCase.Status.CANCELLED:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be cancelled."})
    case.status = SurgeryCase.Status.CANCELLED
    case.save(update_fields=["status", "updated_at"])
    planning.cancel_pending(tasks=Task.objects.filter(checklist__case=case), reason="surgery cancelled")
    # News of this surgery not yet sent (booked, moved) is overtaken: only the cancellation goes.
    Reminder.objects.filter(announcement__case=case, status=Reminder.Status.PENDING).update(
        status=Reminder.Status.CANCELLED, last_error="surgery cancelled", updated_at=timezone.now()
    )
    announce(patient=case.patient, event=Announcement.Event.CANCELLED, case=case, old_date=case.surgery_date,
             old_time=case.surgery_time, now=now)
    return case


@transaction.atomic
def case_complete(*, case: SurgeryCase, now: datetime | None = None) -> SurgeryCase:
    """Mark a surgery done: the patient's app turns to the recovery.

    Only on or after the surgery day, in the patient's time zone. The recovery steps keep
    their reminders; reminders still pending for preparation steps are cancelled, as there
    is nothing left to prepare. Marking a done surgery done again changes nothing.
    """
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status == SurgeryCase.Status.DONE:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be marked done."})
    if case.surgery_date > case.patient.local_today(now):
        raise ValidationError(
            {"surgery_date": f"The surgery is planned for {case.surgery_date.isoformat()}; "
             "it can be marked done from that day on."}
        )
    case.status = SurgeryCase.Status.DONE
    case.save(update_fields=["status", "updated_at"])
    planning.cancel_pending(
        tasks=Task.objects.filter(checklist__case=case, definition__offset_days__lte=0), reason="surgery done"
    )
    return case


@transaction.atomic
def checklist_assign(
    *, case: SurgeryCase, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> Checklist:
    """Give a scheduled surgery its checklist from a protocol version, and plan the steps' reminders.

    See checklists.services.checklist_build for what is copied and when a checklist may be
    replaced; a replaced checklist's reminders go with its steps.
    """
    now = now or timezone.now()
    _refuse_unless_followed(case.patient)
    checklist = checklist_services.checklist_build(
        case=case, protocol_version=protocol_version, assigned_by=assigned_by, now=now
    )
    planning.plan_for_tasks(
        tasks=checklist.tasks.select_related("definition"), patient=checklist.case.patient, now=now
    )
    return checklist


@transaction.atomic
def task_complete(*, task: Task, by, now: datetime | None = None) -> Task:
    """Tick a step off and cancel its pending reminders. Ticking a done step again changes nothing."""
    task, changed = checklist_services.task_mark_done(task=task, by=by, now=now or timezone.now())
    if changed:
        planning.cancel_pending(tasks=[task], reason="task done")
    return task


@transaction.atomic
def task_reopen(*, task: Task, by, now: datetime | None = None) -> Task:
    """Undo a tick: the step is open again and its future reminders are planned again."""
    now = now or timezone.now()
    task, changed = checklist_services.task_mark_open(task=task, by=by)
    if changed:
        planning.replan_for_tasks(tasks=[task], patient=task.checklist.case.patient, now=now)
    return task


# What each status change is called in the audit trail.
STATUS_ACTIONS = {
    Patient.Status.ARCHIVED: "archive",
    Patient.Status.DISCHARGED: "discharge",
    Patient.Status.ACTIVE: "reactivate",
}


@transaction.atomic
def patient_set_status(
    *, patient: Patient, status: str, by, reason: str = "", request=None, now: datetime | None = None
) -> Patient:
    """Archive, discharge or reactivate a patient; the record itself is always kept.

    - discharged (care finished): off the roster by default; reminders not yet sent are
      cancelled; the patient keeps their sign-in and can still open their record.
    - archived (entered by mistake, or no longer followed): the same, and the patient is
      signed out everywhere and cannot sign in (codes and links are refused) until reactivated.
    - active again: the login works again (a new invitation may be needed), and the open
      steps' future reminders are planned again.

    Setting the status the patient already has changes nothing and leaves no entry.
    """
    if status not in Patient.Status.values:
        raise ValidationError({"status": f"Unknown status “{status}”."})
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status == status:
        return patient
    patient.status = status
    patient.status_changed_at = now
    patient.status_reason = (reason or "").strip()[:200] if status != Patient.Status.ACTIVE else ""
    patient.save(update_fields=["status", "status_changed_at", "status_reason"])
    if patient.user_id:
        # Only an archived record locks its patient out.
        User.objects.filter(pk=patient.user_id).update(is_active=status != Patient.Status.ARCHIVED)
        if status == Patient.Status.ARCHIVED:
            user_sign_out_everywhere(user=patient.user, now=now)
            Patient.objects.filter(pk=patient.pk).update(invitation_code_hash=None, invitation_expires_at=None)
            patient.invitation_code_hash = patient.invitation_expires_at = None
    if status == Patient.Status.ACTIVE:
        planning.replan_for_tasks(tasks=tasks_open_for_patient(patient), patient=patient, now=now)
    else:
        planning.cancel_pending(patient=patient, reason=f"patient {status}")
    audit_record(actor=by, patients=[patient], action=STATUS_ACTIONS[status], request=request)
    return patient


# --- Many cases at once -----------------------------------------------------------------------
# A protocol rolled out to a clinic's surgeries, a surgeon's list moved: the verbs above for a
# batch of cases, worked through in chunks whose queries do not depend on the number of cases,
# steps or reminders (bulk inserts and updates of a few thousand rows each). One transaction:
# every case or none.

BULK_CHUNK = 500


@transaction.atomic
def checklists_assign_bulk(
    *, cases, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> int:
    """checklist_assign for many cases (objects or ids); returns how many checklists were built."""
    now = now or timezone.now()
    ids = sorted({getattr(case, "pk", case) for case in cases})
    rows_added = 0
    for start in range(0, len(ids), BULK_CHUNK):
        checklists = checklist_services.checklists_build_bulk(
            cases=ids[start:start + BULK_CHUNK], protocol_version=protocol_version, assigned_by=assigned_by, now=now
        )
        tasks = [task for checklist in checklists for task in checklist.built_tasks]
        rows_added += len(checklists) + len(tasks) + planning.plan_bulk(tasks=tasks, now=now)
    # A whole clinic's checklists at once: what comes next (a bulk move, the sweeper) is planned
    # for the tables' new size, not their old one.
    refresh_statistics([Checklist, Task, Reminder], rows_added=rows_added)
    return len(ids)


@transaction.atomic
def cases_reschedule_bulk(*, moves: dict, now: datetime | None = None) -> int:
    """case_reschedule for many cases: {case or id: new surgery date}; surgery times are kept.

    The same rules as one move (only scheduled surgeries of followed patients, a date not in
    the past nor too far ahead); open steps follow, pending reminders are re-planned, and each
    patient whose date changed is told, with the steps that moved. Returns how many moved.
    """
    now = now or timezone.now()
    dates = {getattr(case, "pk", case): day for case, day in moves.items()}
    ids = sorted(dates)
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start:start + BULK_CHUNK]
        cases = list(SurgeryCase.objects.select_for_update(of=("self",)).select_related("patient").filter(pk__in=chunk))
        problems = {pk: "no such surgery" for pk in set(chunk) - {c.pk for c in cases}}
        for case in cases:
            if case.status != SurgeryCase.Status.SCHEDULED:
                problems[case.pk] = f"a {case.status} surgery cannot be moved"
                continue
            if not case.patient.is_followed:
                problems[case.pk] = f"this patient is {case.patient.status}"
                continue
            try:
                _check_surgery_date(case.patient, dates[case.pk], now)
            except ValidationError as exc:
                problems[case.pk] = " ".join(exc.message_dict.get("surgery_date", exc.messages))
        checklist_services.refuse_cases(problems)
        old_dates = {case.pk: case.surgery_date for case in cases}
        for case in cases:
            case.surgery_date, case.updated_at = dates[case.pk], now
        bulk_update_rows(SurgeryCase, cases, ["surgery_date", "updated_at"], batch_size=BULK_CHUNK)
        tasks = checklist_services.checklists_recompute_dates_bulk(cases=cases, now=now)
        planning.replan_bulk(tasks=tasks, now=now)
        moved_steps: dict[int, list] = {case.pk: [] for case in cases}
        for task in sorted(tasks, key=lambda t: (t.due_date, t.position)):
            if task.status == Task.Status.OPEN and task.due_before != task.due_date:
                moved_steps[task.checklist.case_id].append(
                    {"definition": task.definition_id, "old_due": task.due_before.isoformat(),
                     "new_due": task.due_date.isoformat()}
                )
        announce_bulk(
            [
                {"patient": case.patient, "event": Announcement.Event.MOVED, "case": case,
                 "old_date": old_dates[case.pk], "old_time": case.surgery_time, "new_date": case.surgery_date,
                 "new_time": case.surgery_time, "steps": moved_steps[case.pk]}
                for case in cases
                if old_dates[case.pk] != case.surgery_date
            ],
            now=now,
        )
    return len(ids)
