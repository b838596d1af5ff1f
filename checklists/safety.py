"""The safety net at home, worked out for one patient: rules in force, warning signs, the check-in.

Pure functions, like `schedule`: no database, no clock. Callers pass the protocol version
(anything with the ProtocolVersion fields `rules`, `warning_signs`, `check_in` and its
`localized_*` helpers), the patient's facts, and "today" as the calendar date in the
patient's own time zone. What the care team has lifted for the patient (`lifted_keys`) is
stored elsewhere and passed in.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from checklists import schedule

URGENCIES = ("emergency", "call_today", "before_surgery")  # most urgent first
PHASES = (schedule.PREPARATION, schedule.RECOVERY)

# A rule with an end date is "ending soon" in its last week (the end day included).
ENDING_SOON_DAYS = 7

# The check-in at home: every day for the first two weeks after surgery, then once a week
# (days 21, 28, 35, 42) to the end of week 6.
CHECK_IN_DAILY_UNTIL_DAY = 14
CHECK_IN_WEEKLY_UNTIL_DAY = 42


# --- Rules in force --------------------------------------------------------------------------


def rule_dates(rule: Mapping, surgery_date: date) -> tuple[date, date | None]:
    """A rule's first and last day as calendar dates; the last is None for a rule kept until lifted."""
    start = surgery_date + timedelta(days=rule["start"])
    end = None if rule.get("until_lifted") or rule.get("end") is None else surgery_date + timedelta(days=rule["end"])
    return start, end


def rules_in_force(
    version, *, surgery_date: date, today: date, facts: Mapping[str, bool | None], lifted_keys: Iterable[str] = (),
    language: str = "",
) -> list[dict]:
    """The rules the patient keeps to today, in the protocol's order, texts in the language.

    A rule is in force from its start day to its end day (both included), or from its start
    until the care team lifts it (its key in `lifted_keys`). Facts lean to safety as for the
    steps: a rule whose condition reads a fact not known yet is shown, marked conditional,
    and only a known fact that contradicts it leaves it out. Each rule comes as
    {"key", "title", "text", "source_section", "start_date", "end_date" (None until lifted),
    "until_lifted", "conditional", "conditional_on": [{"fact", "applies_when"}], "ending_soon"}.
    """
    lifted = set(lifted_keys)
    shown = []
    for rule in version.rules or []:
        conditions = rule.get("applies_if") or {}
        if rule["key"] in lifted or not schedule.applies(conditions, facts):
            continue
        start, end = rule_dates(rule, surgery_date)
        if today < start or (end is not None and today > end):
            continue
        unknown = schedule.unknown_facts(conditions, facts)
        texts = version.localized_rule(rule, language)
        shown.append({
            "key": rule["key"],
            "title": texts["title"],
            "text": texts["text"],
            "source_section": rule["source_section"],
            "start_date": start,
            "end_date": end,
            "until_lifted": end is None,
            "conditional": bool(unknown),
            "conditional_on": [{"fact": name, "applies_when": bool(conditions[name])} for name in unknown],
            "ending_soon": end is not None and (end - today).days < ENDING_SOON_DAYS,
        })
    return shown


def rule_change_days(version, *, surgery_date: date, facts: Mapping[str, bool | None]) -> set[date]:
    """The days the rules are said again: each recovery stage's first day, and the day after a rule ends.

    A rule kept until the care team lifts it has no such day here: its lift is announced
    on the day it happens (the caller knows the lifts).
    """
    days = {surgery_date + timedelta(days=stage["start_day"]) for stage in version.recovery_stages or []}
    for rule in version.rules or []:
        if not schedule.applies(rule.get("applies_if") or {}, facts):
            continue
        _, end = rule_dates(rule, surgery_date)
        if end is not None and end >= surgery_date:
            days.add(end + timedelta(days=1))
    return days


def stage_starting(version, *, surgery_date: date, day: date, language: str = "") -> str:
    """The label of the recovery stage whose first day is `day`, in the language, or ""."""
    for stage in version.recovery_stages or []:
        if surgery_date + timedelta(days=stage["start_day"]) == day:
            return version.localized_stage(stage, language)
    return ""


def rules_ended_before(version, *, surgery_date: date, day: date, facts: Mapping[str, bool | None],
                       language: str = "") -> list[dict]:
    """The rules whose last day was the day before `day`: [{"key", "title"}] in the language."""
    ended = []
    for rule in version.rules or []:
        if not schedule.applies(rule.get("applies_if") or {}, facts):
            continue
        _, end = rule_dates(rule, surgery_date)
        if end is not None and end + timedelta(days=1) == day:
            ended.append({"key": rule["key"], "title": version.localized_rule(rule, language)["title"]})
    return ended


# --- The day of surgery ----------------------------------------------------------------------


