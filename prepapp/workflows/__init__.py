"""Workflows: the verbs that span the care records, the checklists and the reminder engine.

Booking, moving, cancelling a surgery and marking it done, assigning its checklist, ticking
steps off, changing facts and reminder preferences each move more than one layer at once: the
case, the checklist's dates and the outbox must agree when the transaction commits. They live
here, above all three layers, so that the layers below never import upward. Each verb runs in
one transaction and writes its audit entry inside it; views, admin actions, management
commands and Celery tasks call these. This package is their one door.
"""

from prepapp.workflows.assignment import checklist_assign, checklists_assign_bulk
from prepapp.workflows.cases import (
    MAX_DAYS_AHEAD,
    case_book,
    case_cancel,
    case_complete,
    case_describe,
    case_reschedule,
    cases_reschedule_bulk,
)
from prepapp.workflows.facts import FACT_ANSWERS, FactsUpdate, facts_change_texts, patient_update_facts
from prepapp.workflows.patients import REPLANNING_FIELDS, patient_set_status, patient_update
from prepapp.workflows.steps import task_complete, task_reopen

__all__ = [
    "MAX_DAYS_AHEAD", "REPLANNING_FIELDS", "FACT_ANSWERS", "FactsUpdate",
    "case_book", "case_cancel", "case_complete", "case_describe", "case_reschedule", "cases_reschedule_bulk",
    "checklist_assign", "checklists_assign_bulk", "facts_change_texts", "patient_set_status",
    "patient_update", "patient_update_facts", "task_complete", "task_reopen",
]
