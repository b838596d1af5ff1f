"""The payloads the phone and the pages show: a checklist grouped for the home screen, a step, the surgery's countdown. Plain dicts built with one query for a whole checklist; checklists.payload_schema describes them."""


from django.utils import translation

from checklists import schedule
from checklists.models import Checklist, ProtocolVersion, Task, TaskDefinition
from prepapp.lib.lru import LRU
from prepapp.lib.response_cache import forget_kept_bodies
from prepapp.models import CaregiverLink, Patient, SurgeryCase


def lacks_time_now(task: Task, surgery_date, today) -> bool:
    """The stored not-enough-time mark, while it still matters: the step is open and the surgery is ahead."""
    return task.not_enough_time and task.status == Task.Status.OPEN and today <= surgery_date


# --- Work done once per protocol version and language ------------------------------------------
# A published version never changes (the admin and the services refuse to), so its steps, their
# texts in each language and their figures for a given weight are worked out once per process
# and kept, keyed by the version's id and content hash. Drafts are never kept.
_published_definitions = LRU(64)
# Per definition object: its texts by language, its figures by language and weight. Bounded, as
# weights vary from patient to patient.
_MEMO_LIMIT = 512


def is_frozen(version: ProtocolVersion) -> bool:
    """Published with its content hash: its steps never change, so they may be kept."""
    return not version.is_draft and bool(version.content_hash)


def version_definitions(version: ProtocolVersion, needed=()) -> dict[int, TaskDefinition]:
    """A version's steps by id: from the process's cache for a published version, else read now.

    `needed` are definition ids the caller holds tasks for; one missing from the cached set
    (a step added to the version after it was cached) reads the version again.
    """
    if not is_frozen(version):
        return {d.id: d for d in TaskDefinition.objects.filter(version_id=version.id)}
    key = (version.id, version.content_hash)
    definitions = _published_definitions.get(key)
    if definitions is None or not set(needed) <= definitions.keys():
        definitions = {d.id: d for d in TaskDefinition.objects.filter(version_id=version.id)}
        _published_definitions.put(key, definitions)
    return definitions


def clear_payload_caches() -> None:
    """Forget every kept version and rendered answer (for tests that count queries from a cold start)."""
    _published_definitions.clear()
    forget_kept_bodies()


def _memo(definition: TaskDefinition) -> dict:
    memo = definition.__dict__.get("_payload_memo")
    if memo is None or len(memo) > _MEMO_LIMIT:
        memo = definition.__dict__["_payload_memo"] = {}
    return memo


def definition_texts(definition: TaskDefinition, language: str) -> dict:
    """The step's words in the language, and its category's name in the request's (kept with the definition)."""
    key = ("texts", language, translation.get_language())
    memo = _memo(definition)
    texts = memo.get(key)
    if texts is None:
        texts = definition.localized(language)
        texts["category_label"] = str(definition.get_category_display())
        memo[key] = texts
    return texts


def definition_targets(definition: TaskDefinition, language: str, weight_kg) -> list[dict]:
    """The step's figures worked out for a weight, labelled in the language (kept with the definition)."""
    key = ("targets", language, weight_kg)
    memo = _memo(definition)
    targets = memo.get(key)
    if targets is None:
        labels = definition.translations.get(language, {}).get("targets", {})
        targets = memo[key] = [
            {"key": t.key, "label": t.label, "text": t.text, "unit": t.unit, "min": t.min, "max": t.max, "value": t.value}
            for t in schedule.compute_targets(definition.targets, weight_kg, labels)
        ]
    return [dict(t) for t in targets]


def ticked_off_by(patient: Patient, tasks) -> dict[int, str]:
    """{user id: "Ana (daughter)"} for the caregivers who ticked off any of these steps.

    A step the patient ticked off, or the care team, names nobody; only when someone else
    did is there a query.
    """
    others = {t.completed_by_id for t in tasks if t.completed_by_id and t.completed_by_id != patient.user_id}
    if not others:
        return {}
    return {link.caregiver_id: link.label for link in CaregiverLink.objects.filter(patient=patient, caregiver_id__in=others)}


