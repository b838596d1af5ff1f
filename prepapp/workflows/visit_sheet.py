"""The visit sheet: what the patient takes to the pre-operative visit, as print-ready HTML and as a PDF (WeasyPrint).

One page of data read afresh (the patient's name and surgery, the questions for the surgeon
with the patient's own notes and room for the answers, what is done and still open, the
blood thinner plan, the rules after surgery, the care team's numbers), one template, two
outputs: the HTML prints from a browser, the PDF is made from the same HTML.
"""

from __future__ import annotations

from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation
from weasyprint import HTML

from checklists import schedule
from checklists.models import Checklist, RuleLift, Task
from checklists.safety import rule_dates
from prepapp.models import Patient
from prepapp.selectors import case_current
from prepapp.workflows.safety_payload import care_team

QUESTIONS_STEP = "surgeon-questions"
BLOOD_THINNER_STEP = "blood-thinner-plan"
PAPERS = ("a4", "letter")


def default_paper(patient: Patient) -> str:
    """Letter in the Americas, where it is the paper in the printer; A4 elsewhere."""
    return "letter" if patient.time_zone.startswith("America/") else "a4"


def _answered(task: Task | None, language: str) -> list[dict]:
    if task is None:
        return []
    answers = task.answers or {}
    return [{"text": item["text"], "answer": answers.get(item["key"], "")}
            for item in task.definition.localized(language)["sub_items"]]


def visit_sheet(patient: Patient, *, language: str, now: datetime | None = None) -> dict:
    """The sheet's content for the patient's current surgery, texts in the language."""
    case = case_current(patient)
    checklist = Checklist.objects.filter(case=case).select_related("protocol_version__protocol").first() if case else None
    tasks = list(checklist.tasks.select_related("definition").order_by("due_date", "position")) if checklist else []
    by_key = {task.definition.key: task for task in tasks}
    preparation = [t for t in tasks if t.definition.phase == schedule.PREPARATION]
    rules = []
    if checklist is not None:
        version = checklist.protocol_version
        lifted = set(RuleLift.objects.filter(case=case).values_list("rule_key", flat=True))
        for rule in version.rules or []:
            if rule["key"] in lifted or not schedule.applies(rule.get("applies_if") or {}, patient.facts):
                continue
            start, end = rule_dates(rule, case.surgery_date)
            if end is not None and end < case.surgery_date:
                continue  # over before the surgery: not one to follow after it
            texts = version.localized_rule(rule, language)
            rules.append({"title": texts["title"], "text": texts["text"], "start": start, "end": end,
                          "source": rule["source_section"]})
    questions = by_key.get(QUESTIONS_STEP)
    return {
        "patient": patient,
        "case": case,
        "procedure": checklist.protocol_version.procedure_for(case.procedure, language) if checklist else (
            case.procedure if case else ""),
        "questions": _answered(questions, language),
        "questions_note": questions.note if questions else "",
        "done": [{"title": t.definition.localized(language)["title"], "on": t.completed_at} for t in preparation
                 if t.status == Task.Status.DONE],
        "open": [{"title": t.definition.localized(language)["title"], "due": t.due_date} for t in preparation
                 if t.status == Task.Status.OPEN],
        "blood_thinner": _answered(by_key.get(BLOOD_THINNER_STEP), language),
        "blood_thinner_step": BLOOD_THINNER_STEP in by_key,
        "rules": rules,
        "care_team": care_team(patient),
        "printed_on": patient.local_today(now or timezone.now()),
    }


def visit_sheet_html(patient: Patient, *, language: str, paper: str, now: datetime | None = None,
                     page: dict | None = None) -> str:
    """The sheet as HTML. `page` (nonce, pdf_url, print_script, back_url) adds the print and PDF
    buttons for a browser; the PDF is made without it."""
    with translation.override(language):
        return render_to_string("prepapp/visit_sheet.html", {
            **visit_sheet(patient, language=language, now=now), "paper": paper, "language": language, "page": page,
        })


def visit_sheet_pdf(patient: Patient, *, language: str, paper: str, now: datetime | None = None) -> bytes:
    """The same page as a PDF. It is built from our own template alone: nothing is fetched from elsewhere."""
    html = visit_sheet_html(patient, language=language, paper=paper, now=now)
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def _no_fetching(url, *args, **kwargs):
    raise ValueError(f"The visit sheet fetches nothing: {url}")
