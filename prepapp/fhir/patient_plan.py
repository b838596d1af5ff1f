"""Out: a patient's plan as FHIR resources (fhir.resources R4B models, never hand-built dictionaries).

- the patient as `Patient`, with the hospital's identifiers they were imported with;
- each surgery as an `Appointment` (booked, cancelled, fulfilled), with the EHR's identifier;
- its checklist as a `CarePlan` that instantiates the protocol version's PlanDefinition, one
  `Task` per step (status, due window as restriction.period, done time, the patient's answers),
  and the rules in force today as the CarePlan's activity details;
- reminders still planned as `CommunicationRequest`, those sent (or given up on) as
  `Communication` (channel, sent time, and when the patient opened it as `received`);
- all of them for one patient as the Bundle of `Patient/<id>/$everything`, which the patient's
  own data export carries too.
"""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.appointment import Appointment, AppointmentParticipant
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.careplan import CarePlan, CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.patient import PatientCommunication
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.task import Task as FhirTask
from fhir.resources.R4B.task import TaskOutput, TaskRestriction

from checklists import safety
from checklists.models import Checklist, Task
from prepapp.fhir import codes
from prepapp.fhir.models import AppointmentLink, PatientIdentifier
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders.models import Reminder
from prepapp.workflows.safety_payload import lifts_of

APPOINTMENT_STATUS = {
    SurgeryCase.Status.SCHEDULED: "booked",
    SurgeryCase.Status.CANCELLED: "cancelled",
    SurgeryCase.Status.DONE: "fulfilled",
}
CAREPLAN_STATUS = {
    SurgeryCase.Status.SCHEDULED: "active",
    SurgeryCase.Status.CANCELLED: "revoked",
    SurgeryCase.Status.DONE: "active",  # the recovery steps go on after the surgery
}
TASK_STATUS = {Task.Status.OPEN: "ready", Task.Status.DONE: "completed"}
# Planned reminders (CommunicationRequest) and those that went out or were given up on (Communication).
REQUEST_STATUS = {
    Reminder.Status.PENDING: "active",
    Reminder.Status.SENDING: "active",
    Reminder.Status.CANCELLED: "revoked",
    Reminder.Status.SKIPPED: "revoked",
}
COMMUNICATION_STATUS = {Reminder.Status.SENT: "completed", Reminder.Status.FAILED: "not-done"}
REQUESTED = tuple(REQUEST_STATUS)
COMMUNICATED = tuple(COMMUNICATION_STATUS)


def _language_concept(language: str) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=codes.LANGUAGE_SYSTEM, code=language)])


def patient_resource(patient: Patient, identifiers=None) -> FhirPatient:
    """The patient; `identifiers` (their PatientIdentifier rows) when already read, else read here."""
    if identifiers is None:
        identifiers = PatientIdentifier.objects.filter(patient=patient).order_by("id")
    return FhirPatient(
        id=str(patient.pk),
        meta=codes.meta(patient.updated_at),
        identifier=[Identifier(system=codes.PATIENT_ID_SYSTEM, value=str(patient.pk))]
        + [Identifier(system=i.system, value=i.value) for i in identifiers],
        active=patient.status != Patient.Status.ARCHIVED,
        name=[HumanName(text=patient.full_name)],
        telecom=[ContactPoint(system="email", value=patient.contact_email)] if patient.contact_email else None,
        birthDate=patient.date_of_birth,
        communication=[PatientCommunication(language=_language_concept(patient.language), preferred=True)],
    )


def surgery_start(case: SurgeryCase) -> datetime | None:
    """The surgery's start as an instant, when its time is known (dates are the patient's calendar days)."""
    if case.surgery_time is None:
        return None
    return datetime.combine(case.surgery_date, case.surgery_time, tzinfo=case.patient.zone)


