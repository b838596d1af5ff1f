"""Ticking a step off and undoing it; its reminders follow.

A tick is the patient's most frequent write: it locks the step, writes its three tick columns,
and changes in the outbox only what this step's tick can change (planning.replan_after_tick).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from checklists import services as checklist_services
from checklists.models import Task
from prepapp.reminders import planning


@transaction.atomic
def task_complete(*, task: Task, by, now: datetime | None = None) -> Task:
    """Tick a step off and cancel its pending reminders. Ticking a done step again changes nothing."""
    now = now or timezone.now()
    task, changed = checklist_services.task_mark_done(task=task, by=by, now=now)
    if changed:
        planning.replan_after_tick(task=task, patient=task.checklist.case.patient, done=True, now=now)
    return task


@transaction.atomic
def task_reopen(*, task: Task, by, now: datetime | None = None) -> Task:
    """Undo a tick: the step is open again and its future reminders are planned again."""
    now = now or timezone.now()
    task, changed = checklist_services.task_mark_open(task=task, by=by)
    if changed:
        planning.replan_after_tick(task=task, patient=task.checklist.case.patient, done=False, now=now)
    return task
