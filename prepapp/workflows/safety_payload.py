"""What the safety net shows: the patient's card (rules, signs, the day of surgery, the check-in) and the care team's view.

Plain data built from checklists.safety's pure functions and the records; the API's
serializers describe it and views only pass it on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from checklists import safety, schedule
from checklists.models import CheckIn, Checklist, ProtocolVersion, RuleLift, Task
from prepapp.models import Organization, Patient, SurgeryCase
from prepapp.selectors import case_current

# A rule's end (or its lift) is announced for this many days after it.
ENDED_SHOWN_DAYS = 7
# The warning signs stay on the home screen for the first two weeks after surgery.
SIGNS_ON_HOME_UNTIL_DAY = 14
# The day-of card (fasting, arrival) shows from this many days before the surgery day.
DAY_OF_FROM_DAYS = 2
RESTART_STEP = "restart-blood-thinner"
PAIN_QUESTIONS = {"back_pain": "back-pain", "leg_pain": "leg-pain"}


def organization_of(patient: Patient) -> Organization:
    # Read afresh: the patient a request's user came with may hold an older copy of the clinic's numbers.
    return Organization.objects.get(pk=patient.organization_id)


def care_team(patient: Patient, organization: Organization | None = None) -> dict:
    organization = organization or organization_of(patient)
    return {
        "organization": organization.name,
        "phone": organization.care_team_phone,
        "after_hours_phone": organization.after_hours_phone,
        "emergency_number": organization.emergency_number,
        "check_in_hours": organization.check_in_hours,
    }


def general_version(patient: Patient) -> ProtocolVersion | None:
    """The newest published protocol the patient's organization may use: its general signs, before any surgery."""
    return (
        ProtocolVersion.objects.filter(published_at__isnull=False)
        .filter(Q(protocol__organization__isnull=True) | Q(protocol__organization_id=patient.organization_id))
        .order_by("-published_at", "-id").first()
    )


def _context(patient: Patient, now: datetime | None):
    case = case_current(patient)
    checklist = Checklist.objects.filter(case=case).select_related("protocol_version").first() if case else None
    today = patient.local_today(now)
    phase = schedule.case_phase(status=case.status, surgery_date=case.surgery_date, today=today) if case else None
    return case, (checklist.protocol_version if checklist else None), today, phase


def lifts_of(case: SurgeryCase | None) -> dict[str, RuleLift]:
    if case is None:
        return {}
    return {lift.rule_key: lift for lift in RuleLift.objects.filter(case=case).select_related("lifted_by")}


def rules_ended(version, *, case, today: date, facts, lifts: dict, zone: ZoneInfo, language: str) -> list[dict]:
    """Rules that ended (their last day) or were lifted (that day) within the last week: their end is announced."""
    ended = []
    for rule in version.rules or []:
        if not schedule.applies(rule.get("applies_if") or {}, facts):
            continue
        start, end = safety.rule_dates(rule, case.surgery_date)
        if rule["key"] in lifts:
            ended_on = lifts[rule["key"]].lifted_at.astimezone(zone).date()
            if not 0 <= (today - ended_on).days <= ENDED_SHOWN_DAYS:
                continue
        elif end is not None and 0 < (today - end).days <= ENDED_SHOWN_DAYS:
            ended_on = end
        else:
            continue
        ended.append({"key": rule["key"], "title": version.localized_rule(rule, language)["title"], "ended_on": ended_on})
    return ended


def day_of(case: SurgeryCase, patient: Patient, today: date) -> dict | None:
    """The day-of card from two days before the surgery until the surgery day, else None."""
    if not 0 <= (case.surgery_date - today).days <= DAY_OF_FROM_DAYS:
        return None
    organization = organization_of(patient)
    food, fluids = safety.fasting_cutoffs(
        case.surgery_date, case.arrival_time or case.surgery_time, food_hours=organization.food_cutoff_hours,
        fluids_hours=organization.clear_fluids_cutoff_hours, zone=patient.zone,
    )
    return {
        "surgery_date": case.surgery_date, "surgery_time": case.surgery_time, "arrival_time": case.arrival_time,
        "food_until": food, "clear_fluids_until": fluids,
        "food_cutoff_hours": organization.food_cutoff_hours,
        "clear_fluids_cutoff_hours": organization.clear_fluids_cutoff_hours,
        "rule_confirmed": organization.fasting_rule_confirmed,
    }


def check_in_state(case: SurgeryCase | None, today: date, phase: str | None) -> dict:
    if case is None or phase is None:
        return {"due_today": False, "done_today": False, "day": None, "next_day": None}
    day = (today - case.surgery_date).days if phase == schedule.RECOVERY else None
    due = phase == schedule.RECOVERY and safety.check_in_due(case.surgery_date, today)
    done = day is not None and CheckIn.objects.filter(case=case, day=max(day, 0)).exists()
    upcoming = safety.next_check_in(case.surgery_date, today + timedelta(days=1))
    return {
        "due_today": due, "done_today": done, "day": day,
        "next_day": (upcoming - case.surgery_date).days if upcoming else None,
    }