def appointment_resource(case: SurgeryCase) -> Appointment:
    """A surgery as an Appointment; without a time its day is the requested period."""
    link = AppointmentLink.objects.filter(case=case).first()
    start = surgery_start(case)
    day = datetime.combine(case.surgery_date, time(0), tzinfo=case.patient.zone)
    participants = [AppointmentParticipant(actor=codes.reference("Patient", case.patient_id), status="accepted")]
    if case.surgeon:
        participants.append(AppointmentParticipant(actor=Reference(display=case.surgeon), status="accepted"))
    return Appointment(
        id=str(case.pk),
        meta=codes.meta(case.updated_at),
        identifier=[Identifier(system=codes.CASE_ID_SYSTEM, value=str(case.pk))]
        + ([Identifier(system=link.system, value=link.value)] if link else []),
        status=APPOINTMENT_STATUS[case.status],
        serviceType=[CodeableConcept(text=case.procedure)],
        description=case.procedure,
        start=start,
        requestedPeriod=None if start else [Period(start=day, end=day.replace(hour=23, minute=59))],
        created=case.created_at,
        participant=participants,
    )


def _task_period(task: Task) -> Period:
    start = task.window_start or task.due_date
    end = task.window_end or task.due_date
    return Period(start=start, end=end)


def task_resource(task: Task) -> FhirTask:
    """One step: its status, its window (restriction.period), its due day, when it was done, the answers."""
    definition = task.definition
    spanish = (definition.translations or {}).get("es", {})
    answers = task.answers or {}
    return FhirTask(
        id=str(task.pk),
        meta=codes.meta(task.updated_at),
        status=TASK_STATUS[task.status],
        intent="plan",
        priority="urgent" if definition.critical else "routine",
        code=CodeableConcept(
            coding=[Coding(system=codes.STEP_SYSTEM, code=definition.key)],
            text=definition.title,
            text__ext=codes.translations_ext({"es": spanish.get("title", "")}),
        ),
        description=definition.instructions,
        description__ext=codes.translations_ext({"es": spanish.get("instructions", "")}),
        basedOn=[codes.reference("CarePlan", task.checklist_id)],
        for_fhir=codes.reference("Patient", task.checklist.case.patient_id),
        authoredOn=task.checklist.assigned_at,
        lastModified=task.updated_at,
        restriction=TaskRestriction(period=_task_period(task)),
        executionPeriod=Period(end=task.completed_at) if task.completed_at else None,
        extension=[Extension(url=codes.extension_url("due-date"), valueDate=task.due_date)],
        note=[Annotation(text=task.note)] if task.note else None,
        output=[
            TaskOutput(type=CodeableConcept(coding=[Coding(system=codes.STEP_SYSTEM, code=f"{definition.key}.{key}")]),
                       valueString=str(value))
            for key, value in sorted(answers.items()) if value not in ("", None)
        ] or None,
    )


def careplan_resource(checklist: Checklist, tasks: list[Task], *, now: datetime | None = None) -> CarePlan:
    """The checklist: every step as a Task reference, and the rules in force today as activity details."""
    case = checklist.case
    patient = case.patient
    version = checklist.protocol_version
    today = patient.local_today(now)
    activities = [CarePlanActivity(reference=codes.reference("Task", task.pk)) for task in tasks]
    if case.status != SurgeryCase.Status.CANCELLED:
        for rule in safety.rules_in_force(
            version, surgery_date=case.surgery_date, today=today, facts=patient.facts, lifted_keys=lifts_of(case),
        ):
            spanish = version.localized_rule(next(r for r in version.rules if r["key"] == rule["key"]), "es")
            activities.append(CarePlanActivity(detail=CarePlanActivityDetail(
                code=CodeableConcept(
                    coding=[Coding(system=codes.RULE_SYSTEM, code=rule["key"])], text=rule["title"],
                    text__ext=codes.translations_ext({"es": spanish["title"]}),
                ),
                status="in-progress",
                description=rule["text"],
                description__ext=codes.translations_ext({"es": spanish["text"]}),
                scheduledPeriod=Period(start=rule["start_date"], end=rule["end_date"]),
            )))
    days = [d for task in tasks for d in (task.window_start or task.due_date, task.window_end or task.due_date)]
    return CarePlan(
        id=str(checklist.pk),
        meta=codes.meta(checklist.assigned_at),
        status=CAREPLAN_STATUS[case.status],
        intent="plan",
        title=version.protocol.name,
        instantiatesCanonical=[f"{codes.plan_definition_url(version.protocol.key)}|{version.number}"],
        subject=codes.reference("Patient", patient.pk),
        created=checklist.assigned_at,
        period=Period(start=min(days), end=max(days)) if days else None,
        supportingInfo=[codes.reference("Appointment", case.pk)],
        activity=activities or None,
    )