def fasting_cutoffs(surgery_date: date, reference: time | None, *, food_hours: int, fluids_hours: int,
                    zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The last moment for food and for clear fluids, where the patient lives; (None, None) with no time known.

    `reference` is the arrival time (or the surgery time when no arrival time is known).
    Counted in real hours (through UTC), so a night with a clock change still gives the full fast.
    """
    if reference is None:
        return None, None
    start = datetime.combine(surgery_date, reference, tzinfo=zone).astimezone(dt_timezone.utc)
    return ((start - timedelta(hours=food_hours)).astimezone(zone),
            (start - timedelta(hours=fluids_hours)).astimezone(zone))


# --- Warning signs ---------------------------------------------------------------------------


def warning_signs(version, *, phase: str, language: str = "") -> list[dict]:
    """The signs shown in a phase ("preparation" or "recovery"), grouped by urgency, most urgent first.

    [{"urgency", "action" (what to do, in the language), "signs": [{"key", "text", "source_section"}]}],
    only urgencies that have signs in the phase. A sign marked for both phases is in each.
    """
    if phase not in PHASES:
        raise ValueError(f"phase: {phase!r} is not one of {', '.join(PHASES)}")
    signs = (version.warning_signs or {}).get("signs", [])
    groups = []
    for urgency in URGENCIES:
        found = [
            {"key": s["key"], "text": version.localized_warning_sign(s, language),
             "source_section": s["source_section"]}
            for s in signs
            if s["urgency"] == urgency and s["phase"] in (phase, "both")
        ]
        if found:
            groups.append({"urgency": urgency, "action": version.localized_urgency(urgency, language), "signs": found})
    return groups


# --- The check-in at home --------------------------------------------------------------------


def check_in_due(surgery_date: date, today: date) -> bool:
    """Whether the patient is asked to check in today: daily on days 1 to 14, then on days 21, 28, 35 and 42."""
    day = (today - surgery_date).days
    if 1 <= day <= CHECK_IN_DAILY_UNTIL_DAY:
        return True
    return CHECK_IN_DAILY_UNTIL_DAY < day <= CHECK_IN_WEEKLY_UNTIL_DAY and day % 7 == 0


def next_check_in(surgery_date: date, today: date) -> date | None:
    """The first day from today (included) on which a check-in is due, or None once they are over."""
    day = max((today - surgery_date).days, 1)
    while day <= CHECK_IN_WEEKLY_UNTIL_DAY:
        if check_in_due(surgery_date, surgery_date + timedelta(days=day)):
            return surgery_date + timedelta(days=day)
        day += 1
    return None


def _sign_urgencies(version) -> dict[str, str]:
    return {s["key"]: s["urgency"] for s in (version.warning_signs or {}).get("signs", [])}


def _top_urgency(keys: Iterable[str], urgency_of: Mapping[str, str]) -> str | None:
    ranks = [URGENCIES.index(urgency_of[k]) for k in keys if k in urgency_of]
    return URGENCIES[min(ranks)] if ranks else None


def check_in_questions(version, language: str = "") -> list[dict]:
    """The check-in's questions in the language, in order.

    [{"key", "kind": "scale"|"choice", "text", "min", "max" (scale), "options" (choice):
    [{"key", "text", "signs": [sign keys], "urgency": the most urgent of them, or None}]}].
    """
    urgency_of = _sign_urgencies(version)
    questions = []
    for question in (version.check_in or {}).get("questions", []):
        texts = version.localized_question(question, language)
        shown = {"key": question["key"], "kind": question["kind"], "text": texts["text"]}
        if question["kind"] == "scale":
            shown.update(min=question["min"], max=question["max"])
        else:
            shown["options"] = [
                {"key": o["key"], "text": texts["options"][o["key"]], "signs": list(o.get("signs", [])),
                 "urgency": _top_urgency(o.get("signs", []), urgency_of)}
                for o in question["options"]
            ]
        questions.append(shown)
    return questions


def check_in_red_flags(version, answers: Mapping) -> list[tuple[str, str]]:
    """The warning signs a check-in's answers match, as (sign key, urgency), most urgent first.

    `answers` maps question keys to an option key (choice) or a whole number (scale); a
    question left out is simply not answered. Anything else is refused with a ValueError that
    names the field: an unknown question, an option the question does not have, a number off
    its scale. Each sign is listed once, in the order of the questions within an urgency.
    """
    if not isinstance(answers, Mapping):
        raise ValueError("answers: must be a mapping of question: answer")
    questions = {q["key"]: q for q in (version.check_in or {}).get("questions", [])}
    urgency_of = _sign_urgencies(version)
    unknown = sorted(str(key) for key in answers if key not in questions)
    if unknown:
        raise ValueError(f"answers.{unknown[0]}: not a question of this check-in")
    matched: list[str] = []
    for key, question in questions.items():  # the protocol's order
        if key not in answers:
            continue
        answer = answers[key]
        if question["kind"] == "scale":
            whole = isinstance(answer, int) and not isinstance(answer, bool)
            if not whole or not question["min"] <= answer <= question["max"]:
                raise ValueError(
                    f"answers.{key}: {answer!r} is not a whole number from {question['min']} to {question['max']}"
                )
            continue
        options = {o["key"]: o for o in question["options"]}
        if answer not in options:
            raise ValueError(f"answers.{key}: {answer!r} is not one of {', '.join(options)}")
        matched.extend(sign for sign in options[answer].get("signs", []) if sign not in matched)
    flags = [(sign, urgency_of[sign]) for sign in matched if sign in urgency_of]
    return sorted(flags, key=lambda flag: URGENCIES.index(flag[1]))


def check_in_reply(version, answers: Mapping, *, language: str = "") -> dict:
    """What the patient reads at once after answering: the most urgent action, or the all-clear.

    {"urgency": the most urgent of the red flags, or None; "message": that urgency's action
    (e.g. "Call emergency services now. ...") or the check-in's all-clear text;
    "red_flags": check_in_red_flags(...)}. Raises ValueError as check_in_red_flags does.
    """
    flags = check_in_red_flags(version, answers)
    if flags:
        urgency = flags[0][1]
        return {"urgency": urgency, "message": version.localized_urgency(urgency, language), "red_flags": flags}
    return {"urgency": None, "message": version.localized_check_in(language)["all_clear"], "red_flags": []}