def patient_safety(patient: Patient, *, language: str, now: datetime | None = None) -> dict:
    """GET me/safety/: the patient's safety card today, texts in the language."""
    case, version, today, phase = _context(patient, now)
    days_after = max(0, (today - case.surgery_date).days) if phase == schedule.RECOVERY else None
    rules, ended, signs, card = [], [], [], None
    if version is not None and phase is not None:
        lifts = lifts_of(case)
        rules = safety.rules_in_force(version, surgery_date=case.surgery_date, today=today, facts=patient.facts,
                                      lifted_keys=lifts, language=language)
        ended = rules_ended(version, case=case, today=today, facts=patient.facts, lifts=lifts, zone=patient.zone,
                            language=language)
    signs_from = version or general_version(patient)
    if signs_from is not None:
        signs = safety.warning_signs(signs_from, phase=phase or schedule.PREPARATION, language=language)
    if case is not None and phase == schedule.PREPARATION:
        card = day_of(case, patient, today)
    return {
        "phase": phase, "today": today, "days_after_surgery": days_after, "care_team": care_team(patient),
        "rules": rules, "rules_ended": ended, "warning_signs": signs,
        "show_signs_on_home": days_after is not None and days_after <= SIGNS_ON_HOME_UNTIL_DAY,
        "day_of": card, "check_in": check_in_state(case, today, phase),
    }


def check_in_form(patient: Patient, *, language: str, now: datetime | None = None) -> dict:
    """GET me/check-ins/: the questions in the language, whether one is due, and the patient's history."""
    case, version, today, phase = _context(patient, now)
    texts = version.localized_check_in(language) if version else {"intro": "", "all_clear": ""}
    questions = [
        {"key": q["key"], "kind": q["kind"], "text": q["text"], "min": q.get("min"), "max": q.get("max"),
         "options": [{"key": o["key"], "text": o["text"]} for o in q.get("options", [])]}
        for q in (safety.check_in_questions(version, language) if version else [])
    ]
    state = check_in_state(case, today, phase)
    history = [
        {"id": c.id, "day": c.day, "answered_at": c.answered_at, "urgency": c.urgency, "answers": c.answers}
        for c in CheckIn.objects.filter(patient=patient).order_by("-answered_at", "-id")
    ]
    return {**texts, "questions": questions, "due_today": state["due_today"], "day": state["day"],
            "history": history}


# --- The care team's view --------------------------------------------------------------------


def staff_rule(rule: dict, lift: RuleLift | None) -> dict:
    return {
        **rule,
        "lifted": lift is not None,
        "lifted_by": (lift.lifted_by.get_username() if lift and lift.lifted_by_id else None),
        "lifted_at": lift.lifted_at if lift else None,
        "can_lift": bool(rule["until_lifted"]) and lift is None,
    }


def staff_rules(patient: Patient, *, case, version, today, language: str = "") -> list[dict]:
    """The rules in force today, with those the care team lifted (marked, so they can be reinstated)."""
    if case is None or version is None:
        return []
    lifts = lifts_of(case)
    shown = safety.rules_in_force(version, surgery_date=case.surgery_date, today=today, facts=patient.facts,
                                  language=language)
    return [staff_rule(rule, lifts.get(rule["key"])) for rule in shown]


def staff_rule_payload(patient: Patient, case: SurgeryCase, rule_key: str) -> dict | None:
    """One rule as the care team sees it after a lift or reinstatement (None when not in force today)."""
    version = Checklist.objects.select_related("protocol_version").get(case=case).protocol_version
    rules = staff_rules(patient, case=case, version=version, today=patient.local_today())
    return next((rule for rule in rules if rule["key"] == rule_key), None)


def check_in_read(check_in: CheckIn, version) -> dict:
    """A check-in's answers and matched signs in words, for the care team (the protocol's base language)."""
    questions = {q["key"]: q for q in safety.check_in_questions(version)} if version is not None else {}
    signs = {s["key"]: s for s in (version.warning_signs or {}).get("signs", [])} if version is not None else {}
    answers = []
    for key in [*questions, *(k for k in check_in.answers if k not in questions)]:
        if key not in check_in.answers:
            continue
        value, question = check_in.answers[key], questions.get(key)
        if question is None:
            answers.append({"key": key, "question": key, "answer": str(value)})
            continue
        if question["kind"] == "scale":
            answer = f"{value} / {question['max']}"
        else:
            answer = next((o["text"] for o in question["options"] if o["key"] == value), str(value))
        answers.append({"key": key, "question": question["text"], "answer": answer})
    flags = [version.localized_warning_sign(signs[k], "") if k in signs else k for k in check_in.red_flags]
    return {"answers_read": answers, "red_flags_read": flags}


def staff_safety(patient: Patient, *, now: datetime | None = None) -> dict:
    """GET patients/{id}/safety/: rules with their lifts, check-ins, the pain trend, the blood thinner restart."""
    case, version, today, _phase = _context(patient, now)
    check_ins = list(CheckIn.objects.filter(patient=patient).order_by("-answered_at", "-id"))
    latest_by_day: dict[int, CheckIn] = {}
    for check_in in reversed(check_ins):  # oldest first: the last one of a day wins
        latest_by_day[check_in.day] = check_in
    trend = [
        {"day": day, **{field: latest_by_day[day].answers.get(key) for field, key in PAIN_QUESTIONS.items()}}
        for day in sorted(latest_by_day)
    ]
    restart = None
    if case is not None:
        task = Task.objects.filter(checklist__case=case, definition__key=RESTART_STEP).first()
        if task is not None:
            restart = {"due_date": task.due_date, "status": task.status, "confirmed_at": task.completed_at}
    return {
        "rules": staff_rules(patient, case=case, version=version, today=today),
        "check_ins": [
            {"id": c.id, "day": c.day, "answered_at": c.answered_at, "urgency": c.urgency, "red_flags": c.red_flags,
             "answers": c.answers, **check_in_read(c, version)}
            for c in check_ins
        ],
        "pain_trend": trend,
        "blood_thinner_restart": restart,
    }
