"""One step of a protocol file (an entry of `tasks:`), checked and turned into TaskDefinition fields."""

from __future__ import annotations

from checklists.models import Category
from checklists.protocol_files.common import (
    RECOVERY,
    _fail,
    _require_int,
    _require_str,
    _unknown,
    check_applies_if,
    phase_of,
)

TASK_REQUIRED = {"key", "category", "title", "instructions", "offset_days"}
TASK_OPTIONAL = {
    "why", "source_section", "window", "applies_if", "sub_items", "targets", "reminders", "translations",
    "min_lead_days", "lead_reason", "critical", "escalate_after_days", "stop", "stop_today", "shows_answers_of",
}
TRANSLATION_KEYS = {"title", "instructions", "why", "sub_items", "targets", "lead_reason", "stop_today"}
TARGET_KINDS = {
    "per_kg_range": {"key", "kind", "min", "max", "unit", "label"},
    "fixed": {"key", "kind", "value", "unit", "label"},
}
REMINDER_ANCHORS = {"window_start", "due"}

# When a definition names no reminder rules: when its window opens, the day before it is due, and on the day.
DEFAULT_REMINDER_RULES = [
    {"key": "window-opens", "anchor": "window_start", "offset_days": 0},
    {"key": "day-before", "anchor": "due", "offset_days": -1},
    {"key": "due-day", "anchor": "due", "offset_days": 0},
]