def task_payload(
    task: Task, *, language: str, weight_kg, today, facts=None, siblings: dict | None = None,
    tickers: dict[int, str] | None = None, health_facts: bool = True,
) -> dict:
    """A task as the phone shows it: texts in the patient's language, personal figures, its section.

    `facts` are the patient's (read from the task's case when not given): a step whose
    condition reads a fact not known yet is marked conditional. `tickers` name who ticked it
    off (see ticked_off_by; looked up when not given). Without `health_facts` (a caregiver
    the patient has not allowed them to) the step leaves out the patient's notes and answers,
    which facts it waits on, and figures worked out from their weight.
    """
    definition = task.definition
    unknown = schedule.unknown_facts(definition.applies_if, task.checklist.case.patient.facts if facts is None else facts)
    texts = definition_texts(definition, language)
    answers = task.answers or {}
    group = schedule.group_key(status=task.status, due_date=task.due_date, today=today)
    if tickers is None:
        tickers = ticked_off_by(task.checklist.case.patient, [task])
    if not health_facts:
        answers, weight_kg, unknown = {}, None, []
    return {
        "id": task.id,
        "key": definition.key,
        "category": definition.category,
        "category_label": texts["category_label"],
        "phase": definition.phase,
        "title": texts["title"],
        "instructions": texts["instructions"],
        "why": texts["why"],
        "source_section": definition.source_section,
        "due_date": task.due_date,
        "window_start": task.window_start,
        "window_end": task.window_end,
        "days_until_due": (task.due_date - today).days,
        "weeks_until_due": schedule.week_label_start(task.due_date, today),
        "late": task.late,
        "start_now": schedule.is_start_now(
            status=task.status, due_date=task.due_date, window_start=task.window_start,
            offset_days=definition.offset_days, window_start_days=definition.window_start_days, today=today,
        ),
        "not_enough_time": lacks_time_now(task, task.checklist.case.surgery_date, today),
        "min_lead_days": definition.min_lead_days,
        "lead_reason": texts["lead_reason"],
        "group": group,
        "status": task.status,
        "completed_at": task.completed_at,
        "ticked_off_by": tickers.get(task.completed_by_id) if task.status == Task.Status.DONE else None,
        "note": task.note if health_facts else "",
        "sub_items": [{**item, "answer": answers.get(item["key"], "")} for item in texts["sub_items"]],
        "targets": definition_targets(definition, language, weight_kg),
        "conditional": bool(unknown),
        "conditional_on": [{"fact": name, "applies_when": bool(definition.applies_if[name])} for name in unknown],
        "stop_today": task.says_stop_today(today),
        "stop_today_text": texts["stop_today"],
        # Only the few steps that show another's answers cost a query (Task.shown_answers).
        "shown_answers": (
            task.shown_answers(language, siblings=siblings) if definition.shows_answers_of and health_facts else []
        ),
    }


def stage_payload(version: ProtocolVersion, stage: dict, language: str) -> dict:
    return {
        "key": stage["key"],
        "label": version.localized_stage(stage, language),
        "start_day": stage["start_day"],
        "end_day": stage["end_day"],
    }


def case_payload(case: SurgeryCase, today, *, language: str = "", version: ProtocolVersion | None = None) -> dict:
    """The surgery as the patient sees it: before it, the countdown; after it, where the recovery is.

    With the checklist's protocol version, the procedure is in the patient's language and the
    recovery stage is the protocol's.
    """
    phase = schedule.case_phase(status=case.status, surgery_date=case.surgery_date, today=today)
    days_after = week = stage = None
    if phase == schedule.RECOVERY:
        days_after = max(0, (today - case.surgery_date).days)
        week = schedule.recovery_week(days_after)
        found = schedule.current_stage(version.recovery_stages, days_after) if version else None
        stage = stage_payload(version, found, language) if found else None
    return {
        "id": case.id,
        "procedure": version.procedure_for(case.procedure, language) if version else case.procedure,
        "surgeon": case.surgeon,
        "approach": case.approach or None,
        "level": case.level or None,
        "surgery_date": case.surgery_date,
        "surgery_time": case.surgery_time,
        "arrival_time": case.arrival_time,
        "status": case.status,
        "days_to_surgery": (case.surgery_date - today).days,
        "phase": phase,
        "days_after_surgery": days_after,
        "recovery_week": week,
        "recovery_stage": stage,
    }


def protocol_payload(version: ProtocolVersion, language: str) -> dict:
    protocol = version.protocol
    return {
        "key": protocol.key,
        "name": protocol.name,
        "version": version.number,
        "procedure": version.localized_procedure(language),
        "preparation_weeks": version.preparation_weeks or None,
        "summary": version.localized_summary(language),
        "recovery_stages": [stage_payload(version, stage, language) for stage in version.recovery_stages],
    }


def checklist_tasks(checklist: Checklist) -> list[Task]:
    """The checklist's tasks with their definitions, in one query (definitions from the version's cache)."""
    tasks = list(Task.objects.filter(checklist=checklist))
    definitions = version_definitions(checklist.protocol_version, {t.definition_id for t in tasks})
    for task in tasks:
        Task.definition.field.set_cached_value(task, definitions[task.definition_id])
        Task.checklist.field.set_cached_value(task, checklist)
    return tasks


def checklist_payload(checklist: Checklist, *, language: str, health_facts: bool = True) -> dict:
    """The whole checklist grouped for a phone: overdue, this week, coming up, done.

    Reads the tasks in one query, whatever their number; the steps' texts come from the
    protocol version's cache. Without `health_facts`, as a caregiver may be shown it (see task_payload).
    """
    case = checklist.case
    patient = case.patient
    today = patient.local_today()
    tasks = checklist_tasks(checklist)
    grouped = schedule.group_tasks(tasks, today)
    # A step that shows another's answers finds it here, not with a query of its own.
    siblings = {t.definition.key: t for t in sorted(tasks, key=lambda t: t.id, reverse=True)}
    tickers = ticked_off_by(patient, tasks)
    payload = {
        name: [task_payload(t, language=language, weight_kg=patient.weight_kg, today=today, facts=patient.facts,
                            siblings=siblings, tickers=tickers, health_facts=health_facts)
               for t in items]
        for name, items in grouped.items()
    }
    version = checklist.protocol_version
    return {
        "id": checklist.id,
        "today": today,
        "time_zone": patient.time_zone,
        "case": case_payload(case, today, language=language, version=version),
        "protocol": protocol_payload(version, language),
        "counts": {
            "total": len(tasks),
            "done": len(grouped["done"]),
            "overdue": len(grouped["overdue"]),
            "this_week": len(grouped["this_week"]),
            "not_enough_time": sum(lacks_time_now(t, case.surgery_date, today) for t in tasks),
        },
        "groups": payload,
    }
