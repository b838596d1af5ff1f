"""One roster row as the API, the pages and the CSV download show it: where the patient is on the journey, and the cells of the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

from django.utils import translation

from checklists import schedule
from prepapp.models import Patient


def days_to_surgery(row: Patient) -> int | None:
    """Whole days from the patient's today to the scheduled surgery (None without one, or once its day has passed)."""
    return row.until_surgery.days if row.until_surgery is not None else None


def where_is(row: Patient, language: str) -> dict:
    """Where the patient is on the surgical journey: preparing (days to go) or recovering (week, stage)."""
    found = {"phase": None, "days_after_surgery": None, "recovery_week": None, "recovery_stage": None}
    if row.case_id is None:
        return found
    phase = schedule.case_phase(status=row.case_status, surgery_date=row.case_date, today=row.local_today)
    found["phase"] = phase
    if phase == schedule.RECOVERY:
        day = max(0, (row.local_today - row.case_date).days)
        found["days_after_surgery"] = day
        found["recovery_week"] = schedule.recovery_week(day)
        stage = schedule.current_stage(row.recovery_stages or [], day)
        if stage:
            label = stage.get("translations", {}).get(language, {}).get("label") or stage["label"]
            found["recovery_stage"] = {"key": stage["key"], "label": label}
    return found


def row_payload(row: Patient, language: str | None = None) -> dict:
    """One roster row as the API and the page show it; stage names in `language` (default: the active one)."""
    language = (language or translation.get_language() or "en").split("-")[0]
    case = None
    if row.case_id is not None:
        case = {
            "id": row.case_id,
            "surgery_date": row.case_date,
            "status": row.case_status,
            "procedure": row.case_procedure,
            "surgeon": row.case_surgeon,
        }
    return {
        "id": row.pk,
        "full_name": row.full_name,
        "status": row.status,
        "organization": row.organization_slug,
        "time_zone": row.time_zone,
        "today": row.local_today,
        "case": case,
        "days_to_surgery": days_to_surgery(row),
        "tasks_total": row.tasks_total,
        "tasks_done": row.tasks_done,
        "share_done": round(row.share_done, 4) if row.share_done is not None else None,
        "overdue": row.overdue,
        "late": row.late,
        "not_enough_time": row.not_enough_time,
        **where_is(row, language),
        "unread": row.unread,
        "failed_deliveries": row.failed_deliveries,
        "open_alerts": row.open_alerts,
        "invitation_accepted": row.invitation_accepted_at is not None,
        "invitation_accepted_at": row.invitation_accepted_at,
    }




# --- CSV ------------------------------------------------------------------------------------

# The export's columns: (heading, value from a row_payload). New roster figures add a column here.
CSV_COLUMNS = [
    ("patient_id", lambda r: r["id"]),
    ("full_name", lambda r: r["full_name"]),
    ("status", lambda r: r["status"]),
    ("time_zone", lambda r: r["time_zone"]),
    ("procedure", lambda r: r["case"]["procedure"] if r["case"] else None),
    ("surgeon", lambda r: r["case"]["surgeon"] if r["case"] else None),
    ("surgery_date", lambda r: r["case"]["surgery_date"] if r["case"] else None),
    ("surgery_status", lambda r: r["case"]["status"] if r["case"] else None),
    ("days_to_surgery", lambda r: r["days_to_surgery"]),
    ("steps_done", lambda r: r["tasks_done"]),
    ("steps_total", lambda r: r["tasks_total"]),
    ("overdue", lambda r: r["overdue"]),
    ("late", lambda r: r["late"]),
    ("not_enough_time", lambda r: r["not_enough_time"]),
    ("phase", lambda r: r["phase"]),
    ("recovery_week", lambda r: r["recovery_week"]),
    ("recovery_stage", lambda r: r["recovery_stage"]["label"] if r["recovery_stage"] else None),
    ("unread", lambda r: r["unread"]),
    ("failed_deliveries", lambda r: r["failed_deliveries"]),
    ("signed_in", lambda r: r["invitation_accepted"]),
]

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int:
    """One value as a CSV cell: text that a spreadsheet would run as a formula gets a leading quote.

    Numbers the roster computes stay numbers; every text (names, procedures, surgeons, typed
    by people) is checked.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    text = value.isoformat() if isinstance(value, date) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def roster_csv(payloads) -> str:
    """The roster rows (row_payload dicts) as CSV text, with a header line; UTF-8 with a BOM for spreadsheets."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for name, _ in CSV_COLUMNS])
    for row in payloads:
        writer.writerow([csv_cell(value(row)) for _, value in CSV_COLUMNS])
    return out.getvalue()