def validate_task(task, where: str) -> dict:
    """Check one task entry and return it normalised to the TaskDefinition fields."""
    if not isinstance(task, dict):
        _fail(where, "must be a mapping")
    missing = TASK_REQUIRED - task.keys()
    if missing:
        _fail(where, f"missing key(s) {', '.join(sorted(missing))}")
    _unknown(task.keys(), TASK_REQUIRED | TASK_OPTIONAL, where)
    _require_str(task["key"], f"{where}.key", max_length=80)
    if task["category"] not in Category.values:
        _fail(f"{where}.category", f"{task['category']!r} is not one of {', '.join(Category.values)}")
    _require_str(task["title"], f"{where}.title", max_length=200)
    _require_str(task["instructions"], f"{where}.instructions")
    if "source_section" in task:
        _require_str(task["source_section"], f"{where}.source_section", max_length=200)
    _require_int(task["offset_days"], f"{where}.offset_days")

    window_start = window_end = None
    if "window" in task:
        window = task["window"]
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            _fail(f"{where}.window", "must have exactly 'start' and 'end'")
        _require_int(window["start"], f"{where}.window.start")
        _require_int(window["end"], f"{where}.window.end")
        window_start, window_end = window["start"], window["end"]
        if window_start > window_end:
            _fail(f"{where}.window", f"start ({window_start}) is after end ({window_end})")
        if not window_start <= task["offset_days"] <= window_end:
            _fail(f"{where}.offset_days", f"{task['offset_days']} lies outside the window {window_start}..{window_end}")
        if phase_of(task["offset_days"]) == RECOVERY and window_start < 1:
            _fail(
                f"{where}.window",
                f"a recovery step's window must open after the surgery day, not on day {window_start}",
            )

    min_lead_days = task.get("min_lead_days")
    if "min_lead_days" in task:
        # How long before surgery the step must be done for its effect to be there on the day
        # (six weeks smoke-free, seven days off NSAIDs). Only preparation steps have one.
        m_where = f"{where}.min_lead_days"
        if not isinstance(min_lead_days, int) or isinstance(min_lead_days, bool) or min_lead_days < 0:
            _fail(m_where, f"must be a whole number of days, zero or more, not {min_lead_days!r}")
        if task["offset_days"] >= 0:
            _fail(m_where, "only steps due before the surgery day can have a minimum lead time")
        earliest = -(window_start if window_start is not None else task["offset_days"])
        if min_lead_days > earliest:
            _fail(m_where, f"{min_lead_days} days cannot be met: the step starts only {earliest} days before surgery")
        # What the patient is told when the lead time can no longer be met: the step's own reason.
        if "lead_reason" not in task:
            _fail(f"{where}.lead_reason", "a step with a min_lead_days needs the reason for it, in the patient's words")
        _require_str(task["lead_reason"], f"{where}.lead_reason")
    elif "lead_reason" in task:
        _fail(f"{where}.lead_reason", "only a step with a min_lead_days has a reason for it")

    critical = task.get("critical", False)
    if not isinstance(critical, bool):
        _fail(f"{where}.critical", f"must be true or false, not {critical!r}")
    escalate_after_days = task.get("escalate_after_days")
    if "escalate_after_days" in task:
        # Days a critical step may stay overdue before the care team is alerted.
        e_where = f"{where}.escalate_after_days"
        if not critical:
            _fail(e_where, "only a step marked critical: true can be escalated")
        if not isinstance(escalate_after_days, int) or isinstance(escalate_after_days, bool) or escalate_after_days < 0:
            _fail(e_where, f"must be a whole number of days, zero or more, not {escalate_after_days!r}")

    stop = task.get("stop", False)
    if not isinstance(stop, bool):
        _fail(f"{where}.stop", f"must be true or false, not {stop!r}")
    if stop:
        # A step that stops a medicine or a habit: once its planned day has passed (or its lead
        # time can no longer be met) it is due today, and the patient reads its stop_today text.
        if task["offset_days"] > 0:
            _fail(f"{where}.stop", "only a step before the surgery can be a stop that cannot wait")
        if "stop_today" not in task:
            _fail(f"{where}.stop_today", "a stop needs the words that tell the patient to stop today")
        _require_str(task["stop_today"], f"{where}.stop_today")
    elif "stop_today" in task:
        _fail(f"{where}.stop_today", "only a step marked stop: true has a stop_today text")

    shows_answers_of = task.get("shows_answers_of") or {}
    if "shows_answers_of" in task:
        # Another step's answers shown with this one (checked against that step by check_step_links).
        s_where = f"{where}.shows_answers_of"
        if not isinstance(shows_answers_of, dict) or set(shows_answers_of) != {"step", "keys"}:
            _fail(s_where, "must have exactly 'step' and 'keys'")
        _require_str(shows_answers_of["step"], f"{s_where}.step")
        keys = shows_answers_of["keys"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            _fail(f"{s_where}.keys", "must be a non-empty list of the other step's sub-item keys")
        if len(set(keys)) != len(keys):
            _fail(f"{s_where}.keys", "must not repeat a key")

    applies_if = check_applies_if(task.get("applies_if"), f"{where}.applies_if")

    sub_items = task.get("sub_items", []) or []
    sub_keys = []
    for i, item in enumerate(sub_items):
        item_where = f"{where}.sub_items[{i}]"
        if not isinstance(item, dict) or set(item) != {"key", "text"}:
            _fail(item_where, "must have exactly 'key' and 'text'")
        _require_str(item["key"], f"{item_where}.key")
        _require_str(item["text"], f"{item_where}.text")
        sub_keys.append(item["key"])
    if len(set(sub_keys)) != len(sub_keys):
        _fail(f"{where}.sub_items", "keys must be unique")

    targets = task.get("targets", []) or []
    target_keys = []
    for i, target in enumerate(targets):
        t_where = f"{where}.targets[{i}]"
        if not isinstance(target, dict) or target.get("kind") not in TARGET_KINDS:
            _fail(t_where, f"kind must be one of {', '.join(TARGET_KINDS)}")
        expected = TARGET_KINDS[target["kind"]]
        if set(target) != expected:
            _fail(t_where, f"needs exactly the keys {', '.join(sorted(expected))}")
        numbers = ("min", "max") if target["kind"] == "per_kg_range" else ("value",)
        for name in numbers:
            if not isinstance(target[name], (int, float)) or isinstance(target[name], bool) or target[name] <= 0:
                _fail(f"{t_where}.{name}", "must be a positive number")
        if target["kind"] == "per_kg_range" and target["min"] > target["max"]:
            _fail(t_where, "min is above max")
        target_keys.append(target["key"])

    reminders = task.get("reminders", DEFAULT_REMINDER_RULES)
    if not isinstance(reminders, list) or not reminders:
        _fail(f"{where}.reminders", "must be a non-empty list")
    for i, rule in enumerate(reminders):
        r_where = f"{where}.reminders[{i}]"
        if not isinstance(rule, dict) or set(rule) != {"key", "anchor", "offset_days"}:
            _fail(r_where, "needs exactly the keys anchor, key, offset_days")
        _require_str(rule["key"], f"{r_where}.key", max_length=40)
        if rule["anchor"] not in REMINDER_ANCHORS:
            _fail(f"{r_where}.anchor", f"must be one of {', '.join(sorted(REMINDER_ANCHORS))}")
        _require_int(rule["offset_days"], f"{r_where}.offset_days")
    rule_keys = [rule["key"] for rule in reminders]
    if len(set(rule_keys)) != len(rule_keys):
        _fail(f"{where}.reminders", "keys must be unique")

    translations = task.get("translations", {}) or {}
    for language, texts in translations.items():
        t_where = f"{where}.translations.{language}"
        if not isinstance(texts, dict):
            _fail(t_where, "must be a mapping")
        _unknown(texts.keys(), TRANSLATION_KEYS, t_where)
        for name in ("title", "instructions"):
            _require_str(texts.get(name), f"{t_where}.{name}")
        if "lead_reason" in task:
            _require_str(texts.get("lead_reason"), f"{t_where}.lead_reason")
        elif "lead_reason" in texts:
            _fail(f"{t_where}.lead_reason", "translates a reason the step does not have")
        if stop:
            _require_str(texts.get("stop_today"), f"{t_where}.stop_today")
        elif "stop_today" in texts:
            _fail(f"{t_where}.stop_today", "translates a stop_today text the step does not have")
        if sub_keys and set(texts.get("sub_items", {})) != set(sub_keys):
            _fail(f"{t_where}.sub_items", "must translate every sub-item key and no others")
        if target_keys and set(texts.get("targets", {})) != set(target_keys):
            _fail(f"{t_where}.targets", "must translate every target label and no others")

    return {
        "key": task["key"],
        "category": task["category"],
        "title": task["title"].strip(),
        "instructions": task["instructions"].strip(),
        "why": (task.get("why") or "").strip(),
        "source_section": task.get("source_section", ""),
        "offset_days": task["offset_days"],
        "window_start_days": window_start,
        "window_end_days": window_end,
        "applies_if": applies_if,
        "sub_items": sub_items,
        "targets": targets,
        "reminder_rules": reminders,
        "translations": translations,
        "min_lead_days": min_lead_days,
        "critical": critical,
        "escalate_after_days": escalate_after_days,
        "lead_reason": (task.get("lead_reason") or "").strip(),
        "stop": stop,
        "stop_today": (task.get("stop_today") or "").strip(),
        "shows_answers_of": shows_answers_of,
    }


def check_step_links(tasks: list[dict], *, where: str) -> None:
    """A step that shows another's answers (`shows_answers_of`) must be able to find them.

    The other step is one of this protocol's, due before this one, with those sub-items, and
    on the patient's list whenever this one is: each of its conditions is one of this step's.
    Works on the normalised steps (from a file, or a draft's definitions being published).
    """
    by_key = {task["key"]: task for task in tasks}
    for i, task in enumerate(tasks):
        link = task.get("shows_answers_of") or {}
        if not link:
            continue
        s_where = f"{where}[{i}].shows_answers_of"
        source = by_key.get(link["step"])
        if source is None or source is task:
            _fail(f"{s_where}.step", f"{link['step']!r} is not another step of this protocol")
        if source["offset_days"] >= task["offset_days"]:
            _fail(f"{s_where}.step", f"{source['key']} is due on day {source['offset_days']}, not before this step")
        known = {item["key"] for item in source["sub_items"]}
        missing = [key for key in link["keys"] if key not in known]
        if missing:
            _fail(f"{s_where}.keys", f"{', '.join(missing)}: not a sub-item of {source['key']}")
        for fact, wanted in (source["applies_if"] or {}).items():
            if (task["applies_if"] or {}).get(fact) != wanted:
                _fail(
                    f"{where}[{i}].applies_if",
                    f"must include {fact}: {str(wanted).lower()}, as {source['key']} does, "
                    "or its answers may not exist",
                )


