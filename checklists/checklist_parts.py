"""The patient's checklist in two parts, so that a phone downloads the long texts once.

- The texts (`checklist_texts`): everything a protocol version says in a language — the steps'
  titles, instructions, reasons, sub-items' questions, the targets' labels, the stop-today
  words, the protocol's summary and recovery stages. They depend on the version and the language
  only (no patient's fact chooses among them: the facts decide which steps are on a checklist and
  whether one is conditional, and both are in the state), so one copy serves every patient on
  that version. A published version never changes, so they are kept per process.
- The state (`checklist_state`): what is the patient's own — dates, statuses, answers, notes,
  the figures worked out from their weight, who ticked a step off, the case, the counts. Small,
  and revalidated with the checklist's validator.

Joined (a step's state with its definition's texts, by the step's key) they are the combined
answer of checklists.payloads.checklist_payload, field for field; tests/test_checklist_parts.py
checks that.
"""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation

from checklists import schedule
from checklists.models import Checklist, ProtocolVersion, Task, TaskDefinition
from checklists.payloads import (
    case_payload,
    checklist_tasks,
    definition_targets,
    definition_texts,
    is_frozen,
    lacks_time_now,
    protocol_payload,
    ticked_off_by,
    version_definitions,
)
from prepapp.lib.lru import LRU

_kept_texts = LRU(64)

# A step's state leaves out each of these fields while it has this value (the phone puts it back).
STATE_DEFAULTS = {
    "window_start": None, "window_end": None, "late": False, "start_now": False, "not_enough_time": False,
    "completed_at": None, "ticked_off_by": None, "note": "", "answers": {}, "targets": [], "conditional": False,
    "conditional_on": [], "stop_today": False, "shown_answers": [],
}


def step_texts(definition: TaskDefinition, language: str) -> dict:
    """One step's words in the language: what task_payload shows that is the same for every patient."""
    texts = definition_texts(definition, language)
    labels = definition.translations.get(language, {}).get("targets", {})
    return {
        "key": definition.key,
        "category": definition.category,
        "category_label": texts["category_label"],
        "phase": definition.phase,
        "title": texts["title"],
        "instructions": texts["instructions"],
        "why": texts["why"],
        "source_section": definition.source_section,
        "min_lead_days": definition.min_lead_days,
        "lead_reason": texts["lead_reason"],
        "stop_today_text": texts["stop_today"],
        "sub_items": [{"key": item["key"], "text": item["text"]} for item in texts["sub_items"]],
        "target_labels": {
            target.key: target.label for target in schedule.compute_targets(definition.targets, None, labels)
        },
    }


def checklist_texts(version: ProtocolVersion, language: str) -> dict:
    """The version's words in the language, its steps by key (kept per process when published).

    Category names are in the language active now: the view makes it the one asked for.
    """
    key = (version.id, version.content_hash, language, translation.get_language())
    kept = _kept_texts.get(key) if is_frozen(version) else None
    if kept is None:
        definitions = sorted(version_definitions(version).values(), key=lambda d: d.key)
        kept = {
            "language": language,
            "protocol": protocol_payload(version, language),
            "steps": {d.key: step_texts(d, language) for d in definitions},
        }
        if is_frozen(version):
            _kept_texts.put(key, kept)
    return kept


def texts_digest(version: ProtocolVersion, language: str) -> str:
    """What the version's texts in the language are: its content hash when published, else a digest of them.

    A draft's steps can change under the same id; its digest is of the words themselves, so a
    changed draft gets a new address and a phone never keeps an old copy under the new one.
    """
    if is_frozen(version):
        return version.content_hash
    body = json.dumps(checklist_texts(version, language), sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def task_state(
    task: Task, *, language: str, weight_kg, today, facts, siblings: dict | None, tickers: dict[int, str],
    health_facts: bool = True,
) -> dict:
    """A step's own state: task_payload without the words its definition has for everyone."""
    definition = task.definition
    unknown = schedule.unknown_facts(definition.applies_if, facts)
    answers = task.answers or {}
    if not health_facts:
        answers, weight_kg, unknown = {}, None, []
    targets = definition_targets(definition, language, weight_kg)
    for target in targets:
        del target["label"]
    state = {
        "id": task.id,
        "key": definition.key,
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
        "group": schedule.group_key(status=task.status, due_date=task.due_date, today=today),
        "status": task.status,
        "completed_at": task.completed_at,
        "ticked_off_by": tickers.get(task.completed_by_id) if task.status == Task.Status.DONE else None,
        "note": task.note if health_facts else "",
        # Only the sub-items answered: the questions are in the texts, and most are blank.
        "answers": {item["key"]: answers[item["key"]] for item in definition.sub_items if answers.get(item["key"])},
        "targets": targets,
        "conditional": bool(unknown),
        "conditional_on": [{"fact": name, "applies_when": bool(definition.applies_if[name])} for name in unknown],
        "stop_today": task.says_stop_today(today),
        "shown_answers": (
            task.shown_answers(language, siblings=siblings) if definition.shows_answers_of and health_facts else []
        ),
    }
    # Most steps are open, on time, unanswered: a field at its usual value is left out (STATE_DEFAULTS).
    return {name: value for name, value in state.items() if name not in STATE_DEFAULTS or value != STATE_DEFAULTS[name]}


def checklist_state(checklist: Checklist, *, language: str, texts_url: str, health_facts: bool = True) -> dict:
    """The patient's own part of the checklist, grouped as checklist_payload groups it; `texts_url` names the words."""
    case = checklist.case
    patient = case.patient
    today = patient.local_today()
    tasks = checklist_tasks(checklist)
    grouped = schedule.group_tasks(tasks, today)
    siblings = {t.definition.key: t for t in sorted(tasks, key=lambda t: t.id, reverse=True)}
    tickers = ticked_off_by(patient, tasks)
    version = checklist.protocol_version
    return {
        "id": checklist.id,
        "today": today,
        "time_zone": patient.time_zone,
        "texts_url": texts_url,
        "protocol": {"key": version.protocol.key, "version": version.number},
        "case": case_payload(case, today, language=language, version=version),
        "counts": {
            "total": len(tasks),
            "done": len(grouped["done"]),
            "overdue": len(grouped["overdue"]),
            "this_week": len(grouped["this_week"]),
            "not_enough_time": sum(lacks_time_now(t, case.surgery_date, today) for t in tasks),
        },
        "groups": {
            name: [task_state(t, language=language, weight_kg=patient.weight_kg, today=today, facts=patient.facts,
                              siblings=siblings, tickers=tickers, health_facts=health_facts) for t in items]
            for name, items in grouped.items()
        },
    }


def join_parts(state: dict, texts: dict) -> dict:
    """The combined answer from the two parts, as the phone joins them (used by the tests to compare)."""
    def task(item: dict) -> dict:
        item = {**STATE_DEFAULTS, **item}
        words = texts["steps"][item["key"]]
        answers = item["answers"]
        return {
            **{k: v for k, v in item.items() if k != "answers"},
            **{k: v for k, v in words.items() if k not in ("sub_items", "target_labels")},
            "sub_items": [{**sub, "answer": answers.get(sub["key"], "")} for sub in words["sub_items"]],
            "targets": [{**t, "label": words["target_labels"].get(t["key"], t["key"])} for t in item["targets"]],
        }
    return {
        **{k: v for k, v in state.items() if k not in ("texts_url", "groups", "protocol")},
        "protocol": texts["protocol"],
        "groups": {name: [task(item) for item in items] for name, items in state["groups"].items()},
    }