def _medium(reminder: Reminder) -> list[CodeableConcept]:
    return [CodeableConcept(
        coding=[Coding(system=codes.CHANNEL_SYSTEM, code=reminder.channel, display=reminder.get_channel_display())]
    )]


def _about(reminder: Reminder):
    if reminder.task_id:
        return [codes.reference("Task", reminder.task_id)]
    if reminder.announcement_id and reminder.announcement.case_id:
        return [codes.reference("Appointment", reminder.announcement.case_id)]
    return None


def communication_request_resource(reminder: Reminder) -> CommunicationRequest:
    """A reminder still planned (or called off before it went): when and by which channel."""
    return CommunicationRequest(
        id=str(reminder.pk),
        meta=codes.meta(reminder.updated_at),
        status=REQUEST_STATUS[reminder.status],
        subject=codes.reference("Patient", reminder.patient_id),
        about=_about(reminder),
        category=[CodeableConcept(text=reminder.rule)],
        medium=_medium(reminder),
        occurrenceDateTime=reminder.send_at,
        authoredOn=reminder.created_at,
    )


def communication_resource(reminder: Reminder) -> Communication:
    """A reminder sent (or given up on): the channel, when it went, and when the patient opened it (received)."""
    return Communication(
        id=str(reminder.pk),
        meta=codes.meta(reminder.updated_at),
        status=COMMUNICATION_STATUS[reminder.status],
        subject=codes.reference("Patient", reminder.patient_id),
        about=_about(reminder),
        category=[CodeableConcept(text=reminder.rule)],
        medium=_medium(reminder),
        sent=reminder.sent_at,
        received=reminder.read_at,
    )


def task_rows():
    """Tasks with what task_resource reads."""
    return Task.objects.select_related("definition", "checklist__case").order_by("checklist_id", "due_date", "position")


def reminder_rows():
    return Reminder.objects.select_related("announcement").order_by("send_at", "id")


def everything(patient: Patient, *, now: datetime | None = None) -> list:
    """Every resource about the patient, the Patient first: what $everything and the data export hold."""
    now = now or timezone.now()
    resources = [patient_resource(patient)]
    cases = list(SurgeryCase.objects.filter(patient=patient).select_related("patient").order_by("surgery_date", "id"))
    resources += [appointment_resource(case) for case in cases]
    tasks = list(task_rows().filter(checklist__case__patient=patient))
    checklists = Checklist.objects.filter(case__patient=patient).select_related(
        "case__patient", "protocol_version__protocol").order_by("id")
    for checklist in checklists:
        own = [t for t in tasks if t.checklist_id == checklist.pk]
        resources.append(careplan_resource(checklist, own, now=now))
        resources += [task_resource(t) for t in own]
    for reminder in reminder_rows().filter(patient=patient):
        if reminder.status in COMMUNICATED:
            resources.append(communication_resource(reminder))
        else:
            resources.append(communication_request_resource(reminder))
    return resources


def everything_bundle(patient: Patient, *, now: datetime | None = None) -> Bundle:
    """The Bundle `Patient/<id>/$everything` answers (a searchset of everything above, the Patient first)."""
    now = now or timezone.now()
    resources = everything(patient, now=now)
    base = codes.fhir_base()
    return Bundle(
        type="searchset", total=len(resources), timestamp=now,
        entry=[BundleEntry(fullUrl=f"{base}/{r.get_resource_type()}/{r.id}", resource=r) for r in resources],
    )
